"""matplotlib charts as inline SVG strings, styled close to Grafana's dark theme."""

from __future__ import annotations

import io
import math
import re
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator

from observability.dashboards.snapshot.evaluate import PanelData, Series
from observability.dashboards.snapshot.units import fmt

__all__ = [
    "BG",
    "FG",
    "PALETTE",
    "heatmap_svg",
    "legend_entries",
    "sparkline_svg",
    "strip_common",
    "styled_series",
    "timeseries_svg",
    "y_top",
]

BG = "#181b1f"
FG = "#ccccdc"
GRID = "#2c3235"
PALETTE = [
    "#73bf69",
    "#f2cc0c",
    "#8ab8ff",
    "#ff780a",
    "#f2495c",
    "#5794f2",
    "#b877d9",
    "#705da0",
    "#37872d",
    "#fade2a",
    "#447ebc",
    "#c15c17",
    "#890f02",
    "#0a437c",
]
THRESHOLD_COLORS = {
    "green": "#73bf69",
    "orange": "#ff9830",
    "red": "#f2495c",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "yellow": "#fade2a",
}
DPI = 96
_DASHES = ("-", "--", ":", "-.")
MAX_SERIES = 16  # more lines than this is unreadable in a half-width panel

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # keep text as text: small files, crisp in the browser
        "font.size": 8,
        "font.family": "sans-serif",
        "axes.edgecolor": GRID,
        "axes.labelcolor": FG,
        "xtick.color": FG,
        "ytick.color": FG,
        "text.color": FG,
    }
)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", facecolor=BG, transparent=False)
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _dates(ts: list[float]) -> list[datetime]:
    return [datetime.fromtimestamp(t) for t in ts]


def _time_format(span_s: float) -> str:
    """Tick labels that differ at this range: seconds under 10 min, dates over 2 days."""
    if span_s < 600:
        return "%H:%M:%S"
    if span_s <= 2 * 86400:
        return "%H:%M"
    return "%m-%d %H:%M"


def _axes(width_px: int, height_px: int, span_s: float = 3600):
    fig, ax = plt.subplots(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    ax.grid(True, color=GRID, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_formatter(mdates.DateFormatter(_time_format(span_s)))
    return fig, ax


def strip_common(labels: list[str]) -> list[str]:
    """Drop the words every label shares (a model name on a one-model selection, a
    `namespace/` prefix), so series differ visibly in a narrow legend; never to nothing."""
    if len(labels) < 2:
        return labels
    split = [lbl.split() for lbl in labels]
    common = set(split[0]).intersection(*map(set, split[1:]))
    out = []
    for words, lbl in zip(split, labels, strict=True):
        kept = [w for w in words if w not in common]
        out.append(" ".join(kept) if kept else lbl)
    if len(set(out)) != len(set(labels)):
        return labels
    # `org/Model-Name` -> `Model-Name` where that keeps the series apart
    short = [" ".join(w.rsplit("/", 1)[-1] for w in lbl.split()) for lbl in out]
    return short if len(set(short)) == len(set(out)) else out


def _override_colors(panel: dict) -> list[tuple[re.Pattern[str], str]]:
    out = []
    for o in panel.get("fieldConfig", {}).get("overrides", []):
        m = o.get("matcher", {})
        for prop in o.get("properties", []):
            if prop.get("id") != "color":
                continue
            color = prop.get("value", {}).get("fixedColor", "")
            color = THRESHOLD_COLORS.get(color, color)
            if m.get("id") == "byRegexp":
                out.append((re.compile(m["options"]), color))
            elif m.get("id") == "byName":
                out.append((re.compile(f"^{re.escape(m['options'])}$"), color))
    return out


def styled_series(data: PanelData) -> list[tuple[Series, str, str]]:
    """(series, colour, legend label) in plotting order: colours by meaning where the
    panel overrides them, else the palette; labels without their shared words."""
    series = sorted(data.series, key=lambda s: s.label)[:MAX_SERIES]
    rules = _override_colors(data.panel)
    out, i = [], 0
    for s, label in zip(series, strip_common([s.label for s in series]), strict=True):
        color = next((c for rx, c in rules if rx.search(s.label)), None)
        if color is None:
            color = PALETTE[i % len(PALETTE)]
            i += 1
        out.append((s, color, label))
    return out


def legend_entries(data: PanelData) -> list[tuple[str, str, str]]:
    """(colour, dash pattern, label) per plotted series, in plotting order; the page draws
    the legend (a repeated meaning colour gets the next dash pattern, as on the chart)."""
    seen: dict[str, int] = {}
    out = []
    for _, c, label in styled_series(data):
        out.append((c, _DASHES[seen.get(c, 0) % len(_DASHES)], label))
        seen[c] = seen.get(c, 0) + 1
    return out


def _span(data: PanelData) -> float:
    times = [t for s in data.series for t in s.times]
    return (max(times) - min(times)) if times else 3600.0


def y_top(data_max: float, thresholds: list[float], panel_max: float | None) -> float:
    """The y-axis top: the data sets the scale, as in Grafana (15% headroom, capped by the
    panel's max). All-zero data shows up to the lowest threshold, so "0, far below the
    line" reads at a glance; thresholds above the top are named, not drawn."""
    if data_max > 0:
        upper = data_max * 1.15
    elif thresholds:
        upper = min(thresholds) * 1.15
    else:
        upper = 1.0
    return min(upper, panel_max) if panel_max is not None else upper


def timeseries_svg(
    data: PanelData, width_px: int, height_px: int, span: tuple[float, float] | None = None
) -> str:
    panel = data.panel
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit = defaults.get("unit", "short")
    lo_t, hi_t = span if span else (None, None)
    fig, ax = _axes(width_px, height_px, (hi_t - lo_t) if span else _span(data))
    stacked = defaults.get("custom", {}).get("stacking", {}).get("mode") == "normal"
    styled = styled_series(data)
    top = 0.0
    if stacked and styled:
        import numpy as np

        times = sorted({t for s, _, _ in styled for t in s.times})
        grid = np.array(
            [
                [dict(zip(s.times, s.values, strict=False)).get(t, 0.0) for t in times]
                for s, _, _ in styled
            ]
        )
        ax.stackplot(_dates(times), grid, colors=[c for _, c, _ in styled], alpha=0.6)
        top = float(grid.sum(axis=0).max()) if grid.size else 0.0
    else:
        seen: dict[str, int] = {}
        for s, color, _ in styled:
            # series sharing a meaning colour (abort of two models) differ by dash pattern
            style = _DASHES[seen.get(color, 0) % len(_DASHES)]
            seen[color] = seen.get(color, 0) + 1
            ax.plot(_dates(s.times), s.values, color=color, lw=1.2, ls=style)
            top = max([top, *s.values])
    low = defaults.get("min")
    high = defaults.get("max")
    steps = defaults.get("thresholds", {}).get("steps", [])[1:]
    lines = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode") == "line"
    upper = y_top(top, [st["value"] for st in steps] if lines else [], high)
    ax.set_ylim(bottom=low if low is not None else None, top=upper)
    if lines:
        above = []
        for step in steps:
            color = THRESHOLD_COLORS.get(step["color"], step["color"])
            if step["value"] <= upper:
                ax.axhline(step["value"], color=color, ls="--", lw=0.9)
            else:
                above.append((step["value"], color))
        if above:
            text = "  ".join(f"▲ {fmt(v, unit)}" for v, _ in above)
            ax.text(
                0.99,
                0.97,
                text,
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
                color=above[0][1],
            )
    for a in data.annotations:
        ax.axvspan(
            datetime.fromtimestamp(a.start),
            datetime.fromtimestamp(a.end),
            color=THRESHOLD_COLORS["red"]
            if a.severity == "critical"
            else THRESHOLD_COLORS["orange"],
            alpha=0.12,
            lw=0,
        )
    if span:
        ax.set_xlim(datetime.fromtimestamp(lo_t), datetime.fromtimestamp(hi_t))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v, unit)))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=max(3, width_px // 110))
    ax.xaxis.set_major_locator(locator)
    fig.tight_layout(pad=0.4)
    return _svg(fig)


def heatmap_svg(
    data: PanelData, width_px: int, height_px: int, span: tuple[float, float] | None = None
) -> str:
    """Grafana-style bucket heatmap: per-bucket rate from cumulative `le` series."""
    import numpy as np

    unit = data.panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    by_le = {}
    for s in data.series:
        le = s.labels.get("le")
        if le is not None:
            by_le[float(le)] = dict(zip(s.times, s.values, strict=False))
    times_all = sorted({t for d in by_le.values() for t in d})
    lo_t, hi_t = span if span else (times_all[0], times_all[-1]) if times_all else (0.0, 1.0)
    fig, ax = _axes(width_px, height_px, hi_t - lo_t)
    if by_le:
        edges = sorted(by_le)
        times = times_all
        cum = np.array([[by_le[e].get(t, 0.0) for t in times] for e in edges])
        per_bucket = np.clip(np.diff(np.vstack([np.zeros(len(times)), cum]), axis=0), 0, None)
        keep = per_bucket.sum(axis=1) > 0  # only rows that ever had observations
        if keep.any():
            lo, hi = int(np.argmax(keep)), len(keep) - int(np.argmax(keep[::-1]))
            rows = per_bucket[lo:hi]
            labels = [fmt(e, unit) if math.isfinite(e) else "+Inf" for e in edges[lo:hi]]
            # cells on the real time axis: a column per sample, as wide as the step
            step = (times[1] - times[0]) if len(times) > 1 else 15.0
            x = mdates.date2num(_dates([*times, times[-1] + step]))
            ax.pcolormesh(x, np.arange(len(labels) + 1), rows, cmap="Oranges", shading="flat")
            ax.set_yticks(np.arange(len(labels)) + 0.5, labels)
    ax.set_xlim(datetime.fromtimestamp(lo_t), datetime.fromtimestamp(hi_t))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=max(3, width_px // 110)))
    ax.grid(False)
    fig.tight_layout(pad=0.4)
    return _svg(fig)


def sparkline_svg(data: PanelData, width_px: int, height_px: int, color: str) -> str:
    fig = plt.figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    fig.patch.set_alpha(0)
    if data.series and data.series[0].values:
        s = data.series[0]
        ax.fill_between(s.times, s.values, color="white", alpha=0.18, lw=0)
        ax.plot(s.times, s.values, color="white", alpha=0.5, lw=1)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", transparent=True)
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]
