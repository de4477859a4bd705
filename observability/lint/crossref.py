"""Cross-object checks on what Argo CD would apply.

The deployed set is computed like Argo CD does: each Application's git path, built with
kustomize when it has a kustomization (else its YAML files), objects defaulting to the
Application's destination namespace; Helm Applications contribute the Services their
charts are known to create (only the ones our monitors select).

Checks: every Application path exists; every destination namespace is created by
something; every ServiceMonitor/PodMonitor selects a Service/pod that is deployed, on a
port name that exists; Applications live in the Argo CD namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from observability import runtimes
from observability.config import BundleConfig
from observability.kube import VLLM_NAME
from observability.lint.findings import Finding
from observability.lint.kustomize import Build
from observability.lint.manifests import Manifest, obj_id

__all__ = ["Deployed", "check_crossrefs", "deployed_objects"]

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
}
_PREEXISTING_NS = {"default", "kube-system", "kube-public", "kube-node-lease"}


@dataclass(frozen=True)
class ChartService:
    name: str
    labels: dict[str, str]
    ports: tuple[str, ...]


def _dcgm_service(release: str) -> ChartService:
    # deployment/templates/service.yaml + _helpers.tpl of NVIDIA's dcgm-exporter chart.
    name = release if "dcgm-exporter" in release else f"{release}-dcgm-exporter"
    labels = {
        "app.kubernetes.io/name": "dcgm-exporter",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": "dcgm-exporter",
    }
    return ChartService(name, labels, ("metrics",))


CHART_SERVICES: dict[str, Callable[[str], ChartService]] = {"dcgm-exporter": _dcgm_service}


@dataclass
class Deployed:
    obj: dict[str, Any]
    namespace: str  # effective ("" for cluster-scoped)
    app: str
    file: str  # where to point a finding

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def id(self) -> str:
        return obj_id(self.obj, self.namespace)

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.obj.get("metadata") or {}).get("labels") or {})


@dataclass
class _State:
    deployed: list[Deployed] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    created_ns: set[str] = field(default_factory=set)


def _sources(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if spec.get("sources"):
        return [(f"spec.sources[{i}]", s) for i, s in enumerate(spec["sources"])]
    if spec.get("source"):
        return [("spec.source", spec["source"])]
    return []


def _source_file(raw: list[Manifest], obj: dict[str, Any], fallback: str) -> str:
    name = (obj.get("metadata") or {}).get("name")
    for m in raw:
        if m.kind == obj.get("kind") and (m.obj.get("metadata") or {}).get("name") == name:
            return m.file
    return fallback


def _path_objects(
    root: Path, path: str, raw: list[Manifest], builds: dict[str, Build]
) -> tuple[list[dict[str, Any]], str]:
    """Objects Argo CD would read from a git path, and the file to blame for them."""
    if path in builds:
        return builds[path].objects, f"{path}/kustomization.yaml"
    files = [m for m in raw if Path(m.file).parent.as_posix() == path]
    return [m.obj for m in files], path


def deployed_objects(
    root: Path, cfg: BundleConfig, raw: list[Manifest], builds: dict[str, Build]
) -> tuple[list[Deployed], list[Finding], set[str], list[tuple[str, ChartService]]]:
    st = _State()
    chart_services: list[tuple[str, ChartService]] = []
    apps = [m for m in raw if m.kind == "Application"]
    for m in apps:
        meta, spec = m.obj.get("metadata") or {}, m.obj.get("spec") or {}
        name = str(meta.get("name", "?"))
        if meta.get("namespace") != cfg.namespaces.argocd:
            st.findings.append(
                Finding(
                    "crossref",
                    m.file,
                    f"Applications must live in the Argo CD namespace {cfg.namespaces.argocd!r}",
                    m.id,
                    "metadata.namespace",
                )
            )
        dest_ns = str((spec.get("destination") or {}).get("namespace") or "")
        sync_options = (spec.get("syncPolicy") or {}).get("syncOptions") or []
        if "CreateNamespace=true" in sync_options and dest_ns:
            st.created_ns.add(dest_ns)
        for where, src in _sources(spec):
            if "chart" in src:
                svc = CHART_SERVICES.get(str(src["chart"]))
                release = str((src.get("helm") or {}).get("releaseName") or name)
                if svc:
                    chart_services.append((dest_ns, svc(release)))
                continue
            path = str(src.get("path", "")).strip("/")
            if src.get("repoURL") != cfg.git.repo_url:
                st.findings.append(
                    Finding(
                        "crossref",
                        m.file,
                        f"repoURL {src.get('repoURL')!r} is not bundle.yaml git.repo_url "
                        f"{cfg.git.repo_url!r}: re-render with `obsctl render`",
                        m.id,
                        f"{where}.repoURL",
                        "warning",
                    )
                )
            if not path or not (root / path).is_dir():
                st.findings.append(
                    Finding(
                        "crossref",
                        m.file,
                        f"path {path!r} does not exist in the repository: render it "
                        "(`obsctl render`) or fix the path",
                        m.id,
                        f"{where}.path",
                    )
                )
                continue
            objs, blame = _path_objects(root, path, raw, builds)
            if not objs:
                st.findings.append(
                    Finding(
                        "crossref",
                        m.file,
                        f"path {path!r} holds no objects",
                        m.id,
                        f"{where}.path",
                        "warning",
                    )
                )
            for obj in objs:
                kind = str(obj.get("kind", ""))
                ns = (
                    ""
                    if kind in CLUSTER_SCOPED
                    else (str((obj.get("metadata") or {}).get("namespace") or dest_ns))
                )
                if kind == "Namespace":
                    st.created_ns.add(str((obj.get("metadata") or {}).get("name")))
                st.deployed.append(Deployed(obj, ns, name, _source_file(raw, obj, blame)))
    return st.deployed, st.findings, st.created_ns, chart_services


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _namespaces_of(monitor: Deployed) -> set[str] | None:
    """Namespaces a monitor looks in; None means all."""
    sel = (monitor.obj.get("spec") or {}).get("namespaceSelector") or {}
    if sel.get("any"):
        return None
    if sel.get("matchNames"):
        return set(sel["matchNames"])
    return {monitor.namespace}


def _fmt_selector(sel: dict[str, Any]) -> str:
    labels = ",".join(f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items())
    return labels or "{}"


def _targets(
    deployed: list[Deployed],
    chart_services: list[tuple[str, ChartService]],
    kind: str,
    external: list[tuple[str, str, dict[str, str], set[str]]] | None = None,
) -> list[tuple[str, str, dict[str, str], set[str]]]:
    """(namespace, name, labels, port names) of Services or pod templates."""
    out = []
    if kind == "Service":
        for d in deployed:
            if d.kind == "Service":
                ports = {p.get("name") for p in (d.obj.get("spec") or {}).get("ports") or []}
                name = str((d.obj.get("metadata") or {}).get("name"))
                out.append((d.namespace, name, d.labels, {p for p in ports if p}))
        for ns, svc in chart_services:
            out.append((ns, svc.name, svc.labels, set(svc.ports)))
        out.extend(external or [])  # installed by a runtime's own manifests (AIBrix)
        return out

    for d in deployed:
        for name, labels, ports in runtimes.pod_templates(d.obj):
            out.append((d.namespace, name, labels, ports))
        if d.kind in ("Deployment", "StatefulSet", "DaemonSet"):
            tpl = (d.obj.get("spec") or {}).get("template") or {}
            labels = dict((tpl.get("metadata") or {}).get("labels") or {})
            containers = (tpl.get("spec") or {}).get("containers") or []
            ports = {p.get("name") for c in containers for p in c.get("ports") or []}
            name = str((d.obj.get("metadata") or {}).get("name"))
            out.append((d.namespace, name, labels, {p for p in ports if p}))
    return out


def _check_monitor(
    mon: Deployed,
    deployed: list[Deployed],
    chart_services: list[tuple[str, ChartService]],
    external: list[tuple[str, str, dict[str, str], set[str]]] | None = None,
) -> list[Finding]:
    spec = mon.obj.get("spec") or {}
    is_sm = mon.kind == "ServiceMonitor"
    target_kind = "Service" if is_sm else "pod"
    ep_key = "endpoints" if is_sm else "podMetricsEndpoints"
    selector = spec.get("selector") or {}
    namespaces = _namespaces_of(mon)
    candidates = [
        t
        for t in _targets(deployed, chart_services, "Service" if is_sm else "pod", external)
        if namespaces is None or t[0] in namespaces
    ]
    matched = [t for t in candidates if _selects(selector, t[2])]
    where = "any namespace" if namespaces is None else ", ".join(sorted(namespaces))
    if not matched:
        return [
            Finding(
                "crossref",
                mon.file,
                f"selector {_fmt_selector(selector)} matches no {target_kind} deployed in "
                f"{where}: fix the labels or the namespaceSelector",
                mon.id,
                "spec.selector",
            )
        ]
    out = []
    ports = set().union(*(t[3] for t in matched))
    for i, ep in enumerate(spec.get(ep_key) or []):
        port = ep.get("port") if isinstance(ep, dict) else None
        if port and port not in ports:
            names = ", ".join(f"{t[0]}/{t[1]}" for t in matched)
            out.append(
                Finding(
                    "crossref",
                    mon.file,
                    f"port {port!r} is not a named port of the selected {target_kind}s "
                    f"({names}; ports: {', '.join(sorted(ports)) or 'none named'})",
                    mon.id,
                    f"spec.{ep_key}[{i}].port",
                )
            )
    return out


def outside_services(cfg: BundleConfig) -> list[tuple[str, ChartService]]:
    """Services this repository does not deploy but a monitor selects on purpose: the
    inference pool's endpoint picker (llm-d-router's chart), the GPU Operator's dcgm-exporter (its labels and port are NVIDIA's, see
    config/workload.py GPU_OPERATOR_DCGM) or the exporter Service named in gpu.dcgm_service."""
    out: list[tuple[str, ChartService]] = []
    if cfg.pool.enabled:
        # The endpoint picker's Service, as llm-d-router's chart creates it.
        labels = {"app.kubernetes.io/name": cfg.epp_service}
        epp = ChartService(cfg.epp_service, labels, (cfg.pool.epp.port_name,))
        out.append((cfg.epp_namespace, epp))
    if cfg.gpu.dcgm_exporter == "bundled":
        return out
    svc = cfg.gpu.scraped_dcgm_service
    name = "nvidia-dcgm-exporter" if cfg.gpu.dcgm_exporter == "gpu-operator" else "external"
    service = ChartService(name, dict(svc.match_labels or {}), (str(svc.port),))
    return [*out, (str(svc.namespace), service)]


def check_crossrefs(
    root: Path, cfg: BundleConfig, raw: list[Manifest], builds: dict[str, Build]
) -> list[Finding]:
    from observability import runtimes

    deployed, findings, created_ns, chart_services = deployed_objects(root, cfg, raw, builds)
    external = runtimes.external_services(cfg)
    chart_services += outside_services(cfg)
    known_ns = created_ns | _PREEXISTING_NS | {cfg.namespaces.argocd}
    renders_vllm_service = any(
        runtimes.runtime_of(cfg, key).uses_vllm_deployment for key in cfg.vllm.deploy
    )
    # A runtime's monitors render for every registered model of it; with none of them
    # deployed here, what they select is served from outside this repository.
    deployed_runtimes = {runtimes.runtime_of(cfg, key).name for key in cfg.vllm.deploy}
    outside_monitors = {
        (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
        for rt in runtimes.runtimes_in_use(cfg)
        if rt.name not in deployed_runtimes
        for obj in rt.monitors(cfg).values()
    }
    for m in (m for m in raw if m.kind == "Application"):
        dest = str(((m.obj.get("spec") or {}).get("destination") or {}).get("namespace") or "")
        if dest and dest not in known_ns:
            findings.append(
                Finding(
                    "crossref",
                    m.file,
                    f"namespace {dest!r} is created by no Application: add "
                    "CreateNamespace=true or sync a Namespace object",
                    m.id,
                    "spec.destination.namespace",
                )
            )
    for d in deployed:
        if d.namespace and d.namespace not in known_ns and d.kind != "Application":
            findings.append(
                Finding(
                    "crossref",
                    d.file,
                    f"namespace {d.namespace!r} is created by no Application",
                    d.id,
                    "metadata.namespace",
                )
            )
        if d.kind in ("ServiceMonitor", "PodMonitor"):
            found = _check_monitor(d, deployed, chart_services, external)
            name = (d.obj.get("metadata") or {}).get("name")
            if not renders_vllm_service and name == VLLM_NAME and d.kind == "ServiceMonitor":
                # No deployed model runs as a vLLM Deployment (monitor-only, or every one is
                # a RayService): the registry's vLLM models are served from outside this repo.
                found = [
                    replace(
                        f,
                        severity="warning",
                        message=f"{f.message} (no model in vllm.deploy runs as a vLLM "
                        "Deployment: label the vLLM Services you deploy yourself to match)",
                    )
                    for f in found
                ]
            elif (d.kind, name) in outside_monitors:
                found = [
                    replace(
                        f,
                        severity="warning",
                        message=f"{f.message} (no model of this runtime is in vllm.deploy: "
                        "label the pods you deploy yourself to match)",
                    )
                    for f in found
                ]
            findings.extend(found)
    return findings
