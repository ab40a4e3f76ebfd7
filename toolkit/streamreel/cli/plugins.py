"""pydantic's plugins, switched off while a command runs unless the user's environment says.

streamreel validates every provider chunk with pydantic, for itself: a validation plugin (an
observability SDK's, say) would trace each of them. Finding the plugins costs more than the
tracing: the first validator pydantic builds imports ``pydantic.plugin._loader``, which imports
``importlib.metadata`` (and with it ``email``, ``zipfile``, ``tempfile``...), and then scans every
installed distribution's entry points. In a fresh virtualenv that import alone is a sixth of a
one-chunk replay, whatever ``PYDANTIC_DISABLE_PLUGINS`` says, since the loader reads the switch
only once it is imported.

So while a command runs with the switch off, a stand-in holds the loader's place in
``sys.modules``: it answers the one question pydantic asks it (``get_plugins()``) as the real
loader would with the switch off, with no plugins, and hands any other name to the real loader,
which it then imports. It is put there only when nothing has imported the real loader yet, and
taken away when the command ends, so pydantic in the same process afterwards (a test that
invoked the command, a notebook) finds its plugins as before.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["SWITCH", "plugins_off"]

SWITCH = "PYDANTIC_DISABLE_PLUGINS"
_LOADER = "pydantic.plugin._loader"


class _NoPlugins(types.ModuleType):
    """The plugin loader's answer with plugins off, without importing the loader."""

    @staticmethod
    def get_plugins() -> tuple[()]:
        return ()

    def __getattr__(self, name: str) -> Any:
        # Dunders are the import system's questions about the module itself (``__path__``
        # says whether it is a package): not the loader's names.
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(_LOADER) is self:
            del sys.modules[_LOADER]
        return getattr(importlib.import_module(_LOADER), name)


@contextlib.contextmanager
def plugins_off() -> Iterator[None]:
    """Run a block without pydantic's plugins, unless the environment sets :data:`SWITCH`.

    A value the user set, even an empty one (which keeps plugins on), is theirs and is left as
    it is. Otherwise the switch and the stand-in loader are the block's own, undone when it
    ends.
    """
    if SWITCH in os.environ:
        yield
        return
    os.environ[SWITCH] = "__all__"
    stand_in = None
    if _LOADER not in sys.modules:
        stand_in = sys.modules[_LOADER] = _NoPlugins(_LOADER)
    try:
        yield
    finally:
        os.environ.pop(SWITCH, None)
        if stand_in is not None and sys.modules.get(_LOADER) is stand_in:
            del sys.modules[_LOADER]
