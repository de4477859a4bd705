"""One self-contained HTML page laid out on the dashboard's own 24-column grid."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime

from observability.dashboards.snapshot.evaluate import PanelData, TimeRange
from observability.dashboards.snapshot.plot import (
    BG,
    FG,
    THRESHOLD_COLORS,
    heatmap_svg,
    legend_entries,
    sparkline_svg,
    timeseries_svg,
)
from observability.dashboards.snapshot.units import fmt

__all__ = ["PAGE_WIDTH", "middle_ellipsis", "render_page"]

PAGE_WIDTH = 1680  # px of grid content
COLS, ROW_H, GAP = 24, 30, 8
TITLE_H = 26  # panel header
LEGEND_ROW_H = 15


def _col_px(w: int) -> int:
    col = (PAGE_WIDTH - (COLS - 1) * GAP) / COLS
    return int(w * col + (w - 1) * GAP)


def _row_px(h: int) -> int:
    return h * ROW_H + (h - 1) * GAP


def _threshold_color(panel: dict, value: float | None) -> str:
    steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
    color = steps[0]["color"] if steps else "green"
    for s in steps[1:]:
        if value is not None and value >= s["value"]:
            color = s["color"]
    return THRESHOLD_COLORS.get(color, color)


def _stat(d: PanelData, w: int, h: int) -> str:
    unit = d.panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    color = _threshold_color(d.panel, d.stat) if d.stat is not None else "#2c3235"
    spark = sparkline_svg(d, w, max(h - 40, 20), color)
    return (
        f'<div class="stat" style="background:{color}">'
        f'<div class="spark">{spark}</div>'
        f'<div class="value">{html.escape(fmt(d.stat, unit))}</div></div>'
    )


def _columns(panel: dict) -> tuple[list[str], dict[str, str]]:
    """(columns in order, header per column) from the panel's filter/organize
    transformations, as Grafana shows them; without any: every label, then Value."""
    names: list[str] = []
    rename: dict[str, str] = {}
    for t in panel.get("transformations", []):
        opts = t.get("options", {})
        if t.get("id") == "filterFieldsByName":
            names = list(opts.get("include", {}).get("names", []))
        elif t.get("id") == "organize":
            rename = dict(opts.get("renameByName", {}))
            order = opts.get("indexByName", {})
            names = sorted(names, key=lambda n: order.get(n, len(order)))
    return names, rename


def _links(panel: dict) -> dict[str, str]:
    """Column -> URL template (Grafana data links set by a byName override)."""
    out = {}
    for o in panel.get("fieldConfig", {}).get("overrides", []):
        if o.get("matcher", {}).get("id") != "byName":
            continue
        for prop in o.get("properties", []):
            if prop.get("id") == "links" and prop.get("value"):
                out[o["matcher"]["options"]] = prop["value"][0]["url"]
    return out


def _table(d: PanelData) -> str:
    unit = d.panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
    if not d.series:
        return _no_data(d)
    names, rename = _columns(d.panel)
    # as Grafana: a listed column no row has (no series carries that label) is not shown
    names = [c for c in names if c == "Value" or any(c in s.labels for s in d.series)]
    if not names:
        names = [*sorted({k for s in d.series for k in s.labels if k != "__name__"}), "Value"]
    links = {c: url for c, url in _links(d.panel).items()}
    head = "".join(f"<th>{html.escape(rename.get(c, c))}</th>" for c in names)
    rows = []
    for s in sorted(d.series, key=lambda s: [s.labels.get(c, "") for c in names]):
        cells = []
        for c in names:
            text = fmt(s.values[-1], unit) if c == "Value" else s.labels.get(c, "")
            cell = html.escape(text)
            url = links.get(rename.get(c, c)) or links.get(c)
            if url and text:
                href = html.escape(url.replace("${__value.raw}", text), quote=True)
                cell = f'<a href="{href}">{cell}</a>'
            cells.append(f"<td>{cell}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _no_data(d: PanelData) -> str:
    if d.expected:
        return f'<div class="nodata expected">{html.escape(d.expected)}</div>'
    return '<div class="nodata unexplained">No data</div>'


LEGEND_CHARS = 40  # what a 250 px legend entry holds at 11 px


def middle_ellipsis(label: str, limit: int) -> str:
    """Cut long labels in the middle: pod names differ in their tail (hash suffix)."""
    if len(label) <= limit:
        return label
    keep = (limit - 1) // 2
    return f"{label[:keep]}…{label[-keep:]}"


def _swatch(color: str, dash: str) -> str:
    if dash == "-":
        return f"background:{color}"
    border = "dashed" if dash in ("--", "-.") else "dotted"
    return f"background:none;border-top:2px {border} {color};height:0"


def _body(d: PanelData, w: int, h: int, tr: TimeRange) -> str:
    kind = d.panel["type"]
    if kind in ("stat", "gauge"):
        return _stat(d, w, h)
    if kind == "table":
        return _table(d)
    if d.empty:
        return _no_data(d)
    if kind == "heatmap":
        return heatmap_svg(d, w, h, (tr.start, tr.end))
    entries = legend_entries(d)
    per_row = max(1, w // 260)
    rows = min(3, -(-len(entries) // per_row))
    legend = "".join(
        f'<span title="{html.escape(label)}"><i style="{_swatch(c, dash)}"></i>'
        f"{html.escape(middle_ellipsis(label, LEGEND_CHARS))}</span>"
        for c, dash, label in entries
    )
    return (
        timeseries_svg(d, w, h - rows * LEGEND_ROW_H - 4, (tr.start, tr.end))
        + f'<div class="legend" style="height:{rows * LEGEND_ROW_H}px">{legend}</div>'
    )


def _panel(d: PanelData, tr: TimeRange) -> str:
    g = d.panel["gridPos"]
    w, h = _col_px(g["w"]), _row_px(g["h"]) - TITLE_H
    style = f"grid-column:{g['x'] + 1}/span {g['w']};grid-row:{g['y'] + 1}/span {g['h']}"
    title = html.escape(d.panel["title"])
    desc = html.escape(d.panel.get("description", ""))
    queries = html.escape("\n\n".join(d.queries))
    return (
        f'<section class="panel" style="{style}" title="{desc}">'
        f'<h3>{title}</h3><div class="body">{_body(d, w, h, tr)}</div>'
        f"<details><summary>queries</summary><pre>{queries}</pre></details></section>"
    )


def _row(panel: dict) -> str:
    g = panel["gridPos"]
    return (
        f'<h2 class="row" style="grid-column:1/span {COLS};grid-row:{g["y"] + 1}/span 1">'
        f"{html.escape(panel['title'])}</h2>"
    )


CSS = f"""
body{{background:#111217;color:{FG};font:13px -apple-system,'Segoe UI',Roboto,sans-serif;margin:16px}}
header{{width:{PAGE_WIDTH}px;display:flex;justify-content:space-between;align-items:baseline}}
header h1{{font-size:20px;margin:0 0 4px}} header p{{margin:0;color:#8e8e9e}}
.grid{{display:grid;width:{PAGE_WIDTH}px;grid-template-columns:repeat({COLS},1fr);
grid-auto-rows:{ROW_H}px;gap:{GAP}px;margin-top:12px}}
.panel{{background:{BG};border:1px solid #2c3235;border-radius:3px;overflow:hidden;
display:flex;flex-direction:column;position:relative}}
.panel h3{{font-size:13px;font-weight:500;margin:0;padding:5px 8px;height:{TITLE_H - 10}px;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
.body{{flex:1;overflow:hidden}} .body svg{{display:block}}
.row{{font-size:16px;margin:0;align-self:end;border-bottom:1px solid #2c3235}}
.stat{{height:100%;position:relative;color:#fff}}
.stat .spark{{position:absolute;bottom:0;left:0;right:0;opacity:.9}}
.stat .value{{position:relative;font-size:30px;font-weight:500;text-align:center;padding-top:10px}}
.nodata{{color:#8e8e9e;text-align:center;padding:40px 16px 0}}
.nodata.unexplained{{color:#ff9830}}
a{{color:#6e9fff}}
.legend{{display:flex;flex-wrap:wrap;overflow:hidden;font-size:11px;padding:0 8px;gap:0 14px}}
.legend span{{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:250px;line-height:{LEGEND_ROW_H}px}}
.legend i{{display:inline-block;width:10px;height:3px;margin:0 5px 3px 0;vertical-align:middle}}
table{{border-collapse:collapse;width:100%;font-size:12px}}
th,td{{text-align:left;padding:3px 8px;border-bottom:1px solid #2c3235}}
details{{position:absolute;top:4px;right:6px;font-size:11px;color:#8e8e9e}}
details pre{{position:absolute;right:0;z-index:9;background:#000;color:{FG};padding:8px;
white-space:pre-wrap;width:600px;max-height:300px;overflow:auto}}
"""


def render_page(
    dashboard: Mapping,
    data: list[PanelData],
    tr: TimeRange,
    prometheus_url: str,
    values: Mapping[str, str] | None = None,
) -> str:
    by_id = {d.panel["id"]: d for d in data}
    parts = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            parts.append(_row(panel))
            parts += [_panel(by_id[p["id"]], tr) for p in panel.get("panels", [])]
        elif panel["id"] in by_id:
            parts.append(_panel(by_id[panel["id"]], tr))
    when = f"{datetime.fromtimestamp(tr.start):%Y-%m-%d %H:%M} to {datetime.fromtimestamp(tr.end):%Y-%m-%d %H:%M}"
    sel = ", ".join(f"{k}={v}" for k, v in sorted((values or {}).items())) or "all"
    title = html.escape(dashboard.get("title", "dashboard"))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title} snapshot</title><style>{CSS}</style></head><body>"
        f"<header><div><h1>{title}</h1><p>{when} · Prometheus {html.escape(prometheus_url)}"
        f" · selection: {html.escape(sel)}</p></div>"
        f"<p>obsctl snapshot · uid {html.escape(dashboard.get('uid', ''))}</p></header>"
        f'<main class="grid">{"".join(parts)}</main></body></html>\n'
    )
