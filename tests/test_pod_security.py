"""Every pod template the bundle renders meets Pod Security `restricted`, and the lint rule
that says so (observability/lint/podsecurity.py) catches each way to break it.

The bundle renders one model per registered runtime (testkit/workloads.py), so a runtime
added to the registry is held to this without a change here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from observability.lint.findings import Finding
from observability.lint.manifests import Manifest
from observability.lint.podsecurity import check_pod_security, pod_specs
from observability.runtimes import REGISTRY
from testkit.workloads import every_workload_data, rendered_manifests, runtime_key


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> list[Manifest]:
    _cfg, ms = rendered_manifests(every_workload_data(), tmp_path_factory.mktemp("workloads"))
    return ms


def _templates(manifests: list[Manifest]) -> list[tuple[Manifest, str]]:
    return [(m, path) for m in manifests for path, _spec in pod_specs(m.obj)]


def test_every_rendered_pod_template_meets_restricted(manifests):
    assert check_pod_security(manifests) == []


def test_every_template_kind_and_every_runtime_is_reached(manifests):
    owners = {(m.kind, str(m.obj["metadata"]["name"])) for m, _path in _templates(manifests)}
    kinds = {kind for kind, _name in owners}
    # the vLLM and TGI Deployments, the verify CronJob, KubeRay's RayService
    assert {"Deployment", "CronJob", "RayService"} <= kinds
    for name in REGISTRY:
        key = runtime_key(name)
        assert any(key in owner for _kind, owner in owners), f"runtime {name}: no pod template"
    # the S3 model's init container (from its overlay's patch, in the built output)
    assert any(spec.get("initContainers") for m in manifests for _path, spec in pod_specs(m.obj))


def _first(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["containers"][0]


def _csc(spec: dict[str, Any]) -> dict[str, Any]:
    return _first(spec).setdefault("securityContext", {})


def _psc(spec: dict[str, Any]) -> dict[str, Any]:
    return spec.setdefault("securityContext", {})


# Each breakage, and the field (suffix) its finding must name.
BREAKAGES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "capabilities-not-dropped": (
        lambda s: _csc(s).pop("capabilities", None),
        "containers[0].securityContext.capabilities.drop",
    ),
    "capability-added": (
        lambda s: _csc(s).update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "containers[0].securityContext.capabilities.add",
    ),
    "privilege-escalation": (
        lambda s: _csc(s).update(allowPrivilegeEscalation=True),
        "containers[0].securityContext.allowPrivilegeEscalation",
    ),
    "escalation-unset": (
        lambda s: _csc(s).pop("allowPrivilegeEscalation", None),
        "containers[0].securityContext.allowPrivilegeEscalation",
    ),
    "privileged": (
        lambda s: _csc(s).update(privileged=True),
        "containers[0].securityContext.privileged",
    ),
    "container-may-run-as-root": (
        lambda s: _csc(s).update(runAsNonRoot=False),
        "containers[0].securityContext.runAsNonRoot",
    ),
    "non-root-nowhere": (
        lambda s: (_csc(s).pop("runAsNonRoot", None), _psc(s).pop("runAsNonRoot", None)),
        "containers[0].securityContext.runAsNonRoot",
    ),
    "uid-0": (lambda s: _psc(s).update(runAsUser=0), "securityContext.runAsUser"),
    "seccomp-unconfined": (
        lambda s: _psc(s).update(seccompProfile={"type": "Unconfined"}),
        "securityContext.seccompProfile.type",
    ),
    "seccomp-nowhere": (
        lambda s: (_psc(s).pop("seccompProfile", None), _csc(s).pop("seccompProfile", None)),
        "containers[0].securityContext.seccompProfile",
    ),
    "host-network": (lambda s: s.update(hostNetwork=True), "hostNetwork"),
    "host-pid": (lambda s: s.update(hostPID=True), "hostPID"),
    "host-path": (
        lambda s: s.setdefault("volumes", []).append({"name": "h", "hostPath": {"path": "/"}}),
        "]",  # volumes[i]
    ),
    "host-port": (
        lambda s: _first(s).setdefault("ports", []).append({"containerPort": 1, "hostPort": 1}),
        ".hostPort",
    ),
    "unsafe-sysctl": (
        lambda s: _psc(s).update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        "securityContext.sysctls",
    ),
    "init-container-bare": (
        lambda s: s.setdefault("initContainers", []).append({"name": "x", "image": "busybox:1"}),
        "securityContext.capabilities.drop",
    ),
}


def _findings_after(m: Manifest, path: str, breakage: Callable) -> list[Finding]:
    obj = copy.deepcopy(m.obj)
    for spec_path, spec in pod_specs(obj):
        if spec_path == path:
            breakage(spec)
    return check_pod_security([Manifest(m.file, m.index, obj)])


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_breakage_of_each_template_is_an_error(manifests, name):
    breakage, field = BREAKAGES[name]
    templates = _templates(manifests)
    assert templates
    for m, path in templates:
        found = _findings_after(m, path, breakage)
        assert any(f.field.startswith(path) and field in f.field for f in found), (
            name,
            m.id,
            path,
            [f.line() for f in found],
        )
