"""Runtimes locally, for real: the simulator serves Ray's exported names, Prometheus
scrapes them through the rendered PodMonitor (translated like the operator does) and the
mapping rules, and fault scenarios fire the same alerts as on a plain vLLM Deployment."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from observability.config import BundleConfig
from observability.local.stack import LocalStack, StackOptions, with_runtime
from observability.local.webhook import fetch_notifications
from observability.metrics.catalog import runtime_catalog, vllm_catalog
from observability.promapi import Prometheus
from observability.scenarios import SCENARIOS, run_scenario
from observability.sim.aibrix import CONTROLLER, GATEWAY, AibrixComponent
from observability.sim.metrics import ReplicaMetrics
from observability.sim.ray import RayHead, RayServeStats, ray_worker_exposition
from observability.verify import Options, Status
from observability.verify.checks_runtimes import CHECKS as RUNTIME_CHECKS
from observability.verify.context import VerifyContext


def _series(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def test_ray_exposition_uses_only_catalogued_names_and_labels() -> None:
    metrics = ReplicaMetrics(vllm_catalog("0.10.1"), "m", {})
    stats = RayServeStats("r1", {"200": 3, "500": 1}, errors=1)
    text = ray_worker_exposition(metrics.exposition().decode(), "pod-a", stats).decode()
    text += RayHead("h", "ns", "k", 1, [(stats, True)]).exposition({"r1": False}).decode()
    cat = runtime_catalog("ray-2.49.2.json")
    seen = _series(text)
    assert "ray_vllm:num_requests_waiting" in seen
    assert "ray_vllm:num_preemptions_total" in seen and "ray_vllm:num_preemptions" in seen
    assert "ray_serve_deployment_replica_healthy" in seen
    assert not [n for n in seen if n.startswith(("vllm:", "http_", "python_", "process_"))]
    for name, labels in seen.items():
        fam = cat.family(name)
        assert fam is not None, name
        assert labels - {"le"} <= set(fam.labels), (name, labels - set(fam.labels))
    assert {"WorkerId", "model_name", "SessionName"} <= seen["ray_vllm:num_requests_running"]


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_rayservice_scenarios_fire_through_the_pod_monitor(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    cfg = with_runtime(bundle, "rayservice")
    opts = StackOptions(
        cfg=cfg, repo_root=repo_root, profile="fast", replicas=2, state_file=tmp_path / "s.json"
    )
    stack = LocalStack(opts)
    try:
        stack.start()
        ray_pod = stack.running.replicas[0].pod
        assert "-gpu-group-worker-" in ray_pod
        jobs = {t["labels"]["job"] for t in stack.targets()}
        assert "monitoring/ray-vllm" in jobs
        raw: list = []
        mapped: list = []
        deadline = time.monotonic() + 15  # a scrape, then a rule evaluation (1 s each)
        with Prometheus(stack.prometheus_url) as prom:
            while not (raw and mapped) and time.monotonic() < deadline:
                time.sleep(0.5)
                raw = prom.query(f'ray_vllm:num_requests_running{{pod="{ray_pod}"}}')
                mapped = prom.query(f'vllm:num_requests_running{{pod="{ray_pod}"}}')
        assert raw and mapped
        assert mapped[0]["metric"]["job"] == "monitoring/ray-vllm"
        with Prometheus(stack.prometheus_url) as prom:  # the Ray Serve row's series
            assert prom.query("ray_serve_num_http_requests_total")
            assert prom.query("ray_serve_deployment_replica_healthy == 1")
        handle = stack.running
        # TargetDown through the PodMonitor's job; TTFT/ITL through the mapped histograms.
        for name in ("replica-crash", "latency-degradation"):
            res = run_scenario(SCENARIOS[name], handle, settle_s=30)
            assert ray_pod in res.targets
            assert res.ok, res
            for t in res.alerts:
                if t.expected:
                    print(f"rayservice {name}: {t.alert} webhook after {t.webhook_s:.1f}s")
    finally:
        stack.stop()


def test_aibrix_gateway_exposition_is_catalogued() -> None:
    gw = AibrixComponent.make(GATEWAY, "aibrix-system", 1, 0)
    gw.observe("m", 200)
    gw.observe("m", 500)
    ctl = AibrixComponent.make(CONTROLLER, "aibrix-system", 2, 0)
    cat = runtime_catalog("aibrix-0.7.0.json")
    for comp in (gw, ctl):
        for name, labels in _series(comp.exposition().decode()).items():
            fam = cat.family(name)
            assert fam is not None, name
            assert labels <= set(fam.labels), (name, labels - set(fam.labels))


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_aibrix_gateway_down_fires_through_its_service_monitor(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    cfg = with_runtime(bundle, "aibrix")
    opts = StackOptions(
        cfg=cfg, repo_root=repo_root, profile="fast", replicas=1, state_file=tmp_path / "s.json"
    )
    stack = LocalStack(opts)
    try:
        stack.start()
        jobs = {t["labels"]["job"] for t in stack.targets()}
        assert {"aibrix-gateway-plugins", "aibrix-controller-manager-metrics-service"} <= jobs
        gateway = next(c for c in stack.running.aibrix if c.component == GATEWAY)
        served = stack.running.replicas[0].model
        deadline = time.monotonic() + 20
        seen: list = []
        with Prometheus(stack.prometheus_url) as prom:
            while not seen and time.monotonic() < deadline:
                time.sleep(0.5)
                seen = prom.query(f'gateway_request_model_success_total{{model="{served}"}}')
        assert seen, "the gateway counts the aibrix model's requests"
        opts_v = Options(prometheus_url=stack.prometheus_url, local=True)
        check = next(c for c in RUNTIME_CHECKS if c.id == "runtime.aibrix")
        healthy = check.run(VerifyContext(cfg, None, opts_v))
        assert healthy.status == Status.PASS, healthy
        t0 = time.time()
        httpx.post(
            f"{stack.admin_url}/faults", json={"fault": "crash", "target": gateway.pod}
        ).raise_for_status()
        fired = None
        while fired is None and time.time() - t0 < 120:
            time.sleep(0.5)
            for n in fetch_notifications(stack.running.webhook_url, since=t0):
                if "AIBrixComponentDown" in n.alertnames():
                    fired = n.received_at - t0
        assert fired is not None, "AIBrixComponentDown never reached the webhook"
        print(f"aibrix gateway-down: AIBrixComponentDown webhook after {fired:.1f}s")
        broken = check.run(VerifyContext(cfg, None, opts_v))
        assert broken.status == Status.FAIL and "gateway-plugins target down" in broken.evidence
    finally:
        stack.stop()
