"""The rendered single pane: structure, variables, thresholds, and lint catching breakage."""

from __future__ import annotations

import copy
import json

import pytest

from observability.alerting import recording as rec
from observability.config import parse_config
from observability.dashboards import build_all, build_single_pane
from observability.dashboards.exprs import iter_panels, panel_queries
from observability.dashboards.panels import POD_NOTE
from observability.lint.dashboards import check, check_dashboard, recordings
from observability.metrics.names import VLLM

FILE = "dashboards/vllm-single-pane.json"
ROWS = [
    "Overview",
    "Alerts",
    "Latency",
    "Throughput",
    "Request shape",
    "Scheduler",
    "KV cache",
    "Errors",
    "GPU (DCGM)",
    "GPU capacity and pod lifecycle",
    "Cost",
]


@pytest.fixture(scope="module")
def dash(bundle):
    return build_single_pane(bundle)


def _panel(dash, title):
    return next(p for p in iter_panels(dash) if p["title"] == title)


def test_committed_json_is_what_the_builder_renders(repo_root, bundle):
    for name, built in build_all(bundle).items():
        on_disk = json.loads((repo_root / "dashboards" / name).read_text())
        assert on_disk == built


def test_rows_top_to_bottom_and_current_panel_types(dash, bundle):
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows == ROWS
    ys = [p["gridPos"]["y"] for p in dash["panels"]]
    assert ys == sorted(ys)
    types = {p["type"] for p in iter_panels(dash)}
    assert types <= {"timeseries", "stat", "gauge", "table", "heatmap"}
    assert {"timeseries", "stat", "table", "heatmap"} <= types
    assert dash["uid"] == bundle.dashboards.uid
    assert dash["schemaVersion"] >= 36
    for p in dash["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24


def test_variables_and_datasource_refs(dash, bundle):
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert list(variables) == ["datasource", "namespace", "model_name", "pod"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "model_name", "pod"):
        assert variables[name]["multi"] and variables[name]["includeAll"]
        assert variables[name]["allValue"] == ".*"
    ref = {"type": "prometheus", "uid": "${datasource}"}
    for p in iter_panels(dash):
        assert p["datasource"] == ref
        assert all(t["datasource"] == ref for t in p["targets"])
    # Cluster variable only when a cluster label is configured; then every selector uses it.
    data = bundle.model_dump()
    data["prometheus"].update(cluster_label="cluster", cluster_name="prod-1")
    with_cluster = build_single_pane(parse_config(data))
    names = [v["name"] for v in with_cluster["templating"]["list"]]
    assert names == ["datasource", "cluster", "namespace", "model_name", "pod"]
    for q in panel_queries(with_cluster):
        if "{" in q.expr:  # ALERTS too: the central store labels them by cluster
            assert 'cluster=~"$cluster"' in q.expr, q.title


def test_overview_stats_thresholds_follow_alerting_config(bundle):
    data = bundle.model_dump()
    data["alerting"].update(ttft_p99_warning_seconds=0.5, kv_cache_warning_ratio=0.8)
    dash = build_single_pane(parse_config(data))
    steps = _panel(dash, "p99 TTFT")["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0.5, 2.5]
    kv = _panel(dash, "KV-cache usage")["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in kv] == [None, 0.8, 0.98]
    overview = [p["title"] for p in iter_panels(dash) if p["type"] == "stat"]
    for title in (
        "Request rate",
        "Generated tokens/s",
        "p99 TTFT",
        "p99 inter-token latency",
        "Error %",
        "KV-cache usage",
        "Waiting requests",
        "GPU utilization",
        "GPU cost per 1M tokens",
        "Firing alerts",
    ):
        assert title in overview


def test_queries_cover_both_vllm_generations(dash, bundle):
    exprs = {q.title: q.expr for q in panel_queries(dash)}
    itl = exprs["p99 inter-token latency"]
    assert itl.startswith("histogram_quantile(0.99, sum by (le) (")
    # The recording rule unifies both ITL names, so the panel holds no `or` fallback.
    assert rec.BUCKET_RATE1M[VLLM.ITL.key] + "{" in itl and " or " not in itl
    rule = recordings(bundle)[rec.BUCKET_RATE1M[VLLM.ITL.key]]
    assert "rate(vllm:inter_token_latency_seconds_bucket[1m])" in rule
    assert "rate(vllm:time_per_output_token_seconds_bucket[1m])" in rule
    for title in ("Time to first token", "Error ratio per pod", "Request rate", "Error %"):
        assert " or " not in exprs[title], title
    kv = exprs["KV-cache usage"]
    assert "vllm:kv_cache_usage_perc" in kv and "vllm:gpu_cache_usage_perc" in kv
    hit = exprs["Prefix-cache hit rate"]
    assert "vllm:prefix_cache_hits_total" in hit and "vllm:gpu_prefix_cache_hit_rate" in hit
    for q in panel_queries(dash):
        assert "vllm:num_preemptions{" not in q.expr  # the counter is only exposed with _total


def test_every_panel_has_unit_and_description_naming_its_metrics(dash):
    for p in iter_panels(dash):
        assert p["fieldConfig"]["defaults"]["unit"], p["title"]
        assert "Metrics: " in p["description"], p["title"]
    cost = _panel(dash, "Token cost per model (USD/h)")
    assert cost["description"].endswith(
        f"so the pod filter does not apply. Metrics: {rec.PROMPT_TOKENS_RATE1M} (recording rule "
        f"over vllm:prompt_tokens_total), {rec.GENERATION_TOKENS_RATE1M} (recording rule over "
        "vllm:generation_tokens_total)."
    )
    kv = _panel(dash, "KV-cache usage per pod")  # per-pod drill-down stays on raw series
    assert "pod filter" not in kv["description"]
    assert 'pod=~"$pod"' in kv["targets"][0]["expr"]


def test_lint_passes_on_the_committed_dashboards(repo_root, bundle):
    assert [f.line() for f in check(repo_root, bundle)] == []


def _broken(dash, mutate):
    d = copy.deepcopy(dash)
    mutate(d)
    return d


def _first(d, kind="timeseries"):
    return next(p for p in iter_panels(d) if p["type"] == kind)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: _first(d).__setitem__("id", 1), "panel id 1 also used"),
        (lambda d: _first(d).__setitem__("type", "graph"), "not current"),
        (lambda d: _first(d)["fieldConfig"]["defaults"].pop("unit"), "no unit"),
        (lambda d: _first(d).__setitem__("description", "x"), "description must end"),
        (lambda d: _first(d).__setitem__("datasource", "Prometheus"), "datasource"),
        (
            lambda d: _first(d, "stat")["targets"][0].__setitem__(
                "expr", 'max(vllm:gpu_cache_usage_perc{pod=~"$pod"})'
            ),
            "only removed/legacy names",
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__("expr", "rate(vllm:num_preemptions[5m])"),
            "unknown vLLM metric",
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr",
                "sum(rate(vllm:prompt_tokens_total[5m])) / sum(rate(vllm:generation_tokens_total[5m]))",
            ),
            "zero guard",
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr",
                "histogram_quantile(0.99, rate(vllm:e2e_request_latency_seconds_bucket[5m]))",
            ),
            "percentiles must be",
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr", "sum(rate(vllm:prompt_tokens_total[5m])"
            ),
            "does not parse",
        ),
        (
            lambda d: next(p for p in iter_panels(d) if p["title"] == "p99 TTFT")["fieldConfig"][
                "defaults"
            ]["thresholds"]["steps"][1].__setitem__("value", 3),
            "differ from alerting config",
        ),
        (lambda d: d["templating"]["list"].pop(), "variable `pod`"),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr",
                "histogram_quantile(0.99, sum by (le) (vllm:e2e_request_latency_seconds_bucket))",
            ),
            "percentiles must be",  # a raw quantile without rate()
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr",
                f"histogram_quantile(0.99, sum by (model_name) ({rec.BUCKET_RATE1M['ttft']}{{}}))",
            ),
            "must aggregate `by (le, ...)`",  # a recorded bucket rate without `le`
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr", f"histogram_quantile(0.99, sum by (le) ({rec.PROMPT_TOKENS_RATE1M}{{}}))"
            ),
            "percentiles must be",  # a recording that is no bucket rate
        ),
        (
            lambda d: _first(d)["targets"][0].__setitem__(
                "expr", "sum(namespace_model_name:vllm_made_up:rate1m{})"
            ),
            "come from no rule",
        ),
        (
            lambda d: _first(d).__setitem__(
                "description", _first(d)["description"].replace(POD_NOTE, "x")
            ),
            "pod filter does not apply",
        ),
        (
            lambda d: next(p for p in iter_panels(d) if p["title"] == "Waiting requests by reason")[
                "fieldConfig"
            ]["defaults"].pop("noValue"),
            "noValue must say 'Not exposed by vLLM 0.7.3, 0.10.1",
        ),
    ],
)
def test_lint_catches(dash, bundle, mutate, needle):
    findings = check_dashboard(FILE, _broken(dash, mutate), bundle)
    assert any(needle in f.message for f in findings), [f.line() for f in findings]


def test_idle_hit_ratio_families_are_keyed_by_their_exporter_names():
    """Each lookup family idle without its feature is in IDLE under its v1 name (generated
    mutant: `... or ""` -> `and ""` keyed the external-prefix hits by "")."""
    from observability.dashboards.availability import IDLE

    for sig in (
        VLLM.MM_CACHE_QUERIES,
        VLLM.MM_CACHE_HITS,
        VLLM.EXTERNAL_PREFIX_CACHE_QUERIES,
        VLLM.EXTERNAL_PREFIX_CACHE_HITS,
    ):
        assert sig.v1 and IDLE[sig.v1].startswith("No lookups: "), sig
    assert "" not in IDLE


@pytest.mark.parametrize(
    "expr",
    [
        # the lookups alone (a panel of queries/s), and the hit ratio the pane draws
        'sum(rate(vllm:mm_cache_queries_total{pod=~"$pod"}[5m]))',
        "sum(rate(vllm:mm_cache_hits_total[5m])) / sum(rate(vllm:mm_cache_queries_total[5m]))",
    ],
)
def test_an_idle_lookup_panel_is_explained_as_idle(expr):
    """An empty panel over idle lookup counters (present, never incremented) is expected
    and says why, whether it reads one counter or the pair (generated mutant: the note
    looked up by the expression's second family raised IndexError on a single one)."""
    from observability.dashboards.availability import IDLE, expected_empty

    assert expected_empty(expr, lambda fam: True) == IDLE["vllm:mm_cache_queries_total"]


def test_a_query_needing_a_flag_and_a_newer_vllm_is_explained_by_the_versions():
    """A query reading a family only --speculative-config turns on, beside one vLLM 0.7.3
    lacks: its note names the version (every family flag-gated would name the flag)."""
    from observability.dashboards.availability import family_note

    spec, kv = "vllm:spec_decode_num_drafts_total", VLLM.KV_CACHE_USAGE.v1
    assert family_note([spec]) == "Only with --speculative-config"
    assert family_note([spec, kv]) == family_note([kv]) == "Not exposed by vLLM 0.7.3"
