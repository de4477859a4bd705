"""`obsctl dashboards push` (being built: see its issue)."""

from __future__ import annotations

import typer

from observability.commands._common import die

app = typer.Typer(help="Grafana dashboards: push to a running Grafana.", no_args_is_help=True)


@app.command("push")
def push() -> None:
    """Import the dashboards into Grafana."""
    die("not built yet", 1)
