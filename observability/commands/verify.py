"""`obsctl verify` (being built: see its issue)."""

from __future__ import annotations

from observability.commands._common import die


def verify() -> None:
    """Not built yet."""
    die("obsctl verify is not built yet", 1)
