"""Every panel shows data on vLLM 0.7.3 and the newest release, and the snapshot renders it.

History is synthetic but realistic in shape: families, labels and bucket edges come from
the committed vLLM catalogs, written as OpenMetrics, backfilled with promtool into a real
Prometheus. No panel may come back empty for either generation of metric names.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from dashboards_helpers import backfilled_prometheus

from observability.config import load_config
from observability.dashboards import build_all, build_single_pane
from observability.dashboards.check import empty_panels
from observability.dashboards.exprs import iter_panels
from observability.dashboards.snapshot import TimeRange, take_snapshot
from observability.promapi import PromError
from testkit.synthetic import SyntheticFleet

pytestmark = pytest.mark.e2e

BUNDLE = Path(__file__).resolve().parent.parent / "bundle.yaml"
END = int(time.time()) // 60 * 60 - 120
# Panels whose families the synthetic history of that version lacks: each says why. The
# history has no kube-state-metrics or Karpenter series.
_CLUSTER = [
    "GPUs per node pool: allocatable vs requested",
    "Karpenter GPU node pools: usage vs limit",
    "Ready pods per model",
]
EXPECTED_EMPTY = {
    "0.7.3": [
        "Firing alerts",
        _CLUSTER[0],
        "HTTP duration by endpoint (mean)",
        "HTTP responses/s by status",
        "KV-connector (external) prefix-cache hit rate",
        _CLUSTER[1],
        "LoRA adapters",
        "Memory traffic per GPU",  # MFU counters: vLLM 0.26+
        "Model FLOP/s per GPU",
        "Multimodal cache hit rate",
        "Prompt tokens by source",
        _CLUSTER[2],
        "Sleep state",  # vllm:engine_sleep_state: 0.11+
        "Time per output token per request",
        "Waiting requests by reason",
    ],
    "0.10.1": [
        "Firing alerts",
        _CLUSTER[0],
        "KV-connector (external) prefix-cache hit rate",
        _CLUSTER[1],
        "LoRA adapters",
        "Memory traffic per GPU",  # MFU counters: vLLM 0.26+
        "Model FLOP/s per GPU",
        "Multimodal cache hit rate",
        "Prompt tokens by source",
        _CLUSTER[2],
        "Sleep state",  # vllm:engine_sleep_state: 0.11+
        "Time per output token per request",
        "Waiting requests by reason",
    ],
    "0.33.0": sorted(
        # spec-decode families are in the 0.33.0 catalog (read from its metrics modules)
        ["Firing alerts", "LoRA adapters", *_CLUSTER]
    ),
}
MODELS = ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "meta-llama/Meta-Llama-3-8B-Instruct")


@pytest.fixture(scope="module", params=["0.7.3", "0.10.1", "0.33.0"])
def prom(request, tmp_path_factory):
    fleet = SyntheticFleet(
        vllm_version=request.param, replicas=2, models=MODELS, seconds=1800, step=15, end=END
    )
    tmp = tmp_path_factory.mktemp(f"prom-{request.param}")
    with backfilled_prometheus(fleet, tmp, cfg=load_config(BUNDLE)) as url:
        yield request.param, url


def test_every_panel_query_returns_data(prom, bundle):
    version, url = prom
    for name, dash in build_all(bundle).items():  # the pane and its two companions
        empty = empty_panels(url, dash, rate_interval="1m", lookback_s=600, end=END)
        assert empty == [], (version, name)


def test_empty_panels_names_the_panel_when_a_metric_is_missing(prom, bundle):
    _, url = prom
    dash = build_single_pane(bundle)
    # Pin the pod variable to one that does not exist: every panel that reads raw or
    # per-pod recorded series goes empty; per-model recordings have no pod to filter on.
    empty = empty_panels(url, dash, values={"pod": "no-such-pod"}, lookback_s=600, end=END)
    titles = {t for t, _ in empty}
    assert {"Error %", "KV-cache usage per pod", "Error ratio per pod", "GPU utilization"} <= titles
    assert not {"Request rate", "Time to first token", "Firing alerts"} & titles
    assert all('pod=~"no-such-pod"' in q for t, q in empty)


def test_snapshot_html_is_self_contained_and_laid_out_like_the_dashboard(prom, bundle, tmp_path):
    version, url = prom
    dash = build_single_pane(bundle)
    png = version == "0.33.0" and shutil.which("chromium") is not None
    res = take_snapshot(
        url, dash, TimeRange(END - 1800, END), tmp_path, png=png, scrape_interval="15s"
    )
    html = res.html.read_text()
    assert res.empty == []
    assert sorted(t for t, _ in res.expected_empty) == EXPECTED_EMPTY[version]
    assert res.panels == len(list(iter_panels(dash)))
    for p in iter_panels(dash):
        assert f"<h3>{p['title'].replace('&', '&amp;')}</h3>" in html
    # Charts are inline SVG; nothing is fetched from elsewhere.
    assert html.count("<svg") >= 30
    assert not re.search(r"""(src=["']?|<link[^>]*href=["']?)(https?:|//)""", html)
    assert "No data" not in html
    assert 'class="nodata unexplained"' not in html
    for title, why in res.expected_empty:
        assert why in html, title
    if png:
        assert res.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert res.png.stat().st_size > 100_000


def test_unreachable_prometheus_is_one_line_error(bundle, tmp_path):
    with pytest.raises(PromError, match="cannot reach Prometheus"):
        take_snapshot("http://127.0.0.1:9", build_single_pane(bundle), TimeRange(0, 60), tmp_path)


# Rows a connector or serve flag fills start collapsed, as in vLLM's own dashboards.
COLLAPSED = {
    "vllm-kv-cache-disaggregation.json": [
        "KV connector (--kv-transfer-config)",
        "NIXL transfers between prefill and decode (NixlConnector)",
        "KV offloading (OffloadingConnector)",
        "Simple CPU offload (SimpleCPUOffloadConnector)",
    ],
    "vllm-instance.json": [
        "Sleep mode and weight updates",
        "Speculative decoding (--speculative-config)",
    ],
    "vllm-single-pane.json": [],
}


def test_snapshot_renders_the_companions_with_their_collapsed_rows_open(prom, bundle, tmp_path):
    version, url = prom
    if version != "0.33.0":
        pytest.skip("the newest catalog fills every companion row; one version is enough")
    for name, dash in build_all(bundle).items():
        rows = [p for p in dash["panels"] if p["type"] == "row" and p["collapsed"]]
        assert [r["title"] for r in rows] == COLLAPSED[name]
        if not rows:
            continue
        res = take_snapshot(
            url, dash, TimeRange(END - 1800, END), tmp_path / name, scrape_interval="15s"
        )
        html = res.html.read_text()
        assert res.empty == [], name
        assert res.panels == len(list(iter_panels(dash)))
        for row in rows:
            assert row["panels"], row["title"]
            for p in row["panels"]:
                assert f"<h3>{p['title'].replace('&', '&amp;')}</h3>" in html, p["title"]
