"""Evaluate every panel's queries over a time range, as Grafana would."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from observability.dashboards.availability import expected_empty
from observability.dashboards.check import present_families
from observability.dashboards.exprs import iter_panels, substitute, template_values
from observability.duration import duration_seconds
from observability.promapi import Prometheus

__all__ = [
    "Annotation",
    "PanelData",
    "Series",
    "TimeRange",
    "annotations",
    "evaluate",
    "format_legend",
    "rate_interval",
]

POINTS = 120  # per series, about what a half-width Grafana panel requests


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float

    @property
    def step(self) -> float:
        return max(math.ceil((self.end - self.start) / POINTS), 1)


@dataclass(frozen=True)
class Series:
    label: str
    labels: dict[str, str]
    times: list[float]
    values: list[float]


@dataclass(frozen=True)
class Annotation:
    """One firing span of an alert (the dashboard's ALERTS annotation)."""

    title: str
    start: float
    end: float
    severity: str = ""


@dataclass
class PanelData:
    panel: dict
    series: list[Series] = field(default_factory=list)
    stat: float | None = None  # stat/gauge: last value of the first series
    queries: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected: str | None = None  # empty, and why that is normal here (the panel says so)
    annotations: list[Annotation] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.series and self.stat is None

    @property
    def unexplained(self) -> bool:
        return self.empty and self.expected is None


def rate_interval(step: float, scrape_interval: str) -> str:
    """Grafana's `$__rate_interval`: max(step + scrape interval, 4 x scrape interval)."""
    scrape = duration_seconds(scrape_interval)
    return f"{int(max(step + scrape, 4 * scrape))}s"


def format_legend(legend: str, labels: Mapping[str, str]) -> str:
    if not legend:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return "{" + inner + "}" if inner else "value"
    out = legend
    for k, v in labels.items():
        out = out.replace("{{" + k + "}}", v).replace("{{ " + k + " }}", v)
    return out


def _floats(values: list) -> tuple[list[float], list[float]]:
    ts, vs = [], []
    for t, v in values:
        f = float(v)
        if math.isfinite(f):
            ts.append(float(t))
            vs.append(f)
    return ts, vs


def evaluate(
    prom: Prometheus,
    dashboard: Mapping,
    tr: TimeRange,
    scrape_interval: str = "15s",
    values: Mapping[str, str] | None = None,
) -> list[PanelData]:
    window = rate_interval(tr.step, scrape_interval)
    rng = f"{int(tr.end - tr.start)}s"
    variables = template_values(dashboard, values)
    present = present_families(prom, tr.start, tr.end, variables)
    marks = annotations(prom, dashboard, tr, variables)
    out = []
    for panel in iter_panels(dashboard):
        data = PanelData(panel)
        if panel["type"] == "timeseries":
            data.annotations = marks
        for target in panel.get("targets", []):
            expr = substitute(target["expr"], variables, rate_interval=window, range_=rng)
            data.queries.append(expr)
            legend = target.get("legendFormat", "")
            if target.get("instant") or panel["type"] in ("stat", "gauge"):
                result = prom.query(expr, tr.end)
                for s in result:
                    v = float(s["value"][1])
                    data.series.append(
                        Series(format_legend(legend, s["metric"]), s["metric"], [tr.end], [v])
                    )
                if panel["type"] in ("stat", "gauge") and data.series:
                    data.stat = data.series[0].values[0]
                # Stats keep a sparkline too, like Grafana's graphMode=area.
                if panel["type"] == "stat":
                    spark = prom.query_range(expr, tr.start, tr.end, tr.step)
                    data.series = [
                        Series("", s["metric"], *_floats(s["values"])) for s in spark[:1]
                    ]
                continue
            for s in prom.query_range(expr, tr.start, tr.end, tr.step):
                ts, vs = _floats(s["values"])
                if ts:
                    data.series.append(
                        Series(format_legend(legend, s["metric"]), s["metric"], ts, vs)
                    )
        if data.empty:
            whys = [expected_empty(t["expr"], present.__contains__) for t in panel["targets"]]
            if whys and all(whys):
                data.expected = "; ".join(dict.fromkeys(str(w) for w in whys))
        out.append(data)
    return out


def annotations(
    prom: Prometheus, dashboard: Mapping, tr: TimeRange, variables: Mapping[str, str]
) -> list[Annotation]:
    """Firing spans of the dashboard's Prometheus annotations over the range."""
    out: list[Annotation] = []
    for ann in dashboard.get("annotations", {}).get("list", []):
        expr = ann.get("expr")
        if not expr or not ann.get("enable", True):
            continue
        step = max(tr.step, duration_seconds(ann.get("step", "60s")))
        expr = substitute(expr, variables)
        for s in prom.query_range(expr, tr.start, tr.end, step):
            times = [float(t) for t, _ in s["values"]]
            title = format_legend(ann.get("titleFormat", ""), s["metric"]) or "alert"
            begin = prev = times[0] if times else None
            for t in [*times[1:], None]:
                if t is None or prev is None or t - prev > step * 1.5:
                    if begin is not None and prev is not None:
                        sev = s["metric"].get("severity", "")
                        out.append(Annotation(title, begin, prev + step, sev))
                    begin = t
                prev = t
    return out
