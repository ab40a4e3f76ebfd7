"""The parser a replay runs through, named as text: ``MODULE:FACTORY`` or ``letta``.

Commands take it as an option and the pytest plugin as a command-line flag; reading it lives
here, below both, so that neither imports the other to share it (a command that replays should
not load the differ, and with it syrupy and pytest, to learn a parser's name).
"""

from __future__ import annotations

import importlib
from typing import Any

from streamreel.core.errors import ConfigurationError
from streamreel.core.parser import InterfaceSettings
from streamreel.playback.replay import ParserFactory

__all__ = ["load_factory"]


def _letta_at(spec: str) -> ParserFactory:
    """``letta@0.16.8`` or ``letta@0.16.8:INTERFACE``: Letta 0.16.8's SDK-stream interfaces."""
    from streamreel.letta import sdk

    version, _, interface = spec.removeprefix("letta@").partition(":")
    if version != sdk.VERSION:
        raise ConfigurationError(
            f"cannot load a parser: expected letta, letta@0.7.8 or letta@{sdk.VERSION}[:NAME], "
            f"got {spec!r}; do name one of those Letta versions"
        )
    chosen = interface or None
    # Checked now, so a wrong name or a missing virtualenv stops before any replay starts.
    sdk.LettaSdkInterface(chosen)

    def factory(settings: InterfaceSettings) -> Any:
        # Letta 0.16.8's adapter gives its interfaces no settings: they show the stream as is.
        return sdk.LettaSdkInterface(chosen)

    return factory


def load_factory(spec: str) -> ParserFactory:
    """The parser factory named ``MODULE:ATTRIBUTE`` (the attribute may be dotted), or ``letta``.

    The factory is called with the :class:`~streamreel.core.parser.InterfaceSettings` and returns an
    object with the streaming interface's methods. ``letta`` is Letta 0.7.8's own interface
    (:func:`streamreel.letta.real.letta_parser`), also ``letta@0.7.8``; ``letta@0.16.8`` is Letta
    0.16.8's SDK-stream interfaces, ``letta@0.16.8:NAME`` one of them by name (``anthropic``,
    ``openai``, ``responses``, ``gemini``). Naming one whose virtualenv is missing raises a
    :class:`ConfigurationError` that says what to run.
    """
    if spec in ("letta", "letta@0.7.8"):
        from streamreel.letta.real import letta_parser, require_letta

        require_letta()
        return letta_parser
    if spec.startswith("letta@"):
        return _letta_at(spec)
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(
            f"cannot load a parser: expected MODULE:FACTORY, got {spec!r}; "
            "do name a module and a callable in it, e.g. mypkg.parsers:make_parser, "
            "or the built-in letta"
        )
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot load a parser: expected an importable module, got {module_name!r} "
            f"({exc}); do check the name and that it is on sys.path"
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(
                f"cannot load a parser: expected {module_name} to define {attribute}, got no "
                f"attribute {part!r}; do check the name"
            ) from None
    if not callable(target):
        raise ConfigurationError(
            f"cannot load a parser: expected a callable at {spec}, got "
            f"{type(target).__name__}; do point at a function taking InterfaceSettings"
        )
    factory: ParserFactory = target
    return factory
