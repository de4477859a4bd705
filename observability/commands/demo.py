"""`obsctl demo` (being built: see its issue)."""

from __future__ import annotations

from observability.commands._common import die


def demo() -> None:
    """Not built yet."""
    die("obsctl demo is not built yet", 1)
