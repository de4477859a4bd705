"""`obsctl snapshot`: evaluate the single pane against any Prometheus, write HTML (+PNG)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import typer

from observability.commands._common import ConfigOption, die, load_bundle, print_json
from observability.commands._http import TimeoutOption, check_url
from observability.duration import DurationError, duration_seconds


def _is_duration(value: str) -> bool:
    try:
        return duration_seconds(value) > 0
    except DurationError:
        return False


def _parse_time(value: str, flag: str) -> float:
    """Unix seconds or ISO 8601 (`2025-01-31T12:00`, local time when no offset)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        die(f"{flag} {value!r} is neither unix seconds nor ISO 8601 (e.g. 2025-01-31T12:00)")


def _var_values(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in ("cluster", "namespace", "model_name", "pod"):
            die(
                f"--var {item!r}: use NAME=REGEX with NAME one of namespace, model_name, pod, cluster"
            )
        out[name] = value
    return out


def snapshot(
    prometheus_url: str = typer.Option(
        ..., "--prometheus-url", "-p", envvar="PROMETHEUS_URL", help="Prometheus base URL."
    ),
    range_: str = typer.Option("6h", "--range", help="Time range ending now (e.g. 30m, 6h, 1d)."),
    start: str = typer.Option("", "--start", help="Range start: unix seconds or ISO 8601."),
    end: str = typer.Option("", "--end", help="Range end (default now)."),
    out: Path = typer.Option(Path("snapshot"), "--out", help="Output directory."),
    png: bool = typer.Option(False, "--png", help="Also write a PNG via headless Chromium."),
    scrape_interval: str = typer.Option(
        "", "--scrape-interval", help="Scrape interval for $__rate_interval (default: bundle)."
    ),
    var: list[str] = typer.Option(
        [], "--var", help="Pin a variable, e.g. --var model_name=my-model (regex). Repeatable."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    timeout: float = TimeoutOption(10.0, "each Prometheus request"),
    dashboard_name: str = typer.Option(
        "single-pane",
        "--dashboard",
        help="Which shipped dashboard: single-pane, kv-cache-disaggregation or instance "
        "(dashboards/vllm-<name>.json).",
    ),
    config: Path = ConfigOption,
) -> None:
    """Render a shipped dashboard (default the single pane) to one self-contained HTML
    page (and PNG)."""
    from observability.dashboards import DASHBOARDS
    from observability.dashboards.exprs import UnknownVariable
    from observability.dashboards.snapshot import TimeRange, take_snapshot
    from observability.dashboards.snapshot.png import ChromiumMissing
    from observability.promapi import PromError

    prometheus_url = check_url(prometheus_url, "--prometheus-url")
    if not _is_duration(range_):
        die(f"--range {range_!r} is not a duration (use e.g. 30m, 6h, 1d)")
    cfg = load_bundle(config)
    t_end = _parse_time(end, "--end") if end else time.time()
    t_start = _parse_time(start, "--start") if start else t_end - duration_seconds(range_)
    if t_start >= t_end:
        die("--start must be before --end")
    scrape = scrape_interval or cfg.prometheus.scrape_interval
    if not _is_duration(scrape):
        die(f"--scrape-interval {scrape!r} is not a duration (e.g. 15s)")
    # Before the try below: die() raises typer.Exit, a RuntimeError, which it would catch.
    values = _var_values(var)
    from observability.dashboards.exprs import iter_panels

    builders = {n.removeprefix("vllm-").removesuffix(".json"): b for n, b in DASHBOARDS.items()}
    if dashboard_name not in builders:
        die(f"--dashboard {dashboard_name!r}: use one of {', '.join(builders)}")
    dashboard = builders[dashboard_name](cfg)
    n_panels = sum(1 for _ in iter_panels(dashboard))
    typer.echo(f"evaluating {n_panels} panels against {prometheus_url} ...", err=True)
    try:
        res = take_snapshot(
            prometheus_url,
            dashboard,
            TimeRange(t_start, t_end),
            out,
            png=png,
            scrape_interval=scrape,
            values=values,
            timeout=timeout,
        )
    except (PromError, UnknownVariable) as err:
        die(str(err))
    except ChromiumMissing as err:
        die(str(err))
    except RuntimeError as err:
        die(str(err), 1)
    except KeyboardInterrupt:
        die("interrupted; nothing written", 130)
    if json_out:
        print_json({k: (str(v) if isinstance(v, Path) else v) for k, v in res.__dict__.items()})
        return
    typer.echo(f"wrote {res.html}" + (f" and {res.png}" if res.png else ""))
    shown = res.panels - len(res.empty) - len(res.expected_empty)
    typer.echo(f"{shown} of {res.panels} panels show data")
    for title, why in res.expected_empty:
        typer.echo(f"  expected empty: {title}: {why}")
    if res.empty:
        typer.echo(f"{len(res.empty)} of {res.panels} panels had no data: {', '.join(res.empty)}")
