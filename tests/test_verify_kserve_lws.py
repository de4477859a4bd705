"""`obsctl verify`'s KServe and LeaderWorkerSet checks against the fake API server, with the
rendered least-privilege RBAC enforced. The objects are shaped as the controllers report
them (KServe v0.20.0 `llm_inference_service_lifecycle.go` conditions, ODH odh-v3.5
monitors, LWS v0.10.0 pod labels and status): healthy objects pass, and each failure
(not Ready, scraped twice, not scraped, a worker down, a pod missing) is a FAIL naming
the cause and the fix."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kserve_helpers import KSERVE_KEY, KSERVE_NS, kserve_data
from verify_fakes.cluster import write_kubeconfig
from verify_fakes.kube import FakeKube

from observability.config import BundleConfig, parse_config
from observability.render.rbac import rbac
from observability.runtimes.kserve import (
    PER_SERVICE_MONITOR,
    PER_SERVICE_MONITOR_DEFAULT,
    controller_monitor,
)
from observability.verify import Options, Status
from observability.verify.checks_runtimes import CHECKS
from observability.verify.context import VerifyContext
from observability.verify.k8s import Cluster

RUN = {c.id: c.run for c in CHECKS}
LWS_KEY = "llama-3-8b-instruct"
LWS_NS = "vllm-llama"
SET = f"vllm-{LWS_KEY}-lws"
T = "2026-12-01T10:00:00Z"


def _cond(kind: str, status: str = "True", reason: str = "", message: str = "") -> dict[str, Any]:
    c = {"type": kind, "status": status, "lastTransitionTime": T}
    if reason:
        c.update(reason=reason, message=message)
    return c


def _llmisvc(ready: bool = True) -> dict[str, Any]:
    """As KServe v0.20.0 reports a single-node LLMInferenceService: Ready rolls up
    PresetsCombined, WorkloadsReady (MainWorkloadReady) and RouterReady."""
    why = ("MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    main = _cond("MainWorkloadReady") if ready else _cond("MainWorkloadReady", "False", *why)
    rolled = (lambda k: _cond(k)) if ready else (lambda k: _cond(k, "False", *why))
    return {
        "apiVersion": "serving.kserve.io/v1alpha2",
        "kind": "LLMInferenceService",
        "metadata": {"name": KSERVE_KEY, "namespace": KSERVE_NS, "generation": 1},
        "status": {
            "observedGeneration": 1,
            "url": f"http://{KSERVE_KEY}.{KSERVE_NS}.svc.cluster.local",
            "conditions": [
                _cond("HTTPRoutesReady"),
                _cond("InferencePoolReady"),
                main,
                _cond("PresetsCombined"),
                rolled("Ready"),
                _cond("RouterReady"),
                _cond("SchedulerWorkloadReady"),
                rolled("WorkloadsReady"),
            ],
        },
    }


def _pod(group: int, worker: int, ready: bool = True, waiting: str = "") -> dict[str, Any]:
    """A pod of the set as the LWS v0.10.0 controller labels it."""
    name = f"{SET}-{group}" + (f"-{worker}" if worker else "")
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [
            _cond("PodScheduled"),
            _cond("Initialized"),
            _cond("ContainersReady", "True" if ready else "False"),
            _cond("Ready", "True" if ready else "False"),
        ],
        "containerStatuses": [
            {
                "name": "vllm" if worker == 0 else "ray-worker",
                "ready": ready,
                "restartCount": 0 if ready else 4,
                "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}},
            }
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": LWS_NS,
            "labels": {
                "leaderworkerset.sigs.k8s.io/name": SET,
                "leaderworkerset.sigs.k8s.io/group-index": str(group),
                "leaderworkerset.sigs.k8s.io/worker-index": str(worker),
                "leaderworkerset.sigs.k8s.io/group-key": f"{group:040x}",
            },
        },
        "status": status,
    }


def _lws(ready_groups: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": {"name": SET, "namespace": LWS_NS, "generation": 1},
        "spec": {"replicas": 2, "leaderWorkerTemplate": {"size": 2}},
        "status": {
            "readyReplicas": ready_groups,
            "replicas": 2,
            "updatedReplicas": 2,
            "hpaPodSelector": f"leaderworkerset.sigs.k8s.io/name={SET},"
            "leaderworkerset.sigs.k8s.io/worker-index=0",
            "conditions": [
                _cond("Available", reason="AllGroupsReady", message="All replicas are ready")
            ],
        },
    }


def _data(repo_root: Path, controller_monitors: bool) -> dict[str, Any]:
    data = kserve_data(
        repo_root, api="llm-inference-service", controller_monitors=controller_monitors
    )
    data["models"][LWS_KEY]["runtime"] = "lws"
    data["models"][LWS_KEY]["nodes"] = 2
    data["vllm"]["replicas"] = 2
    return data


@pytest.fixture(scope="module")
def cfg(repo_root: Path) -> BundleConfig:
    return parse_config(_data(repo_root, controller_monitors=False))


@pytest.fixture
def kube(cfg: BundleConfig) -> Iterator[FakeKube]:
    fake = FakeKube(rbac=rbac(cfg)).start()
    fake.add(_llmisvc(), _lws(), *(_pod(g, w) for g in range(2) for w in range(2)))
    try:
        yield fake
    finally:
        fake.stop()


def _run(check: str, cfg: BundleConfig, kube: FakeKube, tmp_path: Path):
    kc = write_kubeconfig(tmp_path / "kubeconfig", kube.url)
    ctx = VerifyContext(cfg, Cluster.connect(str(kc)), Options())
    return RUN[check](ctx)


def test_healthy_objects_pass(cfg, kube, tmp_path) -> None:
    ks = _run("runtime.kserve", cfg, kube, tmp_path)
    assert ks.status == Status.PASS, ks
    assert f"{KSERVE_NS}/{KSERVE_KEY}" in ks.evidence
    lws = _run("runtime.lws", cfg, kube, tmp_path)
    assert lws.status == Status.PASS, lws
    assert f"{LWS_NS}/{SET} (2 group(s) of 2 pods ready)" in lws.evidence
    assert kube.denied == []  # the rendered RBAC grants exactly what the checks read


def test_llmisvc_not_ready_quotes_the_failing_workload(cfg, kube, tmp_path) -> None:
    kube.remove("LLMInferenceService", KSERVE_KEY, KSERVE_NS)
    kube.add(_llmisvc(ready=False))
    out = _run("runtime.kserve", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert out.evidence.startswith(f"LLMInferenceService {KSERVE_NS}/{KSERVE_KEY} not ready (")
    # the sub-condition first, the roll-ups after it, Ready last
    assert "MainWorkloadReady: MinimumReplicasUnavailable" in out.evidence
    assert out.evidence.index("MainWorkloadReady") < out.evidence.index("Ready: Minimum")
    # KServe lists conditions by type, Ready before WorkloadsReady: Ready is moved last
    # (generated mutant: the sort key `== "Ready"` -> `is not "Ready"` kept KServe's order)
    failing = [part.split(":")[0] for part in out.evidence.split("(", 1)[1].split("; ")]
    assert failing == ["MainWorkloadReady", "WorkloadsReady", "Ready"], out.evidence
    assert "no free GPU" in out.fix


def test_llmisvc_missing(cfg, kube, tmp_path) -> None:
    kube.remove("LLMInferenceService", KSERVE_KEY, KSERVE_NS)
    out = _run("runtime.kserve", cfg, kube, tmp_path)
    assert out.status == Status.FAIL and "does not exist" in out.evidence


def test_kserve_monitor_beside_the_bundles_counts_twice(cfg, kube, tmp_path) -> None:
    """controller_monitors false renders kserve-vllm; an ODH controller adds its own."""
    kube.add(controller_monitor(KSERVE_NS, renamed=False), controller_monitor(KSERVE_NS, True))
    out = _run("runtime.kserve", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert "kserve-llm-isvc-vllm-engine-default" in out.evidence
    assert "counted twice" in out.evidence and "controller_monitors: true" in out.fix
    # the renamed one alone adds kserve_vllm:* names nothing reads: not a double count
    kube.remove("PodMonitor", "kserve-llm-isvc-vllm-engine-default", KSERVE_NS)
    assert _run("runtime.kserve", cfg, kube, tmp_path).status == Status.PASS


def _per_service(renamed: bool) -> dict[str, Any]:
    """A newer ODH build's per-service monitor (opendatahub-io/kserve 31001035): the same
    spec, named `<name>-kserve-llmisvc-engine[-default]`."""
    mon = controller_monitor(KSERVE_NS, renamed)
    suffix = PER_SERVICE_MONITOR if renamed else PER_SERVICE_MONITOR_DEFAULT
    mon["metadata"]["name"] = KSERVE_KEY + suffix
    return mon


def test_per_service_monitor_beside_the_bundles_counts_twice(cfg, kube, tmp_path) -> None:
    kube.add(_per_service(renamed=False))
    out = _run("runtime.kserve", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert f"{KSERVE_KEY}-kserve-llmisvc-engine-default" in out.evidence


def test_controller_monitors_without_kserves_monitors_scrapes_nothing(
    repo_root, kube, tmp_path
) -> None:
    odh = parse_config(_data(repo_root, controller_monitors=True))
    out = _run("runtime.kserve", odh, kube, tmp_path)
    assert out.status == Status.FAIL
    assert f"no engine monitor scrapes namespace {KSERVE_NS}" in out.evidence
    assert "controller_monitors: false" in out.fix
    kube.add(_per_service(renamed=True))  # a newer build's, per service
    assert _run("runtime.kserve", odh, kube, tmp_path).status == Status.PASS


def test_worker_not_ready_names_its_group_and_pod(cfg, kube, tmp_path) -> None:
    kube.remove("Pod", f"{SET}-1-1", LWS_NS)
    kube.add(_pod(1, 1, ready=False, waiting="CrashLoopBackOff"))
    out = _run("runtime.lws", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert f"group 1: worker {SET}-1-1 not ready (Running, CrashLoopBackOff)" in out.evidence
    assert "group 0" not in out.evidence
    assert "6379" in out.fix


def test_missing_pod_and_leader_down(cfg, kube, tmp_path) -> None:
    kube.remove("Pod", f"{SET}-0-1", LWS_NS)
    kube.remove("Pod", f"{SET}-1", LWS_NS)
    kube.add(_pod(1, 0, ready=False))
    out = _run("runtime.lws", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert "group 0 has 1 of 2 pods" in out.evidence
    assert f"group 1: leader {SET}-1 not ready" in out.evidence


def test_leaderworkerset_missing(cfg, kube, tmp_path) -> None:
    kube.remove("LeaderWorkerSet", SET, LWS_NS)
    out = _run("runtime.lws", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert "does not exist" in out.evidence and "lws Application" in out.fix


def test_rbac_without_the_runtime_rules_is_denied(cfg, tmp_path) -> None:
    roles = copy.deepcopy(rbac(cfg))
    for role in roles:
        role["rules"] = [
            r
            for r in role.get("rules", [])
            if "leaderworkerset.x-k8s.io" not in r.get("apiGroups", [])
        ]
    with FakeKube(rbac=roles) as fake:
        fake.add(_lws())
        kc = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
        ctx = VerifyContext(cfg, Cluster.connect(str(kc)), Options())
        with pytest.raises(Exception) as err:
            RUN["runtime.lws"](ctx)
        assert "leaderworkersets" in str(err.value) and fake.denied


def test_checks_apply_only_with_their_runtime(bundle, cfg) -> None:
    applies = {c.id for c in CHECKS if c.applies is not None and c.applies(cfg)}
    assert {"runtime.kserve", "runtime.lws"} <= applies
    assert not {"runtime.kserve", "runtime.lws"} & {
        c.id for c in CHECKS if c.applies is not None and c.applies(bundle)
    }


def test_llmisvc_not_ready_and_counted_twice_says_both(cfg, kube, tmp_path) -> None:
    """Two failures at once, the service not ready and its engine scraped twice: the
    evidence and the fix name both, the not-ready one first."""
    kube.remove("LLMInferenceService", KSERVE_KEY, KSERVE_NS)
    kube.add(_llmisvc(ready=False), controller_monitor(KSERVE_NS, renamed=False))
    out = _run("runtime.kserve", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert out.evidence.startswith(f"LLMInferenceService {KSERVE_NS}/{KSERVE_KEY} not ready (")
    assert "counted twice" in out.evidence
    assert "no free GPU" in out.fix and "controller_monitors: true" in out.fix


def test_a_not_ready_pod_is_explained_by_its_false_conditions_only(cfg, kube, tmp_path) -> None:
    """A worker failing its readiness probe (no container waiting): the why is the reason of
    the conditions that are not True; a True one's reason (a readiness gate that passed) is
    not quoted."""
    kube.remove("Pod", f"{SET}-1-1", LWS_NS)
    pod = _pod(1, 1, ready=False)
    for c in pod["status"]["conditions"]:
        if c["status"] == "False":
            c.update(reason="ContainersNotReady", message="containers with unready status")
    pod["status"]["conditions"].append(_cond("example.com/gate-ready", "True", "GateOpen", "ok"))
    kube.add(pod)
    out = _run("runtime.lws", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert f"worker {SET}-1-1 not ready (Running, ContainersNotReady" in out.evidence
    assert "GateOpen" not in out.evidence, out.evidence
