"""Lifecycle (kube-state-metrics): what the recordings read, and the simulator's fake
kube-state-metrics under each lifecycle fault, scraped over HTTP and parsed as Prometheus
text (the shapes the promtool tests in alerts/tests/vllm-lifecycle.yaml assume)."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import sim_config

from observability.alerting import capacity, lifecycle
from observability.alerting.timing import timing
from observability.dashboards.reads import families_read
from observability.httppool import shared_client
from observability.rulebase import scope
from observability.sim import SimModel
from observability.sim.cluster import SimThread

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def test_recorded_from_matches_the_generated_rules(bundle):
    t, sc = timing("standard"), scope(bundle)
    rules = lifecycle.recording_rules(bundle, t, sc)
    rules += [r for r in capacity.group(bundle, t, sc)["rules"] if "record" in r]
    got = {r["record"]: tuple(families_read(r["expr"])) for r in rules}
    assert got == {**lifecycle.RECORDED_FROM, **capacity.RECORDED_FROM}


@pytest.fixture(scope="module")
def sim(make_sim):
    models = (SimModel("m1", "org/m1"), SimModel("t1", "t1", runtime="tgi"))
    return make_sim(sim_config(models, replicas=2, gpus_per_node=4, ksm=True))


def _scrape(sim: SimThread) -> Samples:
    port = sim.manifest["kube_state_metrics"]["port"]
    text = shared_client().get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _of(samples: Samples, name: str, **labels: str) -> dict[frozenset, float]:
    want = set(labels.items())
    return {k[1]: v for k, v in samples.items() if k[0] == name and want <= set(k[1])}


def _fault(sim: SimThread, fault: str, pod: str, **params: object) -> None:
    admin = sim.manifest and f"http://127.0.0.1:{sim.cfg.admin_port}"
    r = shared_client().post(
        f"{admin}/faults", json={"fault": fault, "target": pod, "params": params}
    )
    assert r.status_code == 200, r.text


def _clear(sim: SimThread) -> None:
    httpx.delete(f"http://127.0.0.1:{sim.cfg.admin_port}/faults")


def test_healthy_pods_deployments_and_nodes(sim):
    s = _scrape(sim)
    pods = [r["pod"] for r in sim.manifest["replicas"]]
    for pod in pods:
        assert list(_of(s, "kube_pod_status_ready", pod=pod, condition="true").values()) == [1]
        assert list(_of(s, "kube_pod_status_phase", pod=pod, phase="Running").values()) == [1]
        assert _of(s, "kube_pod_status_unschedulable", pod=pod) == {}
    labels = _of(s, "kube_pod_labels", pod=pods[-1])
    (only,) = labels
    assert dict(only)["label_app_kubernetes_io_instance"] == "t1"
    assert dict(only)["label_app_kubernetes_io_name"] == "tgi"
    spec = _of(s, "kube_deployment_spec_replicas", deployment="tgi-t1")
    ready = _of(s, "kube_deployment_status_replicas_ready", deployment="tgi-t1")
    assert list(spec.values()) == [2] and list(ready.values()) == [2]
    alloc = _of(s, "kube_node_status_allocatable", resource="nvidia_com_gpu")
    assert sorted(alloc.values()) == [4]
    node_labels = _of(s, "kube_node_labels", label_karpenter_sh_nodepool="gpu-pool")
    assert len(node_labels) == 1


def test_pending_for_gpu_unschedules_the_pod_and_takes_every_free_gpu(sim):
    pod = sim.manifest["replicas"][0]["pod"]
    try:
        _fault(sim, "pod-pending-gpu", pod)
        s = _scrape(sim)
        assert list(_of(s, "kube_pod_status_unschedulable", pod=pod).values()) == [1]
        assert list(_of(s, "kube_pod_status_phase", pod=pod, phase="Pending").values()) == [1]
        assert _of(s, "kube_pod_status_ready", pod=pod) == {}  # no Ready condition yet
        (req,) = _of(s, "kube_pod_container_resource_requests", pod=pod)
        assert dict(req)["node"] == ""
        requested = sum(
            v for k, v in _of(s, "kube_pod_container_resource_requests").items() if dict(k)["node"]
        )
        assert requested == 4  # 3 replicas left + the batch job on the freed GPU
        ready = _of(s, "kube_deployment_status_replicas_ready", deployment="vllm-m1")
        assert list(ready.values()) == [1]
        port = sim.manifest["replicas"][0]["port"]
        with pytest.raises(httpx.TransportError):
            shared_client().get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    finally:
        _clear(sim)
    s = _scrape(sim)
    assert list(_of(s, "kube_pod_status_ready", pod=pod, condition="true").values()) == [1]


def test_crash_loop_waits_with_the_reason_and_counts_restarts(sim):
    pod = sim.manifest["replicas"][1]["pod"]
    try:
        _fault(sim, "crash-loop", pod, reason="OOMKilled", restart_every_s=1.0)
        first = _scrape(sim)
        time.sleep(2.2)
        later = _scrape(sim)
        waiting = _of(later, "kube_pod_container_status_waiting_reason", pod=pod)
        assert [dict(k)["reason"] for k in waiting] == ["CrashLoopBackOff"]
        last = _of(later, "kube_pod_container_status_last_terminated_reason", pod=pod)
        assert [dict(k)["reason"] for k in last] == ["OOMKilled"]
        (r0,) = _of(first, "kube_pod_container_status_restarts_total", pod=pod).values()
        (r1,) = _of(later, "kube_pod_container_status_restarts_total", pod=pod).values()
        assert r0 >= 1 and r1 >= r0 + 2
        assert _of(later, "kube_pod_container_state_started", pod=pod) == {}
        ready = _of(later, "kube_pod_status_ready", pod=pod, condition="true")
        assert list(ready.values()) == [0]
    finally:
        _clear(sim)
    (after,) = _of(_scrape(sim), "kube_pod_container_status_restarts_total", pod=pod).values()
    assert after >= r1  # a counter never goes back


def test_slow_start_restarts_the_container_and_stays_not_ready(sim):
    pod = sim.manifest["replicas"][2]["pod"]
    before = time.time()
    try:
        _fault(sim, "slow-start", pod)
        s = _scrape(sim)
        (started,) = _of(s, "kube_pod_container_state_started", pod=pod).values()
        assert started >= int(before)
        assert list(_of(s, "kube_pod_container_status_running", pod=pod).values()) == [1]
        ready = _of(s, "kube_pod_status_ready", pod=pod, condition="true")
        assert list(ready.values()) == [0]
        assert _of(s, "kube_pod_container_status_waiting_reason", pod=pod) == {}
    finally:
        _clear(sim)
