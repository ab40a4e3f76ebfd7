"""Record modes: when to call the provider and when to answer from the cassette.

A module of its own, with nothing but the standard library under it, because the pytest plugin
offers the modes as choices in every pytest run and must not load the recorder to do so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from streamreel.core.errors import ConfigurationError

__all__ = ["RECORD_MODES", "RecordMode", "in_ci", "resolve_mode"]

_FALSE_VALUES: Final = frozenset({"", "0", "false", "no"})


class RecordMode(StrEnum):
    """When to record and when to replay; the values are vcrpy's."""

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"


def resolve_mode(
    mode: RecordMode | str | None, environ: Mapping[str, str] | None = None
) -> RecordMode:
    """The mode to use: the explicit one, else ``none`` under CI, else ``once``."""
    if mode is not None:
        try:
            return RecordMode(mode)
        except ValueError:
            names = ", ".join(m.value for m in RecordMode)
            raise ConfigurationError(
                f"cannot record: expected a mode among {names}, got {mode!r}; do pick one of those"
            ) from None
    return RecordMode.NONE if in_ci(environ) else RecordMode.ONCE


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``CI`` is set to anything but ``""``, ``0``, ``false`` or ``no``.

    The record mode, strict usage and the network guard all read it, so all three agree on
    what a CI run is.
    """
    env = os.environ if environ is None else environ
    return env.get("CI", "").strip().lower() not in _FALSE_VALUES


RECORD_MODES: Final = tuple(mode.value for mode in RecordMode)
"""The mode names, in the order help texts list them."""
