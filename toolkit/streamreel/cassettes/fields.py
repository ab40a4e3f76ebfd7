"""The plain fields foreign cassette readers share, read with errors in the house form.

go-vcr and Ruby VCR (and HAR and nock for their entry lists) store the same few things the same
way: a list of entries whose faults must name the entry, header maps of name to a list of
values, and bodies that are text or, where the writer saw bytes that are not UTF-8, binary.
:class:`FieldReader` reads them for one format, naming it and its remedy in every error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from streamreel.core.errors import CassetteError, describe_value

__all__ = ["FieldReader", "each_located"]

_T = TypeVar("_T")


def each_located(items: list[Any], read: Callable[[Any], _T]) -> list[_T]:
    """``read`` applied to every item, in order; an error names the item as the interaction."""
    out: list[_T] = []
    for index, item in enumerate(items):
        try:
            out.append(read(item))
        except CassetteError as exc:
            exc.located(interaction=index)
            raise
    return out


class FieldReader:
    """Readers of one format's fields; ``label`` names the format, ``fix`` says what to do."""

    def __init__(self, label: str, fix: str) -> None:
        self.label = label
        self.fix = fix

    def fail(self, action: str, expected: str, got: object) -> CassetteError:
        return CassetteError(
            f"cannot {action}: expected {expected}, got {describe_value(got)}; {self.fix}"
        )

    def body(self, value: Any, where: str) -> bytes:
        """A body kept as text (UTF-8 on the wire) or as bytes (a binary tag); None is empty."""
        if value is None:
            return b""
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8", "surrogatepass")
        raise self.fail(f"read {self.label} {where}", "a string", value)

    def headers(self, raw: Any, where: str) -> dict[str, list[str]]:
        """A map of header names to a value or a list of values (bytes read as Latin-1)."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(
                f"read {self.label} {where}", "a mapping of names to lists of values", raw
            )
        headers: dict[str, list[str]] = {}
        for name, values in raw.items():
            text: list[str] = []
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, bytes):
                    value = value.decode("latin-1")
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    raise self.fail(
                        f"read {self.label} {where}", f"string values for {name!r}", values
                    )
                text.append(str(value))
            headers[name.decode("latin-1") if isinstance(name, bytes) else str(name)] = text
        return headers
