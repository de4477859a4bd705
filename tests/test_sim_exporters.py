"""Every simulated exporter (DCGM per node, kube-state-metrics, a Ray head, the AIBrix
gateway plugins and controller) answers `/metrics` on its own port with its own content
type and nothing else; a crashed Ray replica is reported unhealthy by its head until it
comes back."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import sim_config, value

from observability.httppool import shared_client
from observability.sim import SimModel, SimThread
from observability.sim.aibrix import CONTENT_TYPE as AIBRIX_CONTENT_TYPE
from observability.sim.dcgm import CONTENT_TYPE as DCGM_CONTENT_TYPE
from observability.sim.ksm import CONTENT_TYPE as KSM_CONTENT_TYPE
from observability.sim.ray import CONTENT_TYPE as RAY_CONTENT_TYPE

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


def test_a_crashed_ray_replica_is_unhealthy_at_its_head_until_it_returns(
    sim: SimThread,
) -> None:
    admin = f"http://127.0.0.1:{sim.cfg.admin_port}"
    head = sim.manifest["ray_heads"][0]["port"]
    ray = next(r for r in sim.manifest["replicas"] if r["runtime"] == "rayservice")
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
