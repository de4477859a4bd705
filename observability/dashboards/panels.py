"""Panel specs and their grafanalib builders.

A `PanelSpec` is what a panel means (kind, title, unit, queries, thresholds); `build`
turns it into a grafanalib panel. Descriptions get the metrics each panel reads appended
automatically, so the text can never drift from the queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from grafanalib import core as g

from observability.dashboards.availability import no_data_note
from observability.dashboards.reads import families_read, recorded_sources

__all__ = [
    "COLORS",
    "FINISH_REASON_COLORS",
    "MODEL_LEVEL_PREFIX",
    "POD_NOTE",
    "PanelSpec",
    "Query",
    "build",
    "described_metrics",
    "families_read",
    "recorded_sources",
    "thresholds_high",
    "thresholds_low",
]

Kind = Literal["timeseries", "stat", "gauge", "table", "heatmap"]

# Named colours: one palette for thresholds and meaning-coloured series everywhere.
COLORS = {"ok": "green", "warning": "orange", "critical": "red", "info": "blue"}

# Finish reasons coloured by meaning: normal completions green/blue, failures red.
FINISH_REASON_COLORS: tuple[tuple[str, str], ...] = (
    ("stop", "green"),
    ("length", "blue"),
    ("repetition", "purple"),
    ("abort", "orange"),
    ("error", "red"),
)

DATASOURCE = "${datasource}"

# Recordings per (namespace, model_name) have no pod label: a panel on them ignores $pod.
MODEL_LEVEL_PREFIX = "namespace_model_name:"
POD_NOTE = "per-model recording rules, so the pod filter does not apply"


def described_metrics(metrics: list[str], sources: dict[str, tuple[str, ...]]) -> str:
    """`a, rec (recording rule over x, y)`: the tail of every panel description."""
    return ", ".join(
        f"{m} (recording rule over {', '.join(sources[m])})" if m in sources else m for m in metrics
    )


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    fmt: Literal["time_series", "heatmap", "table"] = "time_series"
    instant: bool = False


Thresholds = tuple[tuple[str, float | None], ...]


def thresholds_high(warning: float | None = None, critical: float | None = None) -> Thresholds:
    """Green below, orange from `warning`, red from `critical` (alert thresholds)."""
    steps: list[tuple[str, float | None]] = [(COLORS["ok"], None)]
    if warning is not None:
        steps.append((COLORS["warning"], warning))
    if critical is not None:
        steps.append((COLORS["critical"], critical))
    return tuple(steps)


def thresholds_low(low: float) -> Thresholds:
    """Red below `low`, green from it (e.g. GPU utilisation)."""
    return ((COLORS["critical"], None), (COLORS["ok"], low))


@dataclass(frozen=True)
class PanelSpec:
    kind: Kind
    title: str
    text: str  # what the panel shows and how to read it; metrics are appended
    unit: str
    queries: tuple[Query, ...]
    width: int = 8
    height: int = 8
    thresholds: Thresholds = ((COLORS["ok"], None),)
    min: float | None = None
    max: float | None = None
    stack: bool = False
    extra: dict = field(default_factory=dict)
    # series colour by meaning: (regex on the series' display name, Grafana colour name)
    colors: tuple[tuple[str, str], ...] = ()
    # table columns: label -> header ("Value" must be named); labels not listed are hidden
    columns: tuple[tuple[str, str], ...] = ()
    # table cell links: column label -> URL template (`${__value.raw}` is the cell)
    links: tuple[tuple[str, str], ...] = ()
    # shown instead of "No data" where emptiness is normal; default: from the families read
    no_data: str | None = None

    @property
    def metrics(self) -> list[str]:
        out: list[str] = []
        for q in self.queries:
            out += [m for m in families_read(q.expr) if m not in out]
        return out

    @property
    def no_data_text(self) -> str:
        """Why this panel may show no data on a supported vLLM ("" when it never should)."""
        if self.no_data is not None:
            return self.no_data
        return no_data_note(q.expr for q in self.queries)

    @property
    def description(self) -> str:
        text = self.text.rstrip(".")
        if any(m.startswith(MODEL_LEVEL_PREFIX) for m in self.metrics):
            text += f"; {POD_NOTE}"
        if note := self.no_data_text:
            text += f". {note.rstrip('.')}"
        return f"{text}. Metrics: {described_metrics(self.metrics, recorded_sources())}."


def _targets(spec: PanelSpec) -> list[g.Target]:
    return [
        g.Target(
            expr=q.expr,
            legendFormat=q.legend,
            refId=chr(ord("A") + i),
            format=q.fmt,
            instant=q.instant,
            datasource=DATASOURCE,
        )
        for i, q in enumerate(spec.queries)
    ]


def _steps(spec: PanelSpec) -> list[dict]:
    return [{"color": c, "value": v} for c, v in spec.thresholds]


def _field_defaults(spec: PanelSpec) -> dict:
    d: dict = {"unit": spec.unit, "thresholds": {"mode": "absolute", "steps": _steps(spec)}}
    low = spec.min
    if low is None and spec.kind == "timeseries":
        low = 0  # every quantity on the pane is non-negative: never a negative axis
    if low is not None:
        d["min"] = low
    if spec.max is not None:
        d["max"] = spec.max
    if note := spec.no_data_text:
        d["noValue"] = note
    return d


def _overrides(spec: PanelSpec) -> list[dict]:
    out = [
        {
            "matcher": {"id": "byRegexp", "options": regex},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
        }
        for regex, color in spec.colors
    ]
    out += [
        {
            "matcher": {"id": "byName", "options": dict(spec.columns).get(col, col)},
            "properties": [{"id": "links", "value": [{"title": col, "url": url}]}],
        }
        for col, url in spec.links
    ]
    return out


def _table_transformations(spec: PanelSpec) -> list[dict]:
    """Grafana's `organize`: only the listed columns, in order, with their headers."""
    if not spec.columns:
        return []
    names = [c for c, _ in spec.columns]
    return [
        {"id": "filterFieldsByName", "options": {"include": {"names": names}}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {},
                "indexByName": {c: i for i, c in enumerate(names)},
                "renameByName": dict(spec.columns),
            },
        },
    ]


def build(spec: PanelSpec, grid: g.GridPos, panel_id: int) -> g.Panel:
    common = dict(
        title=spec.title,
        description=spec.description,
        dataSource=DATASOURCE,
        targets=_targets(spec),
        gridPos=grid,
        id=panel_id,
    )
    if spec.kind == "timeseries":
        has_lines = len(spec.thresholds) > 1
        extra = {
            "fieldConfig": {
                "defaults": {
                    **_field_defaults(spec),
                    "custom": {
                        "thresholdsStyle": {"mode": "line" if has_lines else "off"},
                        "stacking": {"mode": "normal" if spec.stack else "none", "group": "A"},
                    },
                }
            },
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        }
        return g.TimeSeries(
            **common,
            unit=spec.unit,
            fillOpacity=10,
            showPoints="never",
            tooltipMode="multi",
            extraJson=_with_overrides(spec, _merge(extra, spec.extra)),
        )
    if spec.kind == "stat":
        return g.Stat(
            **common,
            format=spec.unit,
            graphMode="area",
            colorMode="background",
            reduceCalc="lastNotNull",
            thresholds=[],
            extraJson=_merge({"fieldConfig": {"defaults": _field_defaults(spec)}}, spec.extra),
        )
    if spec.kind == "gauge":
        return g.GaugePanel(
            **common,
            format=spec.unit,
            min=spec.min if spec.min is not None else 0,
            max=spec.max if spec.max is not None else 1,
            extraJson=_merge({"fieldConfig": {"defaults": _field_defaults(spec)}}, spec.extra),
        )
    if spec.kind == "table":
        extra = {"fieldConfig": {"defaults": _field_defaults(spec)}}
        if transformations := _table_transformations(spec):
            extra["transformations"] = transformations
        return g.Table(
            **common,
            unit=spec.unit,
            extraJson=_with_overrides(spec, _merge(extra, spec.extra)),
        )
    if spec.kind == "heatmap":
        extra = {
            "type": "heatmap",
            "fieldConfig": {"defaults": {"unit": spec.unit}},
            "options": {
                "calculate": False,
                "cellGap": 1,
                "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                "yAxis": {"unit": spec.unit, "axisPlacement": "left"},
                "rowsFrame": {"layout": "le"},
                "tooltip": {"show": True, "yHistogram": True},
                "legend": {"show": True},
            },
        }
        return g.Heatmap(**common, dataFormat="tsbuckets", extraJson=_merge(extra, spec.extra))
    raise ValueError(f"unknown panel kind {spec.kind!r}")


def _with_overrides(spec: PanelSpec, extra: dict) -> dict:
    if overrides := _overrides(spec):
        extra = _merge(extra, {"fieldConfig": {"overrides": overrides}})
    return extra


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
