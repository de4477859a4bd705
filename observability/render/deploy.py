"""Render stage: the reference vLLM workload (`deploy/vllm/`), kustomize base + overlays.

- `deploy/vllm/namespace/`: the Namespace (own Application, kept when apps are deleted
  because it holds the Hugging Face token Secret you created).
- `deploy/vllm/base/`: Deployment, Service, NetworkPolicy and PodDisruptionBudget shared
  by every model, labelled `app.kubernetes.io/name: vllm` + `part-of`.
- `deploy/vllm/overlays/<model key>/`: one per model in bundle.yaml (deployed or not):
  `-<key>` name suffix (Service `vllm-<key>`), the `app.kubernetes.io/instance: <key>`
  label on objects and selectors, and the model's args and GPU count.
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.config import BundleConfig, ModelProfile
from observability.kube import (
    PART_OF,
    VLLM_CONTAINER,
    VLLM_NAME,
    VLLM_PORT_NAME,
    resources,
    vllm_labels,
)

__all__ = [
    "artifacts",
    "deployment",
    "namespace",
    "namespaces",
    "overlay",
    "overlay_patch",
    "vllm_args",
]

_HOME = "/home/vllm"
_CACHE = "/models"
_UID = 1000


def _kustomization(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}


def namespaces(cfg: BundleConfig) -> list[dict[str, Any]]:
    """One Namespace per deployed model's namespace (namespaces.vllm when none deploy)."""
    return [namespace(name) for name in cfg.deployed_namespaces or [cfg.namespaces.vllm]]


def namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {
                "app.kubernetes.io/part-of": PART_OF,
                # vLLM runs non-root with a read-only root FS; warn on anything looser.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
            "annotations": {"argocd.argoproj.io/sync-options": "Delete=false"},
        },
    }


def vllm_args(cfg: BundleConfig, profile: ModelProfile) -> list[str]:
    args = [
        "--model",
        profile.hf_id,
        "--served-model-name",
        profile.served_name,
        "--max-model-len",
        str(profile.max_model_len),
        "--gpu-memory-utilization",
        str(profile.gpu_memory_utilization),
        "--max-num-seqs",
        str(profile.max_num_seqs),
        "--port",
        str(cfg.vllm.port),
    ]
    if profile.gpus > 1:
        args += ["--tensor-parallel-size", str(profile.gpus)]
    return args


def _probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/health", "port": VLLM_PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _gpu_resources(cfg: BundleConfig, gpus: int) -> dict[str, Any]:
    res = resources(cfg.resources.vllm)
    res["requests"]["nvidia.com/gpu"] = gpus
    res["limits"]["nvidia.com/gpu"] = gpus
    return res


def deployment(cfg: BundleConfig) -> dict[str, Any]:
    hf = cfg.secrets.hf_token
    cache: dict[str, Any] = (
        {"persistentVolumeClaim": {"claimName": cfg.vllm.model_cache_pvc}}
        if cfg.vllm.model_cache_pvc
        else {"emptyDir": {"sizeLimit": cfg.vllm.model_cache_size}}
    )
    container = {
        "name": VLLM_CONTAINER,
        "image": f"{cfg.vllm.image}:{cfg.vllm.image_tag}",
        "imagePullPolicy": "IfNotPresent",
        "args": [],  # set per model by the overlay
        "ports": [{"name": VLLM_PORT_NAME, "containerPort": cfg.vllm.port, "protocol": "TCP"}],
        "env": [
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": hf.name, "key": hf.key}}},
            {"name": "HF_HOME", "value": f"{_CACHE}/huggingface"},
            {"name": "HOME", "value": _HOME},
        ],
        # Startup covers download + load (up to 15 min) instead of a 300 s initial delay;
        # liveness then restarts a hung engine within a minute.
        "startupProbe": _probe(10, 90),
        "readinessProbe": _probe(5, 3),
        "livenessProbe": _probe(10, 6),
        "resources": _gpu_resources(cfg, 1),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "model-cache", "mountPath": _CACHE},
            {"name": "home", "mountPath": _HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_spec = {
        # Service links would inject VLLM_*_PORT variables that vLLM reads as its own
        # settings (a Service named `vllm` breaks VLLM_PORT).
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 60,
        "nodeSelector": dict(cfg.gpu.node_selector),
        "tolerations": [t.model_dump(exclude_none=True) for t in cfg.gpu.tolerations],
        "securityContext": {
            "runAsUser": _UID,
            "runAsGroup": _UID,
            "fsGroup": _UID,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": cfg.vllm.shm_size}},
            {"name": "model-cache", **cache},
            {"name": "home", "emptyDir": {"sizeLimit": "10Gi"}},  # torch/triton caches
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": VLLM_NAME, "labels": vllm_labels()},
        "spec": {
            "replicas": cfg.vllm.replicas,
            # No surge: a second pod would need a second free GPU.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
            "selector": {"matchLabels": vllm_labels()},
            "template": {"metadata": {"labels": vllm_labels()}, "spec": pod_spec},
        },
    }


def _service(cfg: BundleConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": VLLM_NAME, "labels": vllm_labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": vllm_labels(),
            "ports": [
                {
                    "name": VLLM_PORT_NAME,
                    "port": cfg.vllm.port,
                    "targetPort": VLLM_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def _network_policy(cfg: BundleConfig) -> dict[str, Any]:
    def ns(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": VLLM_NAME, "labels": vllm_labels()},
        "spec": {
            "podSelector": {"matchLabels": vllm_labels()},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    # The gateway sends traffic; the monitoring namespace scrapes /metrics.
                    "from": [ns(cfg.namespaces.gateway), ns(cfg.namespaces.monitoring)],
                    "ports": [{"port": VLLM_PORT_NAME, "protocol": "TCP"}],
                }
            ],
        },
    }


def _pdb() -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": VLLM_NAME, "labels": vllm_labels()},
        # maxUnavailable, not minAvailable: with one replica minAvailable: 1 would block
        # every node drain forever.
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": vllm_labels()}},
    }


def overlay_patch(cfg: BundleConfig, profile: ModelProfile) -> dict[str, Any]:
    """Strategic-merge patch: the model's args and GPU count (containers merge by name)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": VLLM_NAME},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": VLLM_CONTAINER,
                            "args": vllm_args(cfg, profile),
                            "resources": _gpu_resources(cfg, profile.gpus),
                        }
                    ]
                }
            }
        },
    }


def overlay(
    cfg: BundleConfig, key: str, pod_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    labels: list[dict[str, Any]] = [
        {
            "pairs": {"app.kubernetes.io/instance": key},
            "includeSelectors": True,
            "includeTemplates": True,
        }
    ]
    if pod_labels:
        # The runtime's labels (a gateway routes on them): on objects and pods, never in
        # selectors (a selector is immutable once the Deployment exists).
        labels.append({"pairs": dict(pod_labels), "includeTemplates": True})
    return _kustomization(
        namespace=cfg.model_namespace(key),
        nameSuffix=f"-{key}",
        resources=["../../base"],
        labels=labels,
        patches=[{"path": "deployment-patch.yaml"}],
    )


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    base = "deploy/vllm/base"
    out: dict[str, Any] = {
        "deploy/vllm/namespace/kustomization.yaml": _kustomization(resources=["namespace.yaml"]),
        "deploy/vllm/namespace/namespace.yaml": namespaces(cfg),
        f"{base}/kustomization.yaml": _kustomization(
            resources=["deployment.yaml", "service.yaml", "networkpolicy.yaml", "pdb.yaml"]
        ),
        f"{base}/deployment.yaml": deployment(cfg),
        f"{base}/service.yaml": _service(cfg),
        f"{base}/networkpolicy.yaml": _network_policy(cfg),
        f"{base}/pdb.yaml": _pdb(),
    }

    for key, profile in cfg.models.items():
        rt = runtimes.runtime_of(cfg, key)
        if not rt.uses_vllm_deployment:
            continue  # rendered by its runtime (render/runtimes.py)
        d = f"deploy/vllm/overlays/{key}"
        out[f"{d}/kustomization.yaml"] = overlay(cfg, key, rt.pod_labels(cfg, key))
        out[f"{d}/deployment-patch.yaml"] = overlay_patch(cfg, profile)
    return out
