"""`obsctl sim` (being built: see its issue)."""

from __future__ import annotations

from observability.commands._common import die


def sim() -> None:
    """Not built yet."""
    die("obsctl sim is not built yet", 1)
