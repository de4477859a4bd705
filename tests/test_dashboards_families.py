"""The single pane shows every vLLM family vLLM's own overview dashboard shows, says where a
version does not expose one, and is built for people to read (colours, columns, alerts)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from observability.dashboards import build_single_pane
from observability.dashboards.availability import expected_empty, exporter_families
from observability.dashboards.exprs import iter_panels
from observability.dashboards.snapshot.evaluate import PanelData, Series
from observability.dashboards.snapshot.plot import strip_common, timeseries_svg
from observability.metrics.catalog import vllm_catalog

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "bench" / "upstream_vllm_overview" / "vllm_overview.queries.json"
_NAME = re.compile(r"\b((?:vllm:|http_)[a-z_:]+?)(?:_bucket|_sum|_count)?\{")


@pytest.fixture(scope="module")
def dash(bundle):
    return build_single_pane(bundle)


def _panel(dash, title):
    return next(p for p in iter_panels(dash) if p["title"] == title)


def _read(dash) -> set[str]:
    return {
        f for p in iter_panels(dash) for t in p["targets"] for f in exporter_families(t["expr"])
    }


def test_every_family_of_the_upstream_overview_is_on_the_pane(dash):
    upstream = {
        m
        for p in json.loads(UPSTREAM.read_text())["panels"]
        for t in p["targets"]
        for m in _NAME.findall(t["expr"])
    }
    assert len(upstream) == 26  # vLLM and HTTP families the vendored upstream panels read
    missing = upstream - _read(dash)
    assert missing == set()
    # plus LoRA adapters and speculative decoding acceptance
    assert {
        "vllm:lora_requests_info",
        "vllm:spec_decode_num_accepted_tokens_total",
        "vllm:spec_decode_num_draft_tokens_total",
    } <= _read(dash)


@pytest.mark.parametrize("version", ["0.7.3", "0.10.1", "0.33.0"])
def test_each_version_default_family_upstream_shows_is_read(dash, version):
    """Per catalog: the upstream families the version exposes are all read (0.7.3's names
    included: time_per_output_token, gpu_cache_usage_perc, gpu_prefix_cache_hit_rate)."""
    cat = vllm_catalog(version).families
    shown = {
        "vllm:time_to_first_token_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
        "vllm:request_prefill_time_seconds",
        "vllm:request_decode_time_seconds",
        "vllm:request_prompt_tokens",
        "vllm:request_generation_tokens",
        "vllm:iteration_tokens_total",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:num_preemptions_total",
        "vllm:request_success_total",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:time_per_output_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:request_time_per_output_token_seconds",
        "vllm:gpu_cache_usage_perc",
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_prefix_cache_hit_rate",
        "vllm:prefix_cache_hits_total",
        "vllm:num_requests_waiting_by_reason",
        "vllm:prompt_tokens_by_source_total",
        "vllm:external_prefix_cache_hits_total",
        "vllm:mm_cache_hits_total",
        "http_requests_total",
        "http_request_duration_seconds",
    }
    assert {f for f in shown if f in cat and cat[f].default} <= _read(dash)


NOTES = {
    "Time per output token per request": "Not exposed by vLLM 0.7.3, 0.10.1 "
    "(request_time_per_output_token_seconds)",
    "Waiting requests by reason": "Not exposed by vLLM 0.7.3, 0.10.1 "
    "(num_requests_waiting_by_reason)",
    "Prompt tokens by source": "Not exposed by vLLM 0.7.3, 0.10.1 (prompt_tokens_by_source_total)",
    "HTTP responses/s by status": "Not exposed by vLLM 0.7.3 (http_requests_total)",
    "LoRA adapters": "Only with --enable-lora (vLLM 0.10.1, 0.26.0, 0.33.0) (lora_requests_info)",
    "Speculative decoding acceptance": "Only with --speculative-config "
    "(spec_decode_num_accepted_tokens_total, spec_decode_num_draft_tokens_total)",
    "Firing alerts": "No alert firing",
}


def test_version_limited_panels_say_why_they_are_empty(dash):
    for title, note in NOTES.items():
        panel = next(p for p in iter_panels(dash) if p["title"] == title and p["type"] != "stat")
        assert panel["fieldConfig"]["defaults"]["noValue"] == note, title
    # panels every version feeds (through `or` fallbacks where names differ) carry no note
    for title in ("Time to first token", "Inter-token latency", "KV-cache usage per pod"):
        assert "noValue" not in _panel(dash, title)["fieldConfig"]["defaults"], title


def test_expected_empty_needs_the_family_absent_and_version_limited():
    tpot = 'histogram_quantile(0.5, sum by (le) (rate(vllm:request_time_per_output_token_seconds_bucket{pod=~".*"}[1m])))'
    assert expected_empty(tpot, lambda f: False) == (
        "Not exposed by vLLM 0.7.3, 0.10.1 (request_time_per_output_token_seconds)"
    )
    assert expected_empty(tpot, lambda f: True) is None  # exposed but empty: unexplained
    ttft = "sum(rate(vllm:time_to_first_token_seconds_count[1m]))"
    assert expected_empty(ttft, lambda f: False) is None  # every version has it: a fault
    mm = (
        "sum(rate(vllm:mm_cache_hits_total[1m])) / (sum(rate(vllm:mm_cache_queries_total[1m])) > 0)"
    )
    assert expected_empty(mm, lambda f: True).startswith("No lookups: text-only model")
    assert expected_empty('count(ALERTS{alertstate="firing"})', lambda f: False) == (
        "No alert firing"
    )


def test_colours_follow_meaning(dash):
    def colors(title):
        return {
            o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"]
            for o in _panel(dash, title)["fieldConfig"].get("overrides", [])
            if o["properties"][0]["id"] == "color"
        }

    reasons = colors("Requests/s by finish reason")
    assert reasons["^stop$"] == "green" and reasons["^length$"] == "blue"
    assert reasons["^error$"] == "red" and reasons["^abort$"] == "orange"
    assert colors("HTTP responses/s by status")["5xx"] == "red"


def test_non_negative_axes_and_named_table_columns(dash):
    for p in iter_panels(dash):
        if p["type"] == "timeseries":
            assert p["fieldConfig"]["defaults"]["min"] == 0, p["title"]
    gpus = _panel(dash, "GPUs in use")
    organize = next(t for t in gpus["transformations"] if t["id"] == "organize")
    assert organize["options"]["renameByName"]["Value"] == "Utilization"
    alerts = next(
        p for p in iter_panels(dash) if p["title"] == "Firing alerts" and p["type"] == "table"
    )
    link = alerts["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]["url"]
    assert link.endswith("/docs/runbooks/${__value.raw}.md")


def test_firing_alerts_are_annotations(dash):
    ann = [a for a in dash["annotations"]["list"] if a.get("expr")]
    assert len(ann) == 1
    assert ann[0]["expr"].startswith('ALERTS{alertstate="firing"')
    assert ann[0]["titleFormat"] == "{{alertname}}"


def test_no_private_grafanalib_import():
    for path in (ROOT / "observability").rglob("*.py"):
        assert "grafanalib._gen" not in path.read_text(), path


def test_legends_drop_shared_words():
    assert strip_common(["p50 llama-8b", "p95 llama-8b", "p99 llama-8b"]) == ["p50", "p95", "p99"]
    assert strip_common(["p50 a", "p50 b"]) == ["a", "b"]
    assert strip_common(["x"]) == ["x"]
    assert strip_common(["same", "same"]) == ["same", "same"]  # never to nothing


def _ts_panel(values, threshold):
    panel = {
        "type": "timeseries",
        "fieldConfig": {
            "defaults": {
                "unit": "s",
                "min": 0,
                "thresholds": {"steps": [{"color": "green", "value": None}, threshold]},
                "custom": {"thresholdsStyle": {"mode": "line"}},
            }
        },
    }
    times = [1_700_000_000 + 15 * i for i in range(len(values))]
    return PanelData(panel, [Series("p99", {}, times, values)])


def test_thresholds_far_above_the_data_do_not_set_the_scale():
    svg = timeseries_svg(_ts_panel([0.01, 0.02, 0.015], {"color": "red", "value": 2.5}), 400, 200)
    assert "▲ 2.5 s" in svg  # named at the top instead of squashing 20 ms onto zero
    assert "20 ms" in svg or "15 ms" in svg  # the axis is in the data's range
    near = timeseries_svg(_ts_panel([0.5, 1.8, 1.0], {"color": "red", "value": 1.5}), 400, 200)
    assert "▲" not in near  # inside the range: drawn as a line


def test_tick_labels_differ_on_a_short_range():
    data = _ts_panel([1.0] * 20, {"color": "red", "value": 9})  # 5 minutes of samples
    svg = timeseries_svg(data, 600, 200, (data.series[0].times[0], data.series[0].times[-1]))
    ticks = re.findall(r">(\d\d:\d\d(?::\d\d)?)<", svg)
    assert ticks and len(ticks) == len(set(ticks)), ticks


def test_y_axis_top_follows_the_data_not_the_thresholds():
    from observability.dashboards.snapshot.plot import y_top

    assert y_top(0.02, [1.0, 2.5], None) == pytest.approx(0.023)
    assert y_top(0.0, [0.01, 0.05], None) == pytest.approx(0.0115)  # idle: up to the line
    assert y_top(0.0, [], None) == 1.0
    assert y_top(0.95, [0.9, 0.98], 1.0) == 1.0  # capped by the panel's max


def test_long_legend_labels_keep_their_distinguishing_tail():
    from observability.dashboards.snapshot.page import middle_ellipsis

    a = middle_ellipsis("vllm-deepseek-r1-distill-llama-8b-q7rclvtq89-mtpxj", 40)
    b = middle_ellipsis("vllm-deepseek-r1-distill-llama-8b-q7rclvtq89-mg7fz", 40)
    assert a == "vllm-deepseek-r1-di…8b-q7rclvtq89-mtpxj" and a != b
    assert middle_ellipsis("short", 40) == "short"


def test_heatmap_spans_the_range_with_distinct_ticks():
    from observability.dashboards.snapshot.plot import heatmap_svg

    t0 = 1_700_000_000
    times = [t0 + 600 + 15 * i for i in range(10)]  # 2.5 min of data in a 15 min range
    series = [
        Series(le, {"le": le}, times, [v * (i + 1) for i in range(10)])
        for le, v in (("0.01", 1.0), ("0.02", 3.0), ("+Inf", 4.0))
    ]
    panel = {"type": "heatmap", "fieldConfig": {"defaults": {"unit": "s"}}}
    svg = heatmap_svg(PanelData(panel, series), 800, 200, (t0, t0 + 900))
    ticks = re.findall(r">(\d\d:\d\d(?::\d\d)?)<", svg)
    assert len(ticks) >= 3 and len(ticks) == len(set(ticks)), ticks
    assert "10 ms" in svg and "20 ms" in svg  # bucket rows named by their upper edge
