"""`obsctl verify` reads as much on a big fleet as on a small one.

Two fake installations side by side (the fake API server, real Prometheus and
Alertmanager, the real `kubernetes` client): 2 GPU nodes and 1 vLLM pod, and 8 GPU nodes
and 16 vLLM pods. A healthy run against each must make the same API calls (lists, gets,
proxied paths, call for call), and only the queries that enumerate pods or GPUs by design
may answer with more rows on the bigger fleet: no check reads a pod's /metrics per pod,
lists per node, or pulls a panel's per-pod series back. How fast that is on 500 nodes and
1,000 pods is measured by bench/verify_speed.py, not here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from verify_fakes.harness import Harness

from observability.config import BundleConfig
from observability.verify import Status
from observability.verify import queries as q

pytestmark = pytest.mark.e2e

SMALL = {"gpu_nodes": 2, "gpus_per_node": 1, "pods_per_model": 1}
BIG = {"gpu_nodes": 8, "gpus_per_node": 1, "pods_per_model": 16}


@pytest.fixture(scope="module")
def fleets(bundle: BundleConfig) -> Iterator[tuple[Harness, Harness]]:
    small, big = Harness(bundle, **SMALL), Harness(bundle, **BIG)
    try:
        small.start()
        big.start()
        small.wait_healthy()
        big.wait_healthy()
        yield small, big
    finally:
        small.stop()
        big.stop()


def _reads(h: Harness) -> tuple[Counter[str], dict[str, int]]:
    """(API requests by route, rows per proxied PromQL answer) of one healthy run."""
    before = Counter(h.kube.routes)
    h.kube.query_rows.clear()
    run = h.run()
    bad = [f"{r.id}: {r.status} {r.evidence}" for r in run.results if r.status is not Status.PASS]
    assert not bad, bad
    return Counter(h.kube.routes) - before, dict(h.kube.query_rows)


def test_api_calls_and_query_answers_do_not_grow_with_the_fleet(
    bundle: BundleConfig, fleets: tuple[Harness, Harness]
) -> None:
    small, big = fleets
    calls_small, rows_small = _reads(small)
    calls_big, rows_big = _reads(big)
    assert calls_big == calls_small, (calls_big - calls_small, calls_small - calls_big)
    # the lists that grow with the fleet are answered from the API server's watch cache
    assert calls_big["list nodes rv=0"] and calls_big["list pods rv=0"], calls_big
    assert not calls_big["list nodes"] and not calls_big["list pods"], calls_big
    # scrape.drift reads /metrics of one pod per workload, through its Service
    for key, _ in bundle.deployed_models:
        assert calls_big[f"proxy vllm-{key} /metrics"] == 1, calls_big
    # One row per pod, GPU or node by design (scrape.series, scrape.escaping,
    # scrape.dcgm_duplicates): every other answer is as long on 16 pods as on 1.
    per_pod = {
        q.running_pods(bundle),
        q.running_by_naming(bundle),
        q.gpu_hosts(bundle),
        q.gpu_sources(bundle),
    }
    grew = {e: (rows_small.get(e), n) for e, n in rows_big.items() if n > rows_small.get(e, 0)}
    assert set(grew) <= per_pod, grew
    assert per_pod & set(grew), "the per-pod queries should see 16 pods"
    # grafana.panels asks each distinct panel expression once, counted in PromQL
    panel_answers = [n for e, n in rows_big.items() if e.startswith("count(") and e not in per_pod]
    assert panel_answers and max(panel_answers) <= 1
