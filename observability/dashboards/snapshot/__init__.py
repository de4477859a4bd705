"""`obsctl snapshot`: the single pane rendered without Grafana (HTML, optional PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from observability.dashboards.snapshot.evaluate import TimeRange, evaluate
from observability.dashboards.snapshot.page import GAP, PAGE_WIDTH, ROW_H, render_page
from observability.dashboards.snapshot.png import screenshot
from observability.promapi import Prometheus

__all__ = ["SnapshotResult", "TimeRange", "take_snapshot"]


@dataclass(frozen=True)
class SnapshotResult:
    html: Path
    png: Path | None
    panels: int  # panels shown (rows are headings, not panels)
    empty: list[str]  # titles of panels with no data and no reason to be empty
    expected_empty: list[tuple[str, str]]  # (title, why) of panels empty as they should be


def _page_height(dashboard: Mapping) -> int:
    every = [*dashboard["panels"], *(c for p in dashboard["panels"] for c in p.get("panels", []))]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in every)  # collapsed rows open
    return bottom * (ROW_H + GAP) + 110


def take_snapshot(
    prometheus_url: str,
    dashboard: Mapping,
    tr: TimeRange,
    out_dir: Path,
    png: bool = False,
    scrape_interval: str = "15s",
    values: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> SnapshotResult:
    """`timeout`: seconds per Prometheus request (a hung or refused one raises PromError)."""
    with Prometheus(prometheus_url, timeout=timeout) as prom:
        prom.check_ready()
        data = evaluate(prom, dashboard, tr, scrape_interval, values)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = dashboard.get("uid", "dashboard")
    html_path = out_dir / f"{name}.html"
    html_path.write_text(render_page(dashboard, data, tr, prometheus_url, values), encoding="utf-8")
    png_path = None
    if png:
        png_path = out_dir / f"{name}.png"
        screenshot(html_path, png_path, PAGE_WIDTH + 40, _page_height(dashboard))
    empty = [d.panel["title"] for d in data if d.unexplained]
    expected = [(d.panel["title"], d.expected) for d in data if d.empty and d.expected]
    return SnapshotResult(html_path, png_path, len(data), empty, expected)
