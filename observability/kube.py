"""Kubernetes names, labels and small manifest builders every stage shares.

The manifest generators (render/, runtimes/), the alert selectors (alerting/), the local
stack and verify read these, so this module imports no stage but config.

The label contract (docs/gitops.md, the ServiceMonitors, the simulator and verify all rely
on it): every vLLM Service and pod carries `app.kubernetes.io/name: vllm`,
`app.kubernetes.io/instance: <model key>`, `app.kubernetes.io/part-of: vllm-observability`;
the Service is `vllm-<model key>` with the named port `http`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from observability.config import BundleConfig, HelmChart, ResourceSpec

__all__ = [
    "ARGOCD_FINALIZER",
    "DCGM_APP",
    "DCGM_JOB",
    "DCGM_PORT_NAME",
    "GRAFANA_DATASOURCE_UID",
    "GRAFANA_FOLDER_ANNOTATION",
    "IN_CLUSTER",
    "JOB_LABEL",
    "KPS_APP",
    "MODEL_SERVER_UID",
    "PART_OF",
    "VLLM_CONTAINER",
    "VLLM_JOB",
    "VLLM_NAME",
    "VLLM_PORT_NAME",
    "argocd_application",
    "deep_merge",
    "helm_source",
    "kustomization",
    "monitor_metadata",
    "node_relabeling",
    "non_root_pod_security",
    "resources",
    "restricted_container_security",
    "startup_failures",
    "vllm_labels",
    "vllm_service_name",
]

PART_OF = "vllm-observability"
VLLM_NAME = "vllm"
VLLM_CONTAINER = "vllm"
VLLM_PORT_NAME = "http"
# Argo CD Application names double as Helm release names (spec.source.helm.releaseName).
KPS_APP = "kube-prometheus-stack"
DCGM_APP = "dcgm-exporter"
DCGM_PORT_NAME = "metrics"  # fixed in the dcgm-exporter chart's Service template
# The ServiceMonitors' `jobLabel`: the operator sets `job` to the value of this label on
# the scraped Service (else the Service name). The monitors select on the same label, so
# every target they scrape gets the job below; alert selectors read these constants.
JOB_LABEL = "app.kubernetes.io/name"
VLLM_JOB = VLLM_NAME  # the vLLM Services' app.kubernetes.io/name (vllm_labels)
DCGM_JOB = DCGM_APP  # the chart's Service: app.kubernetes.io/name = chart name
# Dashboard ConfigMaps set this annotation to the Grafana folder name; the KPS values
# point the Grafana sidecar's folderAnnotation at it.
GRAFANA_FOLDER_ANNOTATION = "grafana_folder"
ARGOCD_FINALIZER = "resources-finalizer.argocd.argoproj.io"
IN_CLUSTER = "https://kubernetes.default.svc"
# The uid the kube-prometheus-stack values give Grafana's Prometheus datasource; verify
# looks it up and `obsctl dashboards push` binds dashboards to it.
GRAFANA_DATASOURCE_UID = "prometheus"
# The model servers' (vLLM, TGI) user and group: above 10000, no clash with a node's own
# users (checkov CKV_K8S_40).
MODEL_SERVER_UID = 10001


def vllm_service_name(model_key: str) -> str:
    return f"{VLLM_NAME}-{model_key}"


def vllm_labels(model_key: str | None = None) -> dict[str, str]:
    """Labels of the vLLM Service and pods; without a key, the ones every model shares."""
    labels = {"app.kubernetes.io/name": VLLM_NAME}
    if model_key is not None:
        labels["app.kubernetes.io/instance"] = model_key
    labels["app.kubernetes.io/part-of"] = PART_OF
    return labels


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `override` wins; nested dicts merge, everything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def monitor_metadata(cfg: BundleConfig, name: str) -> dict[str, Any]:
    """metadata of a ServiceMonitor/PodMonitor: in the monitoring namespace, labelled."""
    return {
        "name": name,
        "namespace": cfg.namespaces.monitoring,
        "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF},
    }


def pod_monitor(
    cfg: BundleConfig,
    name: str,
    namespaces: list[str],
    selector: dict[str, Any],
    endpoint: dict[str, Any],
) -> dict[str, Any]:
    """A PodMonitor of the bundle's, without jobLabel: the operator then sets
    job="<namespace>/<name>" (what a runtime's engine_jobs names)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": monitor_metadata(cfg, name),
        "spec": {
            "namespaceSelector": {"matchNames": namespaces},
            "selector": selector,
            "podMetricsEndpoints": [endpoint],
        },
    }


def node_relabeling() -> dict[str, Any]:
    """A monitor relabeling that puts the scraped pod's node in `node`."""
    return {
        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
        "targetLabel": "node",
        "action": "replace",
    }


def kustomization(**fields: Any) -> dict[str, Any]:
    """A kustomization.yaml with `fields` (namespace, resources, ...)."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}


def resources(spec: ResourceSpec) -> dict[str, Any]:
    """Requests, and a memory limit (no CPU limit: throttling hurts scrape latency)."""
    out: dict[str, Any] = {"requests": {"cpu": spec.cpu, "memory": spec.memory}}
    out["limits"] = {"memory": spec.memory_limit or spec.memory}
    return out


def non_root_pod_security(uid: int = MODEL_SERVER_UID) -> dict[str, Any]:
    """A pod securityContext: `uid` as user, group and fsGroup, the runtime's seccomp."""
    return {
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container_security() -> dict[str, Any]:
    """A container securityContext: no privilege escalation, read-only root, no
    capabilities (writable paths are emptyDir mounts)."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def gpu_pod_spec(
    cfg: BundleConfig, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> dict[str, Any]:
    """The pod spec a model server outside the vLLM Deployment shares with it: no Service
    links (they would inject VLLM_*_PORT variables vLLM reads as settings), no API token,
    non-root above 10000, on the GPU nodes."""
    return {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 60,
        "securityContext": non_root_pod_security(),
        "nodeSelector": dict(cfg.gpu.node_selector),
        "tolerations": [t.model_dump(exclude_none=True) for t in cfg.gpu.tolerations],
        "containers": containers,
        "volumes": volumes,
    }


def startup_failures(load_seconds: float, period: int = 10) -> int:
    """Startup probe attempts (at least 30) covering 1.5x a model's expected load time,
    so VLLMPodNotReady (at 1x) says "slow" before the kubelet restarts the container."""
    return max(30, -(-int(load_seconds * 1.5) // period))


def http_probe(port_name: str, period: int, failures: int) -> dict[str, Any]:
    """A `/health` probe on a named container port: the model servers' startup, readiness
    and liveness probes differ only in period and failure threshold."""
    return {
        "httpGet": {"path": "/health", "port": port_name},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def argocd_application(
    cfg: BundleConfig,
    name: str,
    *,
    namespace: str,
    wave: int,
    source: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
    sync_options: tuple[str, ...] = (),
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An Argo CD Application of the bundle: automated sync with prune and self-heal,
    server-side apply, the long retry, and `wave` as its sync wave."""
    spec: dict[str, Any] = {"project": "default"}
    if sources is not None:
        spec["sources"] = sources
    else:
        spec["source"] = source
    spec["destination"] = {"server": IN_CLUSTER, "namespace": namespace}
    spec["syncPolicy"] = {
        "automated": {"prune": True, "selfHeal": True},
        "syncOptions": ["ServerSideApply=true", *sync_options],
        # Automated sync retries 5 times in about 2.5 minutes by default; a chart's CRDs
        # and webhook can take longer on a fresh cluster: back off up to 5 minutes a try.
        "retry": {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": cfg.namespaces.argocd,
            "labels": {"app.kubernetes.io/part-of": PART_OF},
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave), **(annotations or {})},
            "finalizers": [ARGOCD_FINALIZER],
        },
        "spec": spec,
    }


def helm_source(chart: HelmChart, release: str, **helm: Any) -> dict[str, Any]:
    """An Application source installing the pinned `chart` as Helm release `release`;
    `helm` adds fields of spec.source.helm (valuesObject, values)."""
    return {
        "repoURL": chart.repo_url,
        "chart": chart.chart,
        "targetRevision": chart.version,
        "helm": {"releaseName": release, **helm},
    }
