"""How counts are written in every message, report and display: "1 interaction", "2 chunks".

One function, so that no printed count says "1 interactions" (and snapshot files, reports and
notebook outputs that contain counts agree with each other).
"""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, one: str, many: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one: ``counted(1, "chunk")`` is "1 chunk"."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
