"""`obsctl snapshot` (being built: see its issue)."""

from __future__ import annotations

from observability.commands._common import die


def snapshot() -> None:
    """Not built yet."""
    die("obsctl snapshot is not built yet", 1)
