"""`obsctl lint` (being built: see its issue)."""

from __future__ import annotations

from observability.commands._common import die


def lint() -> None:
    """Not built yet."""
    die("obsctl lint is not built yet", 1)
