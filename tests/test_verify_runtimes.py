"""`obsctl verify` runtime and autoscaling checks against the fake API server, with the
rendered least-privilege RBAC enforced: healthy objects pass, and each failure (object
missing, not ready, HPA missing, permission) is a FAIL naming the cause and the fix."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runtimes_helpers import AIBRIX_KEY, RAY_KEY, VLLM_KEY, keda_data
from verify_fakes.cluster import write_kubeconfig
from verify_fakes.kube import FakeKube

from observability.config import BundleConfig, parse_config
from observability.render.rbac import rbac
from observability.verify import Options, Status
from observability.verify.checks_runtimes import CHECKS
from observability.verify.context import VerifyContext
from observability.verify.k8s import Cluster

RUN = {c.id: c.run for c in CHECKS}


def _ready(kind: str, name: str, ns: str, status: str = "True", msg: str = "") -> dict[str, Any]:
    api = {"RayService": "ray.io/v1", "ScaledObject": "keda.sh/v1alpha1"}[kind]
    cond = {"type": "Ready", "status": status, "reason": "Recorded", "message": msg}
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "status": {"conditions": [cond]},
    }


def _hpa(name: str, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"minReplicas": 1, "maxReplicas": 4},
        "status": {"currentReplicas": 2, "desiredReplicas": 3},
    }


@pytest.fixture(scope="module")
def cfg(repo_root: Path) -> BundleConfig:
    return parse_config(keda_data(repo_root))


@pytest.fixture
def kube(cfg: BundleConfig) -> Iterator[FakeKube]:
    fake = FakeKube(rbac=rbac(cfg)).start()
    fake.add(
        _ready("RayService", f"vllm-{RAY_KEY}", "vllm-llama"),
        _ready("ScaledObject", f"vllm-{VLLM_KEY}", "vllm"),
        _hpa(f"keda-hpa-vllm-{VLLM_KEY}", "vllm"),
        _ready("ScaledObject", f"vllm-{AIBRIX_KEY}", "vllm"),
        _hpa(f"keda-hpa-vllm-{AIBRIX_KEY}", "vllm"),
    )
    try:
        yield fake
    finally:
        fake.stop()


def _run(check: str, cfg: BundleConfig, kube: FakeKube, tmp_path: Path):
    kc = write_kubeconfig(tmp_path / "kubeconfig", kube.url)
    ctx = VerifyContext(cfg, Cluster.connect(str(kc)), Options())
    return RUN[check](ctx)


def test_healthy_objects_pass(cfg, kube, tmp_path) -> None:
    ray = _run("runtime.rayservice", cfg, kube, tmp_path)
    assert ray.status == Status.PASS, ray
    assert f"vllm-llama/vllm-{RAY_KEY}" in ray.evidence
    keda = _run("autoscaling.keda", cfg, kube, tmp_path)
    assert keda.status == Status.PASS, keda
    assert "2 current, 3 desired" in keda.evidence
    assert kube.denied == []  # the rendered RBAC grants exactly what the checks read


def test_rayservice_missing(cfg, kube, tmp_path) -> None:
    kube.remove("RayService", f"vllm-{RAY_KEY}", "vllm-llama")
    out = _run("runtime.rayservice", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert "does not exist" in out.evidence and "kuberay-operator" in out.fix


def test_rayservice_not_ready_quotes_the_condition(cfg, kube, tmp_path) -> None:
    rs = kube.get("RayService", f"vllm-{RAY_KEY}", "vllm-llama")
    rs["status"]["conditions"][0].update(status="False", message="Serve app llm DEPLOY_FAILED")
    out = _run("runtime.rayservice", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert "DEPLOY_FAILED" in out.evidence and "Pending workers" in out.fix


@pytest.mark.parametrize(
    ("service_status", "status"),
    [
        ("Running", Status.PASS),
        ("Restarting", Status.FAIL),
        ("FailedToGetOrCreateRayCluster", Status.FAIL),
    ],
)
def test_rayservice_without_a_ready_condition_reads_its_service_status(
    cfg, kube, tmp_path, service_status, status
) -> None:
    """A RayService of a KubeRay without the Ready condition is ready only when its
    serviceStatus is Running (generated mutant: `== "Running"` -> `<` took Restarting and
    FailedTo... for ready)."""
    rs = kube.get("RayService", f"vllm-{RAY_KEY}", "vllm-llama")
    rs["status"] = {"serviceStatus": service_status}
    out = _run("runtime.rayservice", cfg, kube, tmp_path)
    assert out.status == status, out
    if status == Status.FAIL:
        assert f"not ready ({service_status})" in out.evidence


def test_scaled_object_not_ready(cfg, kube, tmp_path) -> None:
    so = kube.get("ScaledObject", f"vllm-{VLLM_KEY}", "vllm")
    so["status"]["conditions"][0].update(
        status="False", message="error querying prometheus: connection refused"
    )
    out = _run("autoscaling.keda", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert "connection refused" in out.evidence and "server address" in out.fix


def test_hpa_missing(cfg, kube, tmp_path) -> None:
    kube.remove("HorizontalPodAutoscaler", f"keda-hpa-vllm-{VLLM_KEY}", "vllm")
    out = _run("autoscaling.keda", cfg, kube, tmp_path)
    assert out.status == Status.FAIL
    assert f"keda-hpa-vllm-{VLLM_KEY} is missing" in out.evidence


def test_scaled_object_missing(cfg, kube, tmp_path) -> None:
    kube.remove("ScaledObject", f"vllm-{VLLM_KEY}", "vllm")
    out = _run("autoscaling.keda", cfg, kube, tmp_path)
    assert out.status == Status.FAIL and "keda Application" in out.fix


def test_rbac_without_the_runtime_rules_is_denied(cfg, tmp_path) -> None:
    roles = copy.deepcopy(rbac(cfg))
    for role in roles:
        role["rules"] = [r for r in role.get("rules", []) if "ray.io" not in r.get("apiGroups", [])]
    with FakeKube(rbac=roles) as fake:
        fake.add(_ready("RayService", f"vllm-{RAY_KEY}", "vllm-llama"))
        kc = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
        ctx = VerifyContext(cfg, Cluster.connect(str(kc)), Options())
        with pytest.raises(Exception) as err:
            RUN["runtime.rayservice"](ctx)
        assert "rayservices" in str(err.value) and fake.denied


def test_left_out_where_not_used(bundle, cfg) -> None:
    assert not [c.id for c in CHECKS if c.applies is not None and c.applies(bundle)]
    applies = {c.id for c in CHECKS if c.applies is not None and c.applies(cfg)}
    # KServe and LWS models are not in this bundle (tests/test_verify_kserve_lws.py)
    assert applies == {"runtime.rayservice", "runtime.aibrix", "autoscaling.keda"}
