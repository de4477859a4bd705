"""`obsctl scenario list|run NAME` (being built: see its issue)."""

from __future__ import annotations

import typer

from observability.commands._common import die

app = typer.Typer(help="Named fault scenarios with measured alert timing.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List scenarios."""
    die("not built yet", 1)
