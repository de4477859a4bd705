"""The simulated endpoint picker: 401 without its bearer token; llm-d-router 0.10.0's dual
emission (llm_d_epp_* and each deprecated twin, equal values); every family in the
catalog; pool gauges computed from the pool's replicas (ready count, KV and queue averages
equal the engines'); requests counted as the replicas answer them; faults crash,
pool-unready, scheduling-failures and datalayer-errors."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import free_port, sim_config, value

from observability.metrics.router import CATALOG_FILES, catalogs
from observability.sim import SimModel, SimThread
from observability.sim.epp import CONTENT_TYPE

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret"
MODEL = "org/pooled"


@pytest.fixture(scope="module")
def sim(make_sim) -> SimThread:
    models = (
        SimModel("pooled", MODEL, inference_pool=True),
        SimModel("outside", "org/outside"),
    )
    return make_sim(
        sim_config(models, replicas=2, time_scale=0.02, epp_port=free_port(), epp_token=TOKEN)
    )


def _metrics(sim: SimThread, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"http://127.0.0.1:{sim.cfg.epp_port}/metrics", headers=headers, timeout=5)


def _complete(port: int) -> int:
    body = {"model": MODEL, "prompt": "hello", "max_tokens": 4}
    return httpx.post(f"http://127.0.0.1:{port}/v1/completions", json=body, timeout=30).status_code


def _fault(sim: SimThread, fault: str, params: dict | None = None) -> None:
    epp = sim.manifest["epp"][0]["pod"]
    body = {"fault": fault, "target": epp, "params": params or {}}
    httpx.post(f"http://127.0.0.1:{sim.cfg.admin_port}/faults", json=body, timeout=5)


def _clear(sim: SimThread) -> None:
    httpx.delete(f"http://127.0.0.1:{sim.cfg.admin_port}/faults", timeout=5)


def test_metrics_need_the_bearer_token(sim: SimThread) -> None:
    assert _metrics(sim, None).status_code == 401
    assert _metrics(sim, "wrong").status_code == 401
    ok = _metrics(sim)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == CONTENT_TYPE
    (entry,) = sim.manifest["epp"]
    assert entry["pool"] == "vllm-pool" and entry["port"] == sim.cfg.epp_port


def test_pool_gauges_come_from_the_pools_replicas(sim: SimThread) -> None:
    pooled = [r for r in sim.manifest["replicas"] if r["model"] == MODEL]
    assert len(pooled) == 2
    for r in pooled:
        assert _complete(r["port"]) == 200
    text = _metrics(sim).text
    assert value(text, "llm_d_epp_ready_endpoints") == 2  # the outside model's are not counted
    assert value(text, "inference_pool_ready_pods") == 2

    def engines() -> tuple[float, float]:
        reps = [r for r in sim.cluster.replicas if r.model == MODEL]
        kv = sum(r.engine.kv.usage() for r in reps) / len(reps)
        return kv, sum(len(r.engine.waiting) for r in reps) / len(reps)

    kv, queue = sim.call(engines)
    text = _metrics(sim).text
    assert value(text, "llm_d_epp_average_kv_cache_utilization") == pytest.approx(kv, abs=1e-9)
    assert value(text, "llm_d_epp_average_queue_size") == pytest.approx(queue)
    assert value(text, "llm_d_epp_request_total", model_name=MODEL) == 2
    # dual emission: the deprecated twin carries the same count
    assert value(text, "inference_objective_request_total", model_name=MODEL) == 2
    assert value(text, "llm_d_epp_request_ttft_seconds_count", model_name=MODEL) == 2
    assert value(text, "llm_d_epp_scheduler_attempts_total", status="success") == 2


def test_every_family_served_is_in_the_router_catalog(sim: SimThread) -> None:
    known = set().union(*(c.series_names() for c in catalogs()))
    served = {
        s.name for fam in text_string_to_metric_families(_metrics(sim).text) for s in fam.samples
    }
    assert served and served <= known, served - known


def test_faults(sim: SimThread) -> None:
    port = next(r["port"] for r in sim.manifest["replicas"] if r["model"] == MODEL)
    try:
        _fault(sim, "pool-unready")
        assert value(_metrics(sim).text, "llm_d_epp_ready_endpoints") == 0
        _clear(sim)
        before = value(_metrics(sim).text, "llm_d_epp_scheduler_attempts_total", status="failure")
        _fault(sim, "scheduling-failures", {"ratio": 0.5})
        for _ in range(4):
            _complete(port)
        after = value(_metrics(sim).text, "llm_d_epp_scheduler_attempts_total", status="failure")
        assert after - before == 2
        _fault(sim, "datalayer-errors")
        _metrics(sim)
        assert value(_metrics(sim).text, "llm_d_epp_datalayer_poll_errors_total") >= 1
        _fault(sim, "crash")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                _metrics(sim)
            except httpx.TransportError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the crashed EPP still answers")
    finally:
        _clear(sim)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            assert _metrics(sim).status_code == 200
            break
        except httpx.TransportError:
            time.sleep(0.05)


OLDER = {  # generation -> (its catalog, its ready gauge, its request counter)
    "main-2026-06": (
        "llm-d-router-main-2026-06.json",
        "llm_d_router_epp_ready_endpoints",
        "llm_d_router_epp_request_total",
    ),
    "gie-1.0.0": (
        "gateway-api-inference-extension-1.0.0.json",
        "inference_pool_ready_pods",
        "inference_model_request_total",
    ),
}


@pytest.mark.parametrize("generation", list(OLDER))
def test_an_older_generation_serves_its_own_names_only(make_sim, generation: str) -> None:
    """epp_generation serves that router's families alone, every one in its catalog, fed
    like the current one (tests/test_router_local.py shows the epp:* rules read them)."""
    catalog, ready, requests = OLDER[generation]
    models = (SimModel("pooled", MODEL, inference_pool=True),)
    cfg = sim_config(models, replicas=2, time_scale=0.02, epp_port=free_port(),
                     epp_token=TOKEN, epp_generation=generation)  # fmt: skip
    old = make_sim(cfg)
    port = old.manifest["replicas"][0]["port"]
    assert _complete(port) == 200
    text = _metrics(old).text
    served = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    (own,) = [c for c in catalogs() if CATALOG_FILES[catalogs().index(c)] == catalog]
    assert served and served <= own.series_names(), served - own.series_names()
    assert not [n for n in served if n.startswith(("llm_d_epp_", "inference_objective_"))]
    assert value(text, ready) == 2
    assert value(text, requests, model_name=MODEL) == 1


def test_an_unknown_generation_is_refused(make_sim) -> None:
    cfg = sim_config(epp_port=free_port(), epp_generation="0.1")
    with pytest.raises(Exception, match=r"epp_generation '0\.1'"):
        make_sim(cfg)
