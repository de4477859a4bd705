"""Every simulated exporter (DCGM per node, kube-state-metrics, a Ray head, the AIBrix
gateway plugins and controller) answers `/metrics` on its own port with its own content
type and nothing else; a crashed Ray replica is reported unhealthy by its head until it
comes back; the head's Serve proxy counts each response under the model's application and
every 4xx/5xx as an errored one, in both Ray naming generations."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import samples, sim_config, value

from observability.httppool import shared_client
from observability.sim import SimModel, SimThread
from observability.sim.aibrix import CONTENT_TYPE as AIBRIX_CONTENT_TYPE
from observability.sim.dcgm import CONTENT_TYPE as DCGM_CONTENT_TYPE
from observability.sim.ksm import CONTENT_TYPE as KSM_CONTENT_TYPE
from observability.sim.ray import CONTENT_TYPE as RAY_CONTENT_TYPE
from observability.sim.ray import RayHead, RayServeStats

pytestmark = pytest.mark.timeout(60)

TEXT_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture(scope="module")
def sim(make_sim) -> SimThread:
    models = (
        SimModel("ray-model", "org/ray-model", runtime="rayservice"),
        SimModel("aibrix-model", "aibrix-model", runtime="aibrix"),
    )
    return make_sim(sim_config(models, ksm=True, time_scale=0.02))


def _get(port: int, path: str = "/metrics") -> httpx.Response:
    return shared_client().get(f"http://127.0.0.1:{port}{path}", timeout=5)


def test_each_exporter_serves_its_metrics_with_its_content_type(sim: SimThread) -> None:
    m = sim.manifest
    exporters = [
        (m["nodes"][0]["dcgm_port"], DCGM_CONTENT_TYPE, "DCGM_FI_DEV_GPU_UTIL"),
        (m["kube_state_metrics"]["port"], KSM_CONTENT_TYPE, "kube_pod_status_phase"),
        (m["ray_heads"][0]["port"], RAY_CONTENT_TYPE, "ray_serve_deployment_replica_healthy"),
        *(
            (c["port"], AIBRIX_CONTENT_TYPE, "gateway_request_total")
            for c in m["aibrix"]
            if c["component"] == "gateway-plugins"
        ),
        *(
            (c["port"], AIBRIX_CONTENT_TYPE, "controller_runtime_reconcile_total")
            for c in m["aibrix"]
            if c["component"] == "controller-manager"
        ),
    ]
    assert len(exporters) == 5
    for port, content_type, family in exporters:
        resp = _get(port)
        assert resp.status_code == 200, port
        assert resp.headers["Content-Type"] == content_type == TEXT_0_0_4, port
        assert family in resp.text, (port, family)
        assert "vllm:" not in resp.text, port  # no replica answers on an exporter's port
        assert _get(port, "/health").status_code == 404, port
        assert _get(port, "/v1/models").status_code == 404, port


def _ray_parts(sim: SimThread) -> tuple[str, int, dict]:
    """The simulator's admin URL, its Ray head's port and its Ray replica."""
    admin = f"http://127.0.0.1:{sim.cfg.admin_port}"
    head = sim.manifest["ray_heads"][0]["port"]
    ray = next(r for r in sim.manifest["replicas"] if r["runtime"] == "rayservice")
    return admin, head, ray


def test_a_crashed_ray_replica_is_unhealthy_at_its_head_until_it_returns(
    sim: SimThread,
) -> None:
    admin, head, ray = _ray_parts(sim)
    healthy = "ray_serve_deployment_replica_healthy"
    assert value(_get(head).text, healthy) == 1
    resp = shared_client().post(f"{admin}/faults", json={"fault": "crash", "target": ray["pod"]})
    assert resp.status_code < 300, resp.text
    try:
        time.sleep(0.2)
        with pytest.raises(httpx.ConnectError):
            _get(ray["port"])
        assert value(_get(head).text, healthy) == 0
    finally:
        httpx.delete(f"{admin}/faults")
    deadline = time.time() + 5
    while _get(head).status_code == 200 and value(_get(head).text, healthy) != 1:
        assert time.time() < deadline, "the head still reports the replica unhealthy"
        time.sleep(0.05)
    assert _get(ray["port"]).status_code == 200


REQUESTS = "ray_serve_num_http_requests"
ERRORS = "ray_serve_num_http_error_requests"


@pytest.mark.parametrize(("ray", "twins"), [("2.58.0", False), ("2.49.2", True)])
def test_the_ray_head_counts_responses_and_errors_per_application(ray: str, twins: bool) -> None:
    """Ray 2.49.2 and 2.58.0 proxy.py: requests by status_code, errors (4xx and 5xx) by
    error_code, both tagged with the application; 2.49 adds the deprecated gauge twins."""
    stats = RayServeStats("abcd1234", ray_version=ray, application="org/ray-model")
    for status in (200, 200, 200, 400, 500, 500):
        stats.observe(status)
    text = RayHead("head-0", "ns", "ray-model", 1, [stats], ray_version=ray).exposition().decode()
    app = {"application": "org/ray-model", "route": "/", "method": "POST"}
    assert value(text, f"{REQUESTS}_total", **app, status_code="200") == 3
    assert value(text, f"{REQUESTS}_total", **app) == 6
    assert value(text, f"{ERRORS}_total", **app, error_code="500") == 2
    assert value(text, f"{ERRORS}_total", **app, error_code="400") == 1
    assert value(text, f"{ERRORS}_total", **app, error_code="200") == 0  # 2xx is no error
    assert value(text, f"{ERRORS}_total", application="llm") == 0  # no default application
    gauges = {n for n, _ in samples(text) if n in (REQUESTS, ERRORS)}
    assert gauges == ({REQUESTS, ERRORS} if twins else set())


def test_an_error_storm_on_a_ray_replica_reaches_its_heads_proxy_counters(
    sim: SimThread,
) -> None:
    admin, head, ray = _ray_parts(sim)
    before = value(_get(head).text, f"{ERRORS}_total", application="org/ray-model")
    fault = {"fault": "error-storm", "target": ray["pod"], "params": {"ratio": 1.0}}
    assert shared_client().post(f"{admin}/faults", json=fault).status_code < 300
    try:
        for _ in range(3):
            resp = shared_client().post(
                f"http://127.0.0.1:{ray['port']}/v1/completions",
                json={"model": "org/ray-model", "prompt": "hi", "max_tokens": 2},
                timeout=5,
            )
            assert resp.status_code == 500, resp.text
    finally:
        httpx.delete(f"{admin}/faults")
    text = _get(head).text
    app = {"application": "org/ray-model", "error_code": "500"}
    assert value(text, f"{ERRORS}_total", **app) == before + 3
