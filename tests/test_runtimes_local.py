"""Runtimes locally, for real: the simulator serves Ray's exported names, Prometheus
scrapes them through the rendered PodMonitor (translated like the operator does) and the
mapping rules, and fault scenarios fire the same alerts as on a plain vLLM Deployment."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scenario_helpers import run_side_by_side, scenario_cmd, scenario_results

from observability.config import BundleConfig
from observability.httppool import shared_client
from observability.local.stack import LocalStack, StackOptions, with_runtime
from observability.local.webhook import fetch_notifications
from observability.metrics.catalog import runtime_catalog, vllm_catalog
from observability.promapi import Prometheus
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


@pytest.mark.parametrize(
    ("ray", "vllm", "waiting", "counter", "twin", "tags"),
    [
        # 2.49 (OpenCensus, vLLM 0.10.1): colon kept, deprecated bare gauge twin
        ("2.49.2", "0.10.1", "ray_vllm:num_requests_waiting", "ray_vllm:num_preemptions_total",
         "ray_vllm:num_preemptions", {"WorkerId", "model_name", "SessionName"}),
        # 2.58 (OpenTelemetry, vLLM 0.26.0): sanitized, ReplicaId, no twin
        ("2.58.0", "0.26.0", "ray_vllm_num_requests_waiting", "ray_vllm_num_preemptions_total",
         None, {"WorkerId", "model_name", "SessionName", "ReplicaId"}),
    ],
)  # fmt: skip
def test_ray_exposition_uses_only_catalogued_names_and_labels(
    ray: str, vllm: str, waiting: str, counter: str, twin: str | None, tags: set[str]
) -> None:
    metrics = ReplicaMetrics(vllm_catalog(vllm), "m", {})
    stats = RayServeStats("r1", {"200": 3, "500": 1}, errors=1, ray_version=ray)
    text = ray_worker_exposition(metrics.exposition().decode(), "pod-a", stats).decode()
    stats.healthy = False
    head = RayHead("h", "ns", "k", 1, [stats], ray_version=ray)
    text += head.exposition().decode()
    cat = runtime_catalog(f"ray-{ray}.json")
    seen = _series(text)
    assert waiting in seen and counter in seen
    assert (twin in seen) if twin else not [n for n in seen if n + "_total" in seen]
    assert "ray_serve_deployment_replica_healthy" in seen
    assert not [n for n in seen if n.startswith(("vllm:", "vllm_", "http_", "python_"))]
    for name, labels in seen.items():
        fam = cat.family(name)
        assert fam is not None, name
        assert labels - {"le"} <= set(fam.labels), (name, labels - set(fam.labels))
    assert tags <= seen[waiting.replace("waiting", "running")]
    assert {
        v for s in text.splitlines() if 'Version="' in s for v in [s.split('Version="')[1][:6]]
    } == {ray}


# The scenarios whose alerts read the mapped engine series or the PodMonitor's targets;
# the GPU and pod-lifecycle ones read DCGM and kube-state-metrics, which Ray leaves alone
# (they pass on both generations too: docs/runtimes/rayservice.md). error-storm pages on
# both through Ray Serve's proxy counters (run by hand, docs/runtimes/rayservice.md run D;
# not here, to keep this test's four stacks within its time). latency-degradation is left
# out too: it pages both TTFT and ITL on both generations as the first scenario of a fresh
# two-model stack, but after other scenarios (or with the Ray model alone) ITL pages later
# than it waits, on both generations alike (docs/runtimes/rayservice.md, Measured).
RAY_SCENARIOS = (
    "metrics-disabled",
    "benign",
    "replica-crash",
    "kv-saturation",
    "engine-hang",
)


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_rayservice_scenarios_page_on_both_naming_generations(repo_root: Path) -> None:
    """One stack per Ray naming generation, at once: the only model runs on a RayService
    whose worker pods export `ray_vllm_<name>` (2.58.0) or `ray_vllm:<name>` (2.49.2), is
    scraped through the rendered PodMonitor and mapped by the rendered rules; every
    scenario pages what it pages on plain vLLM, on the Ray worker pods."""
    extra = ("--runtime", "rayservice", "--models", "1")  # the Ray model alone
    # Two stacks per generation (four at once), each running its part of the list in order.
    # kv-saturation stays behind replica-crash: as the first scenario of a fresh stack it
    # did not page on either generation in 100 s (measured beside six other stacks).
    halves = (RAY_SCENARIOS[:2], RAY_SCENARIOS[2:])
    cmds = {
        (v, half): [*scenario_cmd(repo_root, half), *extra, "--ray-version", v]
        for v in ("2.58.0", "2.49.2")
        for half in halves
    }
    failures = []
    for (v, half), (_rc, out, err) in run_side_by_side(cmds, timeout=560).items():
        try:
            results = scenario_results(out, err)
        except AssertionError as no_results:
            failures.append(f"ray {v} {half}: {no_results}")
            continue
        assert [r["scenario"] for r in results] == list(half)
        for res in results:
            if res["targets"]:
                assert all("-gpu-group-worker-" in t for t in res["targets"]), res
            if not res["ok"]:
                failures.append(f"ray {v}: {json.dumps(res)}")
            for a in res["alerts"]:
                if a.get("expected") and a.get("webhook_s") is not None:
                    print(f"ray {v} {res['scenario']}: {a['alert']} after {a['webhook_s']:.1f}s")
    assert not failures, "\n".join(failures)


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
        shared_client().post(
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
