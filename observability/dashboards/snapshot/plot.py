"""matplotlib charts as inline SVG strings, styled close to Grafana's dark theme."""

from __future__ import annotations

import io
import math
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator

from observability.dashboards.snapshot.evaluate import PanelData
from observability.dashboards.snapshot.units import fmt

__all__ = [
    "BG",
    "FG",
    "PALETTE",
    "heatmap_svg",
    "legend_entries",
    "sparkline_svg",
    "timeseries_svg",
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
THRESHOLD_COLORS = {"green": "#73bf69", "orange": "#ff9830", "red": "#f2495c", "blue": "#5794f2"}
DPI = 96
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


def _axes(width_px: int, height_px: int):
    fig, ax = plt.subplots(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    ax.grid(True, color=GRID, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    return fig, ax


def legend_entries(data: PanelData) -> list[tuple[str, str]]:
    """(colour, label) per plotted series, in plotting order; the page draws the legend."""
    series = sorted(data.series, key=lambda s: s.label)[:MAX_SERIES]
    return [(PALETTE[i % len(PALETTE)], s.label) for i, s in enumerate(series)]


def timeseries_svg(data: PanelData, width_px: int, height_px: int) -> str:
    panel = data.panel
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit = defaults.get("unit", "short")
    fig, ax = _axes(width_px, height_px)
    stacked = defaults.get("custom", {}).get("stacking", {}).get("mode") == "normal"
    series = sorted(data.series, key=lambda s: s.label)[:MAX_SERIES]
    if stacked and series:
        import numpy as np

        times = sorted({t for s in series for t in s.times})
        grid = np.array(
            [
                [dict(zip(s.times, s.values, strict=False)).get(t, 0.0) for t in times]
                for s in series
            ]
        )
        ax.stackplot(
            _dates(times), grid, labels=[s.label for s in series], colors=PALETTE, alpha=0.6
        )
    else:
        for i, s in enumerate(series):
            ax.plot(
                _dates(s.times), s.values, label=s.label, color=PALETTE[i % len(PALETTE)], lw=1.2
            )
    style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode")
    if style == "line":
        for step in defaults.get("thresholds", {}).get("steps", [])[1:]:
            ax.axhline(
                step["value"],
                color=THRESHOLD_COLORS.get(step["color"], step["color"]),
                ls="--",
                lw=0.9,
            )
    if "min" in defaults:
        ax.set_ylim(bottom=defaults["min"])
    if "max" in defaults:
        ax.set_ylim(top=defaults["max"])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(v, unit)))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    locator = mdates.AutoDateLocator(maxticks=max(3, width_px // 90))
    ax.xaxis.set_major_locator(locator)
    fig.tight_layout(pad=0.4)
    return _svg(fig)


def heatmap_svg(data: PanelData, width_px: int, height_px: int) -> str:
    """Grafana-style bucket heatmap: per-bucket rate from cumulative `le` series."""
    import numpy as np

    unit = data.panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    by_le = {}
    for s in data.series:
        le = s.labels.get("le")
        if le is not None:
            by_le[float(le)] = dict(zip(s.times, s.values, strict=False))
    fig, ax = _axes(width_px, height_px)
    if by_le:
        edges = sorted(by_le)
        times = sorted({t for d in by_le.values() for t in d})
        cum = np.array([[by_le[e].get(t, 0.0) for t in times] for e in edges])
        per_bucket = np.clip(np.diff(np.vstack([np.zeros(len(times)), cum]), axis=0), 0, None)
        keep = per_bucket.sum(axis=1) > 0  # only rows that ever had observations
        if keep.any():
            lo, hi = int(np.argmax(keep)), len(keep) - int(np.argmax(keep[::-1]))
            rows = per_bucket[lo:hi]
            labels = [fmt(e, unit) if math.isfinite(e) else "+Inf" for e in edges[lo:hi]]
            ax.pcolormesh(
                np.arange(len(times) + 1),
                np.arange(len(labels) + 1),
                rows,
                cmap="Oranges",
                shading="flat",
            )
            ax.set_yticks(np.arange(len(labels)) + 0.5, labels)
            idx = np.linspace(0, len(times) - 1, num=min(6, len(times))).astype(int)
            ax.set_xticks(
                idx + 0.5, [datetime.fromtimestamp(times[i]).strftime("%H:%M") for i in idx]
            )
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
