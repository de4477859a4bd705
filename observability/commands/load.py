"""`obsctl load` (being built: see its issue)."""

from __future__ import annotations

from observability.commands._common import die


def load() -> None:
    """Not built yet."""
    die("obsctl load is not built yet", 1)
