"""Pod Security Standards `restricted`, checked on every pod template the bundle renders.

Pod templates are found by shape, not by kind: any mapping with a `containers` list of
images (a Deployment's, a CronJob's jobTemplate's, a RayService's head and worker groups, an
LWS leader/worker or a KServe predictor alike), so a new workload kind is checked the day it
is rendered. Argo CD Applications are skipped: their Helm values belong to the charts.
Checked on the raw files and on every kustomization's built output (overlays patch
containers in), the rules of https://kubernetes.io/docs/concepts/security/pod-security-standards/
(v1.33), baseline and restricted: no host namespaces, privileged, hostPath, host ports,
unsafe sysctls, Unconfined seccomp/AppArmor or custom SELinux users; only the restricted
volume types; every container with allowPrivilegeEscalation false, capabilities drop ALL
(add at most NET_BIND_SERVICE), runAsNonRoot, no uid 0, seccomp RuntimeDefault or Localhost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from observability.lint.findings import Finding
from observability.lint.manifests import Manifest
from observability.lint.walk import mappings_where

__all__ = ["CONTAINER_LISTS", "VOLUME_TYPES", "check_pod_security", "pod_specs"]

CHECK = "pod-security"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_SKIP_KINDS = frozenset({"Application", "ApplicationSet", "Kustomization"})


def _is_pod_spec(node: dict[str, Any]) -> bool:
    containers = node.get("containers")
    return (
        isinstance(containers, list)
        and bool(containers)
        and all(isinstance(c, dict) and "image" in c for c in containers)
    )


def pod_specs(obj: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, pod spec) for every pod spec inside a manifest."""
    return mappings_where(obj, _is_pod_spec)


def _common(sc: dict[str, Any]) -> list[tuple[str, str]]:
    """Rules a pod and a container securityContext share: (field, problem)."""
    out: list[tuple[str, str]] = []
    if sc.get("runAsNonRoot") is False:
        out.append(("runAsNonRoot", "runAsNonRoot is false: set it true"))
    if sc.get("runAsUser") == 0:
        out.append(("runAsUser", "runs as uid 0: use a non-root uid"))
    seccomp = (sc.get("seccompProfile") or {}).get("type")
    if seccomp is not None and seccomp not in SECCOMP_OK:
        out.append(("seccompProfile.type", f"seccomp {seccomp}: use RuntimeDefault or Localhost"))
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in SECCOMP_OK:
        out.append(("appArmorProfile.type", f"AppArmor {apparmor}: use RuntimeDefault"))
    se = sc.get("seLinuxOptions") or {}
    if se.get("type", "") not in SELINUX_TYPES or se.get("user") or se.get("role"):
        out.append(("seLinuxOptions", "custom SELinux user, role or type: remove them"))
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append(("windowsOptions.hostProcess", "hostProcess: remove it"))
    return out


def _container(c: dict[str, Any], pod_sc: dict[str, Any]) -> list[tuple[str, str]]:
    sc = c.get("securityContext") or {}
    out = [(f"securityContext.{f}", msg) for f, msg in _common(sc)]
    if sc.get("privileged"):
        out.append(("securityContext.privileged", "privileged: remove it"))
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append(
            ("securityContext.allowPrivilegeEscalation", "set allowPrivilegeEscalation: false")
        )
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        out.append(("securityContext.capabilities.drop", "set capabilities.drop: [ALL]"))
    added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
    if added:
        out.append(
            ("securityContext.capabilities.add", f"adds {sorted(added)}: only NET_BIND_SERVICE")
        )
    if sc.get("runAsNonRoot") is not True and pod_sc.get("runAsNonRoot") is not True:
        out.append(("securityContext.runAsNonRoot", "set runAsNonRoot: true (pod or container)"))
    seccomp = (sc.get("seccompProfile") or {}).get("type")
    if seccomp is None and (pod_sc.get("seccompProfile") or {}).get("type") not in SECCOMP_OK:
        out.append(("securityContext.seccompProfile", "set seccompProfile RuntimeDefault (pod)"))
    if sc.get("procMount", "Default") != "Default":
        out.append(("securityContext.procMount", "procMount must be Default"))
    for i, port in enumerate(c.get("ports") or []):
        if port.get("hostPort"):
            out.append((f"ports[{i}].hostPort", "hostPort: remove it (use a Service)"))
    return out


def _pod(spec: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            out.append((host, f"{host}: remove it"))
    sc = spec.get("securityContext") or {}
    out += [(f"securityContext.{f}", msg) for f, msg in _common(sc)]
    for s in sc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            out.append(("securityContext.sysctls", f"sysctl {s.get('name')} is not allowed"))
    for i, vol in enumerate(spec.get("volumes") or []):
        kinds = set(vol) - {"name"}
        if not kinds <= VOLUME_TYPES:
            out.append(
                (
                    f"volumes[{i}]",
                    f"volume type {sorted(kinds - VOLUME_TYPES)} is not allowed: use "
                    "persistentVolumeClaim, emptyDir, configMap, secret, projected, ...",
                )
            )
    for lst in CONTAINER_LISTS:
        for i, c in enumerate(spec.get(lst) or []):
            out += [(f"{lst}[{i}].{f}", msg) for f, msg in _container(c, sc)]
    return out


def check_pod_security(manifests: list[Manifest]) -> list[Finding]:
    """Findings for every pod template, reported once per (object, field, problem)."""
    out: list[Finding] = []
    seen: set[tuple[str, str, str, str]] = set()
    for m in manifests:
        if m.kind in _SKIP_KINDS:
            continue
        for path, spec in pod_specs(m.obj):
            for field, problem in _pod(spec):
                where = f"{path}.{field}" if path else field
                # raw files and kustomize builds show one object (the build adds a namespace)
                key = (m.kind, str((m.obj.get("metadata") or {}).get("name")), where, problem)
                if key in seen:
                    continue
                seen.add(key)
                out.append(
                    Finding(
                        CHECK,
                        m.file,
                        f"{problem} (Pod Security restricted)",
                        obj=m.id,
                        field=where,
                    )
                )
    return out
