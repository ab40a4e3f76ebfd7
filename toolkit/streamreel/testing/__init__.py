"""For test suites: the pytest plugin, syrupy extensions, diffs, the fuzzer, Hypothesis
strategies."""
