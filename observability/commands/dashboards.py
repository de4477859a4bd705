"""`obsctl dashboards push`: import the rendered dashboards into a running Grafana."""

from __future__ import annotations

from pathlib import Path

import typer

from observability.commands._common import ConfigOption, die, load_bundle, print_json
from observability.commands._http import TimeoutOption, check_url
from observability.kube import GRAFANA_DATASOURCE_UID

app = typer.Typer(help="Grafana dashboards: push to a running Grafana.", no_args_is_help=True)


@app.command("push")
def push(
    url: str = typer.Option(
        "", "--url", envvar="GRAFANA_URL", help="Grafana base URL, e.g. http://localhost:3000."
    ),
    token: str = typer.Option(
        "", "--token", envvar="GRAFANA_TOKEN", help="Service-account token (Editor)."
    ),
    user: str = typer.Option("", "--user", envvar="GRAFANA_USER", help="Basic-auth user."),
    password: str = typer.Option(
        "", "--password", envvar="GRAFANA_PASSWORD", help="Basic-auth password."
    ),
    datasource_uid: str = typer.Option(
        GRAFANA_DATASOURCE_UID,
        "--datasource-uid",
        help="uid of the Prometheus datasource to bind.",
    ),
    folder: str = typer.Option("", "--folder", help="Folder title (default: dashboards.folder)."),
    timeout: float = TimeoutOption(10.0, "each Grafana request"),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    config: Path = ConfigOption,
) -> None:
    """Import the dashboards into Grafana: create the folder, overwrite by uid."""
    from observability.dashboards import build_all
    from observability.dashboards.push import GrafanaAuth, PushError, push_dashboards

    if not url:
        die("no Grafana URL: pass --url or set GRAFANA_URL (e.g. http://localhost:3000)")
    url = check_url(url, "--url", "http://localhost:3000")
    if not token and not user:
        die("no credentials: pass --token (GRAFANA_TOKEN) or --user/--password")
    cfg = load_bundle(config)
    try:
        results = push_dashboards(
            url,
            GrafanaAuth(token or None, user or None, password or None),
            build_all(cfg),
            folder or cfg.dashboards.folder,
            datasource_uid=datasource_uid,
            timeout=timeout,
        )
    except PushError as err:
        die(str(err))
    if json_out:
        print_json([r.__dict__ for r in results])
        return
    for r in results:
        typer.echo(f"{r.status:9} {r.uid} ({r.title}) in folder {r.folder!r}: {r.url}")
