"""`obsctl verify`: check a live installation (or the local stack) hop by hop."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from observability.commands._common import EXIT_USAGE, ConfigOption, die, load_bundle, print_json
from observability.commands._http import check_url
from observability.verify import ClusterUnreachable, Options, check_ids, run_verify
from observability.verify.report import exit_code, print_table, to_json


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _local_urls(root: Path, prom: str | None, am: str | None) -> tuple[str, str | None]:
    """Explicit URLs win; otherwise the running `obsctl demo` stack's state file."""
    if prom:
        return prom, am
    from observability.local.state import STATE_DIR, read_state  # the [demo] extra (psutil)

    state = read_state(root / STATE_DIR)
    if not state:
        die(
            "--local needs --prometheus-url (and --alertmanager-url), or a running "
            "`obsctl demo` (no live demo state file found)"
        )
    return state.prometheus_url, am or state.alertmanager_url


def verify(
    config: Path = ConfigOption,
    context: str | None = typer.Option(None, "--context", help="kubeconfig context to use."),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", envvar="KUBECONFIG", help="kubeconfig file (default ~/.kube/config)."
    ),
    in_cluster: bool = typer.Option(
        False, "--in-cluster", help="Use the pod's service account (the CronJob does)."
    ),
    local: bool = typer.Option(
        False,
        "--local",
        help="Only the Prometheus/Alertmanager/metric checks, against explicit URLs or the "
        "running `obsctl demo` stack.",
    ),
    prometheus_url: str | None = typer.Option(
        None, "--prometheus-url", help="Prometheus base URL (default: API server proxy)."
    ),
    alertmanager_url: str | None = typer.Option(
        None, "--alertmanager-url", help="Alertmanager base URL (default: API server proxy)."
    ),
    grafana_url: str | None = typer.Option(
        None, "--grafana-url", help="Grafana base URL, e.g. a port-forward (default: proxy)."
    ),
    grafana_token: str | None = typer.Option(
        None,
        "--grafana-token",
        envvar="OBSCTL_GRAFANA_TOKEN",
        help="Grafana service-account token (default: the bundle's admin Secret).",
        show_default=False,
    ),
    only: list[str] | None = typer.Option(
        None, "--only", help="Run only these check ids or layers (comma-separated, repeatable)."
    ),
    skip: list[str] | None = typer.Option(
        None, "--skip", help="Skip these check ids or layers (comma-separated, repeatable)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on WARN too."),
    as_json: bool = typer.Option(False, "--json", help="Print every check as JSON."),
    timeout: float = typer.Option(
        10.0,
        "--timeout",
        min=0.5,
        max=3600,
        help="Seconds per check. An API server (or, with --local, a Prometheus) that refuses "
        "or does not answer within min(timeout/2, 5) s exits 2.",
    ),
    total_timeout: float = typer.Option(
        45.0, "--total-timeout", min=1.0, help="Seconds for the whole run."
    ),
    list_checks: bool = typer.Option(False, "--list", help="List check ids and exit."),
) -> None:
    """Walk every hop of the data path and print PASS/WARN/FAIL with evidence and fix.

    Exit 0 all pass, 1 a check failed (or warned, with --strict), 2 the Kubernetes API
    (or, with --local, Prometheus) cannot be reached or the usage is wrong.
    """
    if list_checks:
        for cid in check_ids(local):
            typer.echo(cid)
        return
    cfg = load_bundle(config)
    if local:
        prometheus_url, alertmanager_url = _local_urls(
            config.resolve().parent, prometheus_url, alertmanager_url
        )
    prometheus_url = prometheus_url and check_url(prometheus_url, "--prometheus-url")
    alertmanager_url = alertmanager_url and check_url(
        alertmanager_url, "--alertmanager-url", "http://127.0.0.1:9093"
    )
    grafana_url = grafana_url and check_url(grafana_url, "--grafana-url", "http://127.0.0.1:3000")
    http_timeout = max(0.5, min(5.0, timeout / 2))
    options = Options(
        prometheus_url=prometheus_url,
        alertmanager_url=alertmanager_url,
        grafana_url=grafana_url,
        grafana_token=grafana_token or os.environ.get("OBSCTL_GRAFANA_TOKEN"),
        local=local,
        http_timeout=http_timeout,
    )
    skips = _split(skip)
    if local and not alertmanager_url:
        skips += ["alertmanager.ready", "alerting"]
    try:
        run = run_verify(
            cfg,
            options,
            kubeconfig=kubeconfig,
            context=context,
            in_cluster=True if in_cluster else None,
            only=_split(only),
            skip=skips,
            check_timeout=timeout,
            total_timeout=total_timeout,
        )
    except ValueError as err:
        die(str(err), EXIT_USAGE)
    except ClusterUnreachable as err:
        die(str(err), EXIT_USAGE)
    if as_json:
        print_json(to_json(run.results, run.seconds, run.target))
    else:
        print_table(run.results, run.seconds, run.target, Console())
    raise typer.Exit(exit_code(run.results, strict))
