"""Render stage: the Argo CD app of apps (`argocd/app-of-apps.yaml`) and its children.

Children (`argocd/apps/*.yaml`), in sync-wave order:

| wave | Application | what |
|---|---|---|
| -2 | kube-prometheus-stack | operator, CRDs, Prometheus, Alertmanager, Grafana (Helm) |
| -1 | dcgm-exporter | NVIDIA's exporter on GPU nodes (Helm) |
| -1 | vllm-namespace | the vLLM namespace (kept on delete: it holds the HF token Secret) |
| 0 | monitoring-config | our ServiceMonitors, PrometheusRules and dashboards |
| 1 | vllm-<model key> | the reference vLLM workload, one per deployed model |
| 2 | llm-d-router | the inference router's chart (gateway.inference_pool.install: chart) |
| 2 | vllm-observability-verify | read-only RBAC (and CronJob) for `obsctl verify` |

Sync waves order creation only: Argo CD has no health check for Application resources
unless `argocd-cm` restores one, so the apps that need CRDs from the chart also get
`SkipDryRunOnMissingResource=true` and a long retry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from observability import runtimes
from observability.config import BundleConfig
from observability.kube import DCGM_APP, KPS_APP, argocd_application, helm_source, resources
from observability.render.kps_values import kps_values
from observability.render.router_chart import router_application

__all__ = [
    "APP_OF_APPS",
    "MONITORING_CONFIG_APP",
    "MONITORING_CONFIG_DIRS",
    "VERIFY_APP",
    "VERIFY_PATH",
    "VLLM_NAMESPACE_APP",
    "applications",
    "artifacts",
    "vllm_app_name",
]

APP_OF_APPS = "vllm-observability"
VLLM_NAMESPACE_APP = "vllm-namespace"
MONITORING_CONFIG_APP = "monitoring-config"
VERIFY_APP = "vllm-observability-verify"
VERIFY_PATH = "deploy/verify"
MONITORING_CONFIG_DIRS = ("servicemonitors", "alerts", "dashboards")
VLLM_NAMESPACE_PATH = "deploy/vllm/namespace"


def vllm_app_name(model_key: str) -> str:
    return f"vllm-{model_key}"


def _git(cfg: BundleConfig, path: str) -> dict[str, Any]:
    return {"repoURL": cfg.git.repo_url, "targetRevision": cfg.git.revision, "path": path}


def _kube_prometheus_stack(cfg: BundleConfig) -> dict[str, Any]:
    chart = cfg.charts.kube_prometheus_stack
    source = helm_source(chart, KPS_APP, valuesObject=kps_values(cfg))
    # SSA: the prometheuses CRD (~830 KB) exceeds client-side apply's 256 KiB
    # last-applied annotation. ServerSideDiff: no permanent OutOfSync from
    # server-defaulted fields of the chart's objects.
    return argocd_application(
        cfg,
        KPS_APP,
        namespace=cfg.namespaces.monitoring,
        wave=-2,
        source=source,
        sync_options=("CreateNamespace=true",),
        annotations={"argocd.argoproj.io/compare-options": "ServerSideDiff=true"},
    )


def _dcgm_values(cfg: BundleConfig) -> dict[str, Any]:
    return {
        # GPU nodes only: the exporter crash-loops where there is no GPU.
        "nodeSelector": dict(cfg.gpu.node_selector),
        "tolerations": [t.model_dump(exclude_none=True) for t in cfg.gpu.tolerations],
        # Pod-to-GPU attribution (pod/namespace/container labels come from the kubelet
        # pod-resources API); add the pods' name/instance labels so GPU series carry the
        # model key too, and nothing else (cardinality).
        "kubernetes": {
            "enablePodLabels": True,
            "podLabelAllowlistRegex": [r"^app\.kubernetes\.io/(name|instance)$"],
        },
        # The bundle ships its own ServiceMonitor (servicemonitors/dcgm-exporter.yaml)
        # with honorLabels: true; the chart's would rename pod/namespace to exported_*.
        "serviceMonitor": {"enabled": False},
        "resources": _no_cpu_limit(resources(cfg.resources.dcgm_exporter)),
        # The chart defaults to system-node-critical, which GKE refuses outside kube-system
        # (and which outranks workloads on every cloud): null deletes it unless
        # resources.priority_class_name names a class you created.
        "priorityClassName": cfg.resources.priority_class_name or None,
    }


def helm_values_text(values: dict[str, Any]) -> str:
    """Helm values as YAML text (nulls kept as `null`), keys in the builders' order."""
    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False, width=1000)


def _no_cpu_limit(res: dict[str, Any]) -> dict[str, Any]:
    """Helm merges our resources over the chart's: null deletes its default CPU limit
    (dcgm-exporter 4.8.2: 200m), which would throttle the exporter."""
    return {**res, "limits": {**res.get("limits", {}), "cpu": None}}


def _dcgm_exporter(cfg: BundleConfig) -> dict[str, Any]:
    chart = cfg.charts.dcgm_exporter
    # `values` (a YAML string), not `valuesObject`: Argo CD drops null entries from
    # valuesObject (argoproj/argo-cd#16312, #19781), and the nulls here delete chart
    # defaults (CPU limit, priority class).
    source = helm_source(chart, DCGM_APP, values=helm_values_text(_dcgm_values(cfg)))
    return argocd_application(
        cfg,
        DCGM_APP,
        namespace=cfg.namespaces.monitoring,
        wave=-1,
        source=source,
        sync_options=("CreateNamespace=true",),
    )


def _rendered_dirs(paths: Iterable[str]) -> set[str]:
    """Top-level dirs (and deploy/<x>) of the files the other stages render.

    An Application pointing at a path that does not exist fails to sync, so the app of
    apps lists only what is rendered (alerts, dashboards and deploy/verify come from other
    stages and may be disabled).
    """
    dirs: set[str] = set()
    for path in paths:
        parts = path.split("/")
        dirs.add(parts[0])
        if len(parts) > 2:
            dirs.add("/".join(parts[:2]))
    return dirs


def _monitoring_config(cfg: BundleConfig, rendered: set[str]) -> dict[str, Any]:
    # One Application, one source per directory: each directory keeps its own
    # kustomization (and owner), while the unit Argo CD syncs and verify checks is the
    # set of objects that need the chart's CRDs.
    sources = [_git(cfg, d) for d in MONITORING_CONFIG_DIRS if d in rendered]
    return argocd_application(
        cfg,
        MONITORING_CONFIG_APP,
        namespace=cfg.namespaces.monitoring,
        wave=0,
        sources=sources,
        # The CRDs come with the kube-prometheus-stack app; without this the dry run of
        # a ServiceMonitor fails the whole sync until they exist.
        sync_options=("SkipDryRunOnMissingResource=true",),
    )


def applications(cfg: BundleConfig, rendered: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Child Applications keyed by their file name under argocd/apps/; `rendered` is every
    path the other stages render (`render.registry.render_objects` passes them)."""
    dirs = _rendered_dirs(rendered) | {"servicemonitors", "deploy/vllm"}
    apps = [
        _kube_prometheus_stack(cfg),
        *([_dcgm_exporter(cfg)] if cfg.gpu.dcgm_exporter == "bundled" else []),
        argocd_application(
            cfg,
            VLLM_NAMESPACE_APP,
            # Namespaces are cluster-scoped; the destination only has to exist, so it is
            # one the Application itself creates (the first deployed model's).
            namespace=(cfg.deployed_namespaces or [cfg.namespaces.vllm])[0],
            wave=-1,
            source=_git(cfg, VLLM_NAMESPACE_PATH),
        ),
        _monitoring_config(cfg, dirs),
    ]
    from observability.autoscaling import keda_application, scalable_models

    for rt in runtimes.runtimes_in_use(cfg):
        apps.extend(rt.applications(cfg))
    if cfg.autoscaling.keda.enabled and cfg.autoscaling.keda.install:
        apps.append(keda_application(cfg))
    scaled = set(scalable_models(cfg))
    for key, _profile in cfg.deployed_models:
        rt = runtimes.runtime_of(cfg, key)
        apps.append(
            argocd_application(
                cfg,
                vllm_app_name(key),
                namespace=cfg.model_namespace(key),
                wave=1,
                source=_git(cfg, rt.workload_path(key)),
                # A runtime's custom resources (RayService) need its operator's CRDs.
                sync_options=()
                if rt.uses_vllm_deployment
                else ("SkipDryRunOnMissingResource=true",),
            )
        )
        if key in scaled:
            # The HPA KEDA creates owns spec.replicas: self-heal must not reset it.
            apps[-1]["spec"]["ignoreDifferences"] = [
                {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}
            ]
            apps[-1]["spec"]["syncPolicy"]["syncOptions"] += [
                "RespectIgnoreDifferences=true",
                "SkipDryRunOnMissingResource=true",
            ]
    router = router_application(cfg)
    if router is not None:
        apps.append(router)
    if VERIFY_PATH in dirs:
        apps.append(
            argocd_application(
                cfg,
                VERIFY_APP,
                namespace=cfg.namespaces.monitoring,
                wave=2,
                source=_git(cfg, VERIFY_PATH),
            )
        )
    return {f"argocd/apps/{a['metadata']['name']}.yaml": a for a in apps}


def _app_of_apps(cfg: BundleConfig) -> dict[str, Any]:
    app = argocd_application(
        cfg, APP_OF_APPS, namespace=cfg.namespaces.argocd, wave=0, source=_git(cfg, "argocd/apps")
    )
    del app["metadata"]["annotations"]  # the root has no siblings to order against
    return app


def artifacts(cfg: BundleConfig, rendered: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"argocd/app-of-apps.yaml": _app_of_apps(cfg)}
    out.update(applications(cfg, rendered))
    return out
