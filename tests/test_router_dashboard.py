"""The single pane's inference-router row: present only with the pool, every query on the
normalised epp:* recordings this bundle renders (so every EPP generation shows), router TTFT
beside the engines', and lint rejecting a query on a name no rule records."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from observability.alerting.router import mapping_rules
from observability.config import parse_config
from observability.dashboards.exprs import iter_panels
from observability.dashboards.pane_router import ROW
from observability.dashboards.panels import COLORS
from observability.dashboards.single_pane import build_single_pane, rows
from observability.lint.dashboards import check_dashboard
from observability.metrics.promql_ast import metric_names
from observability.rulebase import scope

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load((ROOT / "bundle.yaml").read_text(encoding="utf-8"))


def _cfg(enabled: bool = True, pd: bool = False, cluster: str = ""):
    data = copy.deepcopy(RAW)
    data["gateway"] = {"inference_pool": {"enabled": enabled, "disaggregation": pd}}
    if cluster:
        data["prometheus"]["cluster_label"] = cluster
        data["prometheus"]["cluster_name"] = "gpu-east"
    return parse_config(data)


def _row(cfg) -> list:
    return next(specs for title, specs in rows(cfg) if title == ROW)


def test_no_row_without_the_pool() -> None:
    assert ROW not in [title for title, _ in rows(_cfg(enabled=False))]


def test_row_reads_only_recorded_epp_names_and_the_engine() -> None:
    cfg = _cfg(pd=True)
    recorded = {r["record"] for r in mapping_rules(scope(cfg))}
    titles = [p.title for p in _row(cfg)]
    assert "Disaggregation decisions" in titles and "TTFT p99: router vs engine" in titles
    for panel in _row(cfg):
        for q in panel.queries:
            epp = [n for n in metric_names(q.expr) if n.startswith("epp:")]
            assert set(epp) <= recorded, (panel.title, q.expr)
            raw = [n for n in metric_names(q.expr) if n.startswith(("llm_d_", "inference_"))]
            assert raw == [], f"{panel.title} reads an exporter name, not the mapping: {raw}"
    ttft = next(p for p in _row(cfg) if p.title.startswith("TTFT"))
    router_q, engine_q = (q.expr for q in ttft.queries)
    assert "epp:request_ttft_seconds_bucket" in router_q and "vllm_time_to_first_token" in engine_q


def test_cluster_label_kept_in_every_router_query() -> None:
    for panel in _row(_cfg(cluster="cluster")):
        for q in panel.queries:
            assert 'cluster=~"$cluster"' in q.expr and "by (cluster" in q.expr, q.expr


def test_lint_accepts_the_row_and_rejects_an_unrecorded_name() -> None:
    cfg = _cfg(pd=True)
    dash = json.loads(json.dumps(build_single_pane(cfg)))
    assert check_dashboard("dashboards/single-pane.json", dash, cfg) == []
    panel = next(p for p in iter_panels(dash) if p["title"] == "Ready endpoints per pool")
    panel["targets"][0]["expr"] = panel["targets"][0]["expr"].replace(
        "epp:ready_endpoints", "epp:ready_endpoint"
    )
    problems = [f.line() for f in check_dashboard("dashboards/single-pane.json", dash, cfg)]
    assert any("epp:ready_endpoint" in p and "come from no rule" in p for p in problems), problems


def test_the_router_row_fills_whole_grid_lines() -> None:
    """The row's panels flow into full 24-column lines, with and without disaggregation: no
    gap at the end of a line (generated mutant: a queue panel 6 -> 5 wide left one)."""
    from observability.dashboards.layout import GRID_WIDTH

    for pd in (False, True):
        line = 0
        for spec in _row(_cfg(pd=pd)):
            if line + spec.width > GRID_WIDTH:
                assert line == GRID_WIDTH, f"a line of {line} columns before {spec.title!r}"
                line = 0
            line += spec.width
        assert line == GRID_WIDTH, f"the last line has {line} columns"


def test_ready_endpoints_turn_red_where_the_pool_alert_fires() -> None:
    """0 ready endpoints is red (InferencePoolNoReadyEndpoints fires at `== 0`), one is
    green (generated mutant: `thresholds_low(1)` -> `thresholds_low(0)` left 0 green)."""
    panel = next(p for p in _row(_cfg()) if p.title == "Ready endpoints per pool")
    steps = sorted(((v if v is not None else float("-inf")), c) for c, v in panel.thresholds)

    def color(x: float) -> str:
        return [c for v, c in steps if v <= x][-1]

    assert color(0) == COLORS["critical"] and color(1) == COLORS["ok"], panel.thresholds
