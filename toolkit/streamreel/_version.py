"""The package's version, in a module of its own so that anything may read it without a cycle.

It is a literal, the one place the version is written: the build reads it from here
(``[tool.setuptools.dynamic]`` in pyproject.toml), so the installed metadata always agrees, and
importing it costs nothing (asking ``importlib.metadata`` cost every import of the package tens of
milliseconds).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
