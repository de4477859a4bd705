"""`kserve`: vLLM served by KServe, as an LLMInferenceService or a classic InferenceService.

`runtimes.kserve.api` picks the API (read from kserve/kserve v0.20.0, 2026-08-05):

- `llm-inference-service` (default): `serving.kserve.io/v1alpha2` LLMInferenceService. The
  controller runs `vllm serve` in container `main` of the llm-d image on port 8000
  (`config/llmisvcconfig/config-llm-template.yaml`), over HTTPS with KServe's self-signed
  certificate when the ingress config's `enableLLMInferenceServiceTLS` is on, with
  `--served-model-name <spec.model.name>` first: vLLM's `model_name` label is
  `spec.model.name`. Pods carry `app.kubernetes.io/part-of: llminferenceservice`,
  `app.kubernetes.io/name: <name>` and `app.kubernetes.io/component:
  llminferenceservice-workload[-prefill|-worker|-leader...]`.
- `inference-service`: `serving.kserve.io/v1beta1` InferenceService with the Hugging Face
  runtime (`config/runtimes/kserve-huggingfaceserver.yaml`), whose vLLM backend runs in
  the model server's process: vLLM's `vllm:*` come out unchanged on the model server's
  `/metrics` (port 8080, `python/kserve/kserve/protocol/rest/server.py`). Rendered in the
  Standard (raw Deployment) mode, without Knative's queue-proxy, so there is no `qpext`
  aggregation (`serving.kserve.io/enable-metric-aggregation`, port 9088) and no
  `prometheus.io/*` annotations (`serving.kserve.io/enable-prometheus-scraping`): both
  are set "false", so only the bundle's PodMonitor scrapes the pod.

KServe's own PodMonitors are not in kserve/kserve (no release up to v0.20.0 has
`pkg/controller/v1alpha2/llmisvc/monitoring.go`): they are Open Data Hub's
(opendatahub-io/kserve, read at tag odh-v3.5, 2026-08-14). Per namespace with an
LLMInferenceService the controller creates `kserve-llm-isvc-vllm-engine-default` (vLLM's
names unchanged) and, "kept for backward compatibility", `kserve-llm-isvc-vllm-engine`,
whose metric relabeling renames every series to `kserve_$1` (`vllm:x` ->
`kserve_vllm:x`); both scrape port 8000 over HTTPS without verifying the certificate and
add `llm_isvc_name`, `llm_isvc_role`, `llm_isvc_component`. Only the renamed one existed
from 2026-03-11 (#1164) to 2026-04-01 (#1299). So with `controller_monitors: true` every
pod may come in twice, once under each name: the mapping records `vllm:x` from
`kserve_vllm:x` only for a pod that has no `vllm:x` of its own (`unless on(namespace,
pod)`, excluding the recorded series themselves by their job), and the bundle renders no
engine monitor. With `controller_monitors: false` (upstream KServe, or the variable
`LLMISVC_MONITORING_DISABLED=true`) the bundle's PodMonitor `kserve-vllm` scrapes vLLM's
names and nothing is mapped. Never both.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from observability.kube import (
    PART_OF,
    node_relabeling,
    resources,
    restricted_container_security,
)
from observability.kube import (
    pod_monitor as kube_pod_monitor,
)
from observability.metrics.catalog import (
    Catalog,
    MetricFamily,
    available_vllm_versions,
    vllm_catalog,
)
from observability.runtimes.base import DemoTarget, Runtime, SimPod
from observability.runtimes.mapping import forwarded_families, rename_rules

if TYPE_CHECKING:
    from observability.config import BundleConfig
    from observability.rulebase import Scope

__all__ = [
    "CONTROLLER_MONITOR",
    "CONTROLLER_MONITOR_DEFAULT",
    "DEFAULT_JOB_RE",
    "LLMISVC_PART_OF",
    "PER_SERVICE_MONITOR",
    "PER_SERVICE_MONITOR_DEFAULT",
    "POD_MONITOR",
    "RENAMED_PREFIX",
    "KServeRuntime",
    "controller_monitor",
    "inference_service",
    "llm_inference_service",
]

KSERVE_VERSION = "v0.20.0"  # kserve/kserve release the workloads and CRD schemas follow
ODH_VERSION = "odh-v3.5"  # opendatahub-io/kserve tag the controller monitors were read at
POD_MONITOR = "kserve-vllm"  # the bundle's own monitor (controller_monitors: false)
CONTROLLER_MONITOR = "kserve-llm-isvc-vllm-engine"  # renames to kserve_$1
CONTROLLER_MONITOR_DEFAULT = f"{CONTROLLER_MONITOR}-default"  # vLLM's names
# Newer ODH builds (opendatahub-io/kserve commit 31001035, after odh-v3.5) make one pair per
# LLMInferenceService, `kmeta.ChildName(<name>, suffix)` (the name hashed past 63
# characters), and delete the namespace-wide pair: matched by suffix.
PER_SERVICE_MONITOR = "-kserve-llmisvc-engine"
PER_SERVICE_MONITOR_DEFAULT = f"{PER_SERVICE_MONITOR}-default"
# the `job` of a target that stores vLLM's own names, either generation
DEFAULT_JOB_RE = f".+/({CONTROLLER_MONITOR_DEFAULT}|.+{PER_SERVICE_MONITOR_DEFAULT})"
RENAMED_PREFIX = "kserve_"
LLMISVC_PART_OF = "llminferenceservice"
LLMISVC_PORT = 8000
ISVC_PORT = 8080
ISVC_LABEL = "serving.kserve.io/inferenceservice"
# The component values the ODH monitor selects (pkg/constants LLMComponentWorkload*).
WORKLOAD_COMPONENTS = (
    "llminferenceservice-workload",
    "llminferenceservice-workload-prefill",
    "llminferenceservice-workload-worker",
    "llminferenceservice-workload-leader",
    "llminferenceservice-workload-leader-prefill",
    "llminferenceservice-workload-worker-prefill",
)
UID = 2000  # a non-root uid for both images (neither sets a numeric USER KServe relies on)


def _llmisvc(cfg: BundleConfig) -> bool:
    return cfg.runtimes.kserve.api == "llm-inference-service"


def _keys(cfg: BundleConfig) -> list[str]:
    return [k for k, m in cfg.models.items() if m.runtime == "kserve"]


def _model_uri(cfg: BundleConfig, key: str) -> str:
    m = cfg.models[key]
    if m.source == "s3" and m.s3 is not None:
        return m.s3.uri
    if m.source == "pvc" and m.pvc is not None:
        return f"pvc://{m.pvc.claim_name}/{m.pvc.path}".rstrip("/")
    return f"hf://{m.hf_id}"


def _hf_env(cfg: BundleConfig, key: str) -> list[dict[str, Any]]:
    hf = cfg.secrets.hf_token
    ref: dict[str, Any] = {"name": hf.name, "key": hf.key}
    if cfg.models[key].hf_token_optional:
        ref["optional"] = True
    return [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": ref}}]


def _gpu_resources(cfg: BundleConfig, key: str) -> dict[str, Any]:
    res = resources(cfg.resources.vllm)
    for part in ("requests", "limits"):
        res[part]["nvidia.com/gpu"] = cfg.models[key].gpus
    return res


def _container_security() -> dict[str, Any]:
    """Restricted, with a writable root: KServe's template notes that nvidia-cdi-hook needs
    one; seccomp at the container so it holds whatever pod template KServe merges in."""
    return {
        **restricted_container_security(),
        "readOnlyRootFilesystem": False,
        "runAsUser": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _engine_args(cfg: BundleConfig, key: str) -> list[str]:
    m = cfg.models[key]
    return [
        f"--max-model-len={m.max_model_len}",
        f"--gpu-memory-utilization={m.gpu_memory_utilization}",
        f"--max-num-seqs={m.max_num_seqs}",
    ]


def llm_inference_service(cfg: BundleConfig, key: str) -> dict[str, Any]:
    """An LLMInferenceService; the container `main` is merged into KServe's template (its
    command passes our args on to `vllm serve`)."""
    m = cfg.models[key]
    rt = cfg.runtimes.kserve
    return {
        "apiVersion": "serving.kserve.io/v1alpha2",
        "kind": "LLMInferenceService",
        "metadata": {"name": key, "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {
            "model": {"uri": _model_uri(cfg, key), "name": m.served_name},
            "replicas": max(m.autoscaling.min_replicas, cfg.vllm.replicas, 1),
            "parallelism": {"tensor": m.gpus},
            "template": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "nodeSelector": dict(cfg.gpu.node_selector),
                "tolerations": [t.model_dump(exclude_none=True) for t in cfg.gpu.tolerations],
                "containers": [
                    {
                        "name": "main",
                        "image": rt.llm_image,
                        "args": _engine_args(cfg, key),
                        "env": _hf_env(cfg, key),
                        "resources": _gpu_resources(cfg, key),
                        "securityContext": _container_security(),
                    }
                ],
            },
        },
    }


def inference_service(cfg: BundleConfig, key: str) -> dict[str, Any]:
    """An InferenceService on the Hugging Face runtime, vLLM backend, Standard mode."""
    m = cfg.models[key]
    rt = cfg.runtimes.kserve
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": key,
            "labels": {"app.kubernetes.io/part-of": PART_OF},
            "annotations": {
                "serving.kserve.io/deploymentMode": "Standard",
                # Only the bundle's PodMonitor scrapes: no queue-proxy aggregation, no
                # prometheus.io annotations an annotation-based job would also scrape.
                "serving.kserve.io/enable-metric-aggregation": "false",
                "serving.kserve.io/enable-prometheus-scraping": "false",
            },
        },
        "spec": {
            "predictor": {
                "minReplicas": max(m.autoscaling.min_replicas, 1),
                "maxReplicas": m.autoscaling.max_replicas,
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "nodeSelector": dict(cfg.gpu.node_selector),
                "tolerations": [t.model_dump(exclude_none=True) for t in cfg.gpu.tolerations],
                "model": {
                    "modelFormat": {"name": "huggingface"},
                    "runtime": "kserve-huggingfaceserver",
                    "storageUri": _model_uri(cfg, key),
                    "image": rt.huggingface_image,
                    "args": [
                        f"--model_name={m.served_name}",
                        "--backend=vllm",
                        *_engine_args(cfg, key),
                        f"--tensor-parallel-size={m.gpus}",
                    ],
                    "env": _hf_env(cfg, key),
                    "resources": _gpu_resources(cfg, key),
                    "securityContext": _container_security(),
                },
            }
        },
    }


def llmisvc_pods(obj: dict[str, Any]) -> list[tuple[str, dict[str, str], set[str]]]:
    """The decode pods KServe v0.20.0 creates for an LLMInferenceService
    (workload_single_node.go: singleNodeLabels + component + llm-d.ai/role)."""
    name = str((obj.get("metadata") or {}).get("name"))
    labels = {
        "app.kubernetes.io/part-of": LLMISVC_PART_OF,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": WORKLOAD_COMPONENTS[0],
        "llm-d.ai/role": "both",
    }
    return [(f"{name}-kserve", labels, set())]


def isvc_pods(obj: dict[str, Any]) -> list[tuple[str, dict[str, str], set[str]]]:
    """The predictor pods of an InferenceService in Standard mode."""
    name = str((obj.get("metadata") or {}).get("name"))
    labels = {ISVC_LABEL: name, "component": "predictor", "app": f"isvc.{name}-predictor"}
    return [(f"{name}-predictor", labels, set())]


def pod_monitor(cfg: BundleConfig) -> dict[str, Any]:
    """The bundle's engine monitor: vLLM's names straight from the pods."""
    keys = _keys(cfg)
    namespaces = sorted({cfg.model_namespace(k) for k in keys})
    rt = cfg.runtimes.kserve
    endpoint: dict[str, Any] = {
        "path": "/metrics",
        "interval": cfg.prometheus.scrape_interval,
        "relabelings": [node_relabeling()],
    }
    if _llmisvc(cfg):
        selector: dict[str, Any] = {
            "matchLabels": {"app.kubernetes.io/part-of": LLMISVC_PART_OF},
            "matchExpressions": [
                {"key": "app.kubernetes.io/name", "operator": "In", "values": keys},
                {
                    "key": "app.kubernetes.io/component",
                    "operator": "In",
                    "values": list(WORKLOAD_COMPONENTS),
                },
            ],
        }
        # KServe's template names no container port: select the port by number.
        endpoint["targetPort"] = LLMISVC_PORT
        if rt.engine_tls:
            endpoint["scheme"] = "https"
            # KServe's self-signed certificate, as its own monitor does.
            endpoint["tlsConfig"] = {"insecureSkipVerify": True}
    else:
        selector = {
            "matchLabels": {"component": "predictor"},
            "matchExpressions": [{"key": ISVC_LABEL, "operator": "In", "values": keys}],
        }
        endpoint["targetPort"] = ISVC_PORT
    return kube_pod_monitor(cfg, POD_MONITOR, namespaces, selector, endpoint)


def controller_monitor(namespace: str, renamed: bool, scheme: str = "https") -> dict[str, Any]:
    """The vLLM engine PodMonitor ODH's controller creates in `namespace`
    (`expectedVLLMEngineMonitor` in pkg/controller/v1alpha2/llmisvc/monitoring.go at
    odh-v3.5): every LLMInferenceService workload pod of the namespace on port 8000, the
    `llm_isvc_*` labels from its pod labels, and with `renamed` every series renamed
    `kserve_$1`. `scheme="http"` only for the local demo, whose simulator serves no TLS;
    KServe's is HTTPS without verifying the certificate."""
    endpoint: dict[str, Any] = {
        "targetPort": LLMISVC_PORT,
        "scheme": scheme,
        "relabelings": [
            {
                "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                "action": "replace",
                "targetLabel": "llm_isvc_name",
            },
            {
                "sourceLabels": ["__meta_kubernetes_pod_label_llm_d_ai_role"],
                "action": "replace",
                "targetLabel": "llm_isvc_role",
            },
            {
                "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"],
                "action": "replace",
                "regex": "llminferenceservice-(.*)",
                "replacement": "$1",
                "targetLabel": "llm_isvc_component",
            },
        ],
    }
    if scheme == "https":
        endpoint["tlsConfig"] = {"insecureSkipVerify": True}
    if renamed:
        endpoint["metricRelabelings"] = [
            {
                "sourceLabels": ["__name__"],
                "action": "replace",
                "replacement": f"{RENAMED_PREFIX}$1",
                "targetLabel": "__name__",
            }
        ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": CONTROLLER_MONITOR if renamed else CONTROLLER_MONITOR_DEFAULT,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/component": "llm-monitoring",
                "app.kubernetes.io/part-of": LLMISVC_PART_OF,
                "monitoring.opendatahub.io/scrape": "true",
            },
        },
        "spec": {
            "selector": {
                "matchLabels": {"app.kubernetes.io/part-of": LLMISVC_PART_OF},
                "matchExpressions": [
                    {
                        "key": "app.kubernetes.io/component",
                        "operator": "In",
                        "values": list(WORKLOAD_COMPONENTS),
                    }
                ],
            },
            "podMetricsEndpoints": [endpoint],
        },
    }


@cache
def renamed_catalogs() -> tuple[Catalog, ...]:
    """What KServe's renamed monitor stores for each cataloged vLLM: every family of that
    vLLM under `kserve_<name>`, labels unchanged (derived, not read from a wheel: the
    monitor's relabeling is a plain `kserve_$1` replace of `__name__`)."""
    out = []
    for version in available_vllm_versions():
        cat = vllm_catalog(version)
        fams = {
            RENAMED_PREFIX + f.name: MetricFamily(
                RENAMED_PREFIX + f.name, f.type, f.help, f.labels, f.buckets, f.default
            )
            for f in cat.families.values()
        }
        source = (
            f"opendatahub-io/kserve {ODH_VERSION} pkg/controller/v1alpha2/llmisvc/"
            f"monitoring.go (metric relabeling kserve_$1) over {cat.source}"
        )
        out.append(Catalog("kserve", f"{ODH_VERSION}+vllm-{version}", source, fams))
    return tuple(out)


def _renamed(name: str) -> tuple[str, ...]:
    """KServe's renamed name of a vLLM family, where some cataloged vLLM exposes it."""
    exposed = RENAMED_PREFIX + name
    return (exposed,) if any(exposed in c.families for c in renamed_catalogs()) else ()


class KServeRuntime(Runtime):
    name = "kserve"
    pod_kinds: ClassVar[dict[str, Any]] = {
        "LLMInferenceService": llmisvc_pods,
        "InferenceService": isvc_pods,
    }
    uses_vllm_deployment = False

    def _controller(self, cfg: BundleConfig) -> bool:
        return cfg.runtimes.kserve.controller_monitors and _llmisvc(cfg)

    def engine_jobs(self, cfg: BundleConfig) -> tuple[str, ...]:
        if not self._controller(cfg):
            return (f"{cfg.namespaces.monitoring}/{POD_MONITOR}",)
        # KServe's monitors live in each model namespace: job="<namespace>/<name>"; the
        # per-service generation's names by suffix (a regex: vllm_up joins these with |)
        namespaces = sorted({cfg.model_namespace(k) for k in _keys(cfg)})
        return tuple(
            f"{ns}/{mon}"
            for ns in namespaces
            for mon in (
                CONTROLLER_MONITOR_DEFAULT,
                CONTROLLER_MONITOR,
                f".+{PER_SERVICE_MONITOR_DEFAULT}",
                f".+{PER_SERVICE_MONITOR}",
            )
        )

    def monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        return {} if self._controller(cfg) else {f"{POD_MONITOR}.yaml": pod_monitor(cfg)}

    def workload_path(self, key: str) -> str:
        return f"deploy/kserve/{key}"

    def workload(self, cfg: BundleConfig, key: str) -> dict[str, Any]:
        if _llmisvc(cfg):
            return self.kustomized(
                cfg, key, {"llminferenceservice.yaml": llm_inference_service(cfg, key)}
            )
        return self.kustomized(cfg, key, {"inferenceservice.yaml": inference_service(cfg, key)})

    def mapping_rules(self, cfg: BundleConfig, sc: Scope) -> list[dict[str, Any]]:
        """With KServe's monitors: `vllm:x` from `kserve_vllm:x` for pods that no
        `-default` target scrapes (namespace-wide `kserve-llm-isvc-vllm-engine-default` or
        a newer build's per-service `<name>-kserve-llmisvc-engine-default`: it stores
        vLLM's own names, so mapping its pods too would count them twice). Keyed on the
        target's `up`, not on `vllm:x` itself, which the rule's own output would match."""
        if not self._controller(cfg):
            return []
        fams = forwarded_families(lambda n: bool(_renamed(n)), lambda n: n)
        default = f'up{{job=~"{DEFAULT_JOB_RE}"}}'
        return [
            {"record": r["record"], "expr": f"{r['expr']} unless on (namespace, pod) {default}"}
            for r in rename_rules(fams, _renamed)
        ]

    def catalogs(self) -> list[Catalog]:
        return list(renamed_catalogs())

    def model_pod_label(self, cfg: BundleConfig, key: str) -> tuple[str, str]:
        """KServe sets no `app.kubernetes.io/instance`: an LLMInferenceService's pods (and
        its Deployment `<key>-kserve`) carry `app.kubernetes.io/name: <key>`
        (workload_single_node.go), an InferenceService's `serving.kserve.io/
        inferenceservice: <key>`."""
        return ("app.kubernetes.io/name" if _llmisvc(cfg) else ISVC_LABEL), key

    def ksm_pod_labels(self) -> tuple[str, ...]:
        return (ISVC_LABEL,)

    def rbac_rules(self) -> list[tuple[str, list[str], list[str]]]:
        return [("serving.kserve.io", ["llminferenceservices", "inferenceservices"], ["get"])]

    # -- the local demo: an ODH cluster's LLMInferenceService ----------------------------
    def demo_config(self, cfg: BundleConfig) -> BundleConfig:
        """LLMInferenceService models scraped by KServe's own controller monitors, so the
        demo's series come in as `kserve_vllm:*` and the mapping rules are what the
        alerts and panels read."""
        kserve = cfg.runtimes.kserve.model_copy(
            update={"api": "llm-inference-service", "controller_monitors": True}
        )
        return cfg.model_copy(
            update={"runtimes": cfg.runtimes.model_copy(update={"kserve": kserve})}
        )

    def demo_monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        """The renamed monitor alone per model namespace: a build between ODH PRs #1164
        and #1299, where only `kserve_vllm:*` exist and the mapping writes every `vllm:*`
        (with both monitors the `-default` one's names win and the mapping records
        nothing). Plain HTTP: the simulator serves no TLS."""
        if not self._controller(cfg):
            return self.monitors(cfg)
        namespaces = sorted({cfg.model_namespace(k) for k in _keys(cfg)})
        return {
            f"{ns}-{CONTROLLER_MONITOR}.yaml": controller_monitor(ns, True, scheme="http")
            for ns in namespaces
        }

    def demo_target(self, replica: dict[str, Any]) -> DemoTarget:
        """A decode pod of the LLMInferenceService `<key>`: container `main`, port 8000
        (KServe's template names no port)."""
        labels = llmisvc_pods({"metadata": {"name": replica["model_key"]}})[0][1]
        return DemoTarget(labels, "", "main", LLMISVC_PORT)

    def sim_pods(self, key: str, nodes: int, group: int, hash_: str, suffix: str) -> list[SimPod]:
        """`<key>-kserve-<hash>-<suffix>` of the Deployment `<key>-kserve`
        (workload_single_node.go); kube-state-metrics' allowlisted labels show only
        `app.kubernetes.io/name: <key>` (KServe sets no `app.kubernetes.io/instance`)."""
        workload = f"{key}-kserve"
        labels = {"app.kubernetes.io/name": key}
        return [SimPod(f"{workload}-{hash_}-{suffix}", "main", labels, workload)]
