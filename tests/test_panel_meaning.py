"""Every rendered panel says what it queries: `pNN` names query the 0.NN quantile, and units
follow the family read (observability/lint/panel_meaning.py, an `obsctl lint` check).

The properties run over every panel of every dashboard built for the committed bundle and
for one with a model on each registered runtime; each planted breakage (the one the issue
found, then the same breakage on every panel it applies to) must be an error.
"""

from __future__ import annotations

import copy

import pytest

from observability.config import parse_config
from observability.dashboards import build_all
from observability.dashboards.exprs import iter_panels
from observability.lint.panel_meaning import UNITS, check_dashboard, dimension, named_quantile
from observability.metrics import promql_ast
from testkit.configspace import BASE
from testkit.workloads import every_workload_data


@pytest.fixture(scope="module", params=["committed", "every-runtime"])
def dashboards(request) -> dict[str, dict]:
    data = BASE if request.param == "committed" else every_workload_data()
    return build_all(parse_config(copy.deepcopy(data)))


def _panels(dashboards):
    return [(name, p) for name, dash in dashboards.items() for p in iter_panels(dash)]


def _errors(dashboards) -> list[str]:
    return [f.line() for name, dash in dashboards.items() for f in check_dashboard(name, dash)]


def test_every_rendered_panel_passes(dashboards):
    assert _errors(dashboards) == []


@pytest.mark.parametrize(
    ("expr", "dim"),
    [
        (
            "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
            "seconds",
        ),
        (
            "histogram_quantile(0.5, sum by (le) (ns:vllm_request_prompt_tokens_bucket:rate1m))",
            "tokens",
        ),
        (
            "sum(ns:vllm_x_seconds_sum:rate1m) / (sum(ns:vllm_x_seconds_count:rate1m) > 0)",
            "seconds",
        ),
        ("sum(rate(vllm:generation_tokens_total[1m]))", "rate:tokens"),
        ("sum(rate(vllm:a_total[1m])) / (sum(rate(vllm:b_total[1m])) > 0)", "ratio"),
        ("max(vllm:kv_cache_usage_perc) or max(vllm:gpu_cache_usage_perc)", "ratio"),
        ("avg(DCGM_FI_DEV_GPU_UTIL) / 100", "ratio"),
        ("max(DCGM_FI_DEV_FB_USED) + max(DCGM_FI_DEV_FB_FREE)", "mbytes"),
        ("sum(vllm:num_requests_waiting)", "count"),
        ("sum by (pod) (rate(vllm:estimated_flops_per_gpu_total[1m]))", "rate:flops"),
        ("sum(rate(vllm:estimated_read_bytes_per_gpu_total[1m]))", "rate:bytes"),
        ("sum(rate(vllm:prompt_tokens_total[1m])) * 0.0002", None),
    ],
)
def test_dimension_of_a_query(expr, dim):
    assert dimension(expr) == dim


def test_named_quantiles():
    assert named_quantile("p99 TTFT") == 0.99
    assert named_quantile("p50 {{model_name}}") == 0.5
    assert named_quantile("p999") == 0.999
    assert named_quantile("Time to first token") is None
    assert named_quantile("gpu{{gpu}}") is None


def _ttft_stat(dashboards):
    return next(p for _n, p in _panels(dashboards) if p["title"] == "p99 TTFT")


def test_the_p99_ttft_stat_on_the_095_quantile_is_an_error(dashboards):
    broken = copy.deepcopy(dashboards)
    target = _ttft_stat(broken)["targets"][0]
    assert "histogram_quantile(0.99," in target["expr"]
    target["expr"] = target["expr"].replace("histogram_quantile(0.99,", "histogram_quantile(0.95,")
    assert any("'p99 TTFT'" in e and "0.95" in e for e in _errors(broken))


def test_the_ttft_panel_in_ms_is_an_error(dashboards):
    broken = copy.deepcopy(dashboards)
    panel = next(p for _n, p in _panels(broken) if p["title"] == "Time to first token")
    panel["fieldConfig"]["defaults"]["unit"] = "ms"
    assert any("Time to first token" in e and "'ms'" in e for e in _errors(broken))


def test_every_pnn_target_on_another_quantile_is_an_error(dashboards):
    named = [
        (name, p, i)
        for name, p in _panels(dashboards)
        for i, t in enumerate(p.get("targets", []))
        if named_quantile(t.get("legendFormat") or p["title"]) is not None
    ]
    assert len(named) >= 15  # the stats and the p50/p95/p99 series of the latency panels
    for name, panel, i in named:
        broken = copy.deepcopy(panel)
        t = broken["targets"][i]
        computed = promql_ast.quantiles(t["expr"])
        phi = computed[0].phi if computed else promql_ast.recorded_quantiles(t["expr"])[0]
        other = 0.75 if phi != 0.75 else 0.9
        t["expr"] = t["expr"].replace(f"histogram_quantile({phi},", f"histogram_quantile({other},")
        t["expr"] = t["expr"].replace(f'quantile="{phi}"', f'quantile="{other}"')
        assert t["expr"] != panel["targets"][i]["expr"], (panel["title"], i)
        assert check_dashboard(name, {"panels": [broken]}), (panel["title"], i)


def test_a_recorded_quantile_counts_as_its_quantile_label():
    rec = "namespace_model_name:vllm_time_to_first_token_seconds:quantile_rate1m"
    assert promql_ast.recorded_quantiles(
        f'{rec}{{model_name=~"$model_name", quantile="0.99"}}'
    ) == [0.99]
    # a bucket-rate recording or an unpinned quantile recording names no quantile
    assert promql_ast.recorded_quantiles(f'{rec}{{quantile=~"0.9.*"}}') == []
    bucket = "namespace_model_name:vllm_time_to_first_token_seconds_bucket:rate1m"
    assert promql_ast.recorded_quantiles(f'{bucket}{{quantile="0.99"}}') == []
    p99 = {
        "title": "TTFT",
        "type": "timeseries",
        "fieldConfig": {"defaults": {"unit": "s"}},
        "targets": [{"expr": f'{rec}{{quantile="0.99"}}', "legendFormat": "p99 {{model_name}}"}],
    }
    assert check_dashboard("d.json", {"panels": [p99]}) == []
    p99["targets"][0]["expr"] = f'{rec}{{quantile="0.95"}}'
    assert [f.field for f in check_dashboard("d.json", {"panels": [p99]})] == ["targets[0]"]


def test_every_panel_with_a_known_dimension_in_another_unit_is_an_error(dashboards):
    judged = set()
    for name, panel in _panels(dashboards):
        dims = {dimension(t["expr"]) for t in panel.get("targets", [])}
        dims = {d.removeprefix("bucket:") for d in dims if d}
        if not dims & set(UNITS):
            continue
        judged |= dims & set(UNITS)
        for wrong in ("ms", "short", "percent", "s"):
            if wrong == panel["fieldConfig"]["defaults"]["unit"]:
                continue
            if any(wrong in UNITS[d] for d in dims if d in UNITS):
                continue
            broken = copy.deepcopy(panel)
            broken["fieldConfig"]["defaults"]["unit"] = wrong
            assert check_dashboard(name, {"panels": [broken]}), (panel["title"], wrong)
    # the single pane shows every dimension the rule knows but raw bytes and percent
    assert judged >= {"seconds", "tokens", "rate:tokens", "ratio", "mbytes", "celsius", "watt"}
