"""The pytest plugin streamreel registers (entry point ``pytest11``)."""
