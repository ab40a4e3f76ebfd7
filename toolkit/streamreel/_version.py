"""The installed version, in a module of its own so that anything may read it without a cycle."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamreel")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
