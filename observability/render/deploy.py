"""Render stage: the reference vLLM workload (`deploy/vllm/`), kustomize base + overlays.

- `deploy/vllm/namespace/`: the Namespace (own Application, kept when apps are deleted
  because it holds the Hugging Face token Secret you created).
- `deploy/vllm/base/`: Deployment, Service, NetworkPolicy and PodDisruptionBudget shared
  by every model, labelled `app.kubernetes.io/name: vllm` + `part-of`.
- `deploy/vllm/overlays/<model key>/`: one per model in bundle.yaml (deployed or not):
  `-<key>` name suffix (Service `vllm-<key>`), the `app.kubernetes.io/instance: <key>`
  label on objects and selectors, and the model's args and GPU count.

Where the weights come from (`models.<key>.source`):
- `huggingface`: vLLM downloads `hf_id` into the model cache with the HF token Secret.
- `s3`: an init container (`model-sync`, pinned aws-cli image) runs `aws s3 sync` of the
  prefix into the model cache (`--endpoint-url` for an S3-compatible store); the pod runs
  as its own ServiceAccount `vllm-<key>` (rendered in the overlay) whose annotation names
  the cloud identity (IRSA `eks.amazonaws.com/role-arn`, GKE
  `iam.gke.io/gcp-service-account`) or, with none, which an EKS Pod Identity association
  names (else the node's role): no key is ever rendered. vLLM loads the local copy offline.
- `pvc`: an existing claim is mounted read-only at /model-store and vLLM loads from it.
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.config import BundleConfig, ModelProfile
from observability.duration import duration_seconds
from observability.kube import (
    PART_OF,
    VLLM_CONTAINER,
    VLLM_NAME,
    VLLM_PORT_NAME,
    http_probe,
    kustomization,
    non_root_pod_security,
    resources,
    restricted_container_security,
    startup_failures,
    vllm_labels,
)
from observability.render.router_chart import pool_pod_labels

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
_STORE = "/model-store"
SYNC_CONTAINER = "model-sync"


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


def model_path(key: str, profile: ModelProfile) -> str:
    """The model vLLM serves (first argument): the Hugging Face id, or the local copy of
    s3/pvc weights."""
    if profile.source == "s3":
        return f"{_CACHE}/{key}"
    if profile.source == "pvc" and profile.pvc is not None:
        return f"{_STORE}/{profile.pvc.path}".rstrip("/")
    return profile.hf_id


def vllm_args(cfg: BundleConfig, profile: ModelProfile, key: str | None = None) -> list[str]:
    """Arguments to the image's entrypoint `vllm serve`: the model first, positionally
    (`--model` is deprecated since vLLM 0.33; `vllm serve MODEL` works back to 0.5)."""
    args = [
        profile.hf_id if key is None else model_path(key, profile),
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
        "startupProbe": http_probe(VLLM_PORT_NAME, 10, 90),
        "readinessProbe": http_probe(VLLM_PORT_NAME, 5, 3),
        "livenessProbe": http_probe(VLLM_PORT_NAME, 10, 6),
        "resources": _gpu_resources(cfg, 1),
        "securityContext": restricted_container_security(),
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
        "securityContext": non_root_pod_security(),
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
                    # The gateway sends traffic; the monitoring namespace scrapes /metrics;
                    # an inference pool's endpoint picker polls each endpoint's /metrics.
                    "from": [
                        ns(cfg.namespaces.gateway),
                        ns(cfg.namespaces.monitoring),
                        *([ns(cfg.epp_namespace)] if cfg.pool.enabled else []),
                    ],
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


def _sync_container(key: str, profile: ModelProfile) -> dict[str, Any]:
    s3 = profile.s3
    assert s3 is not None
    env = [{"name": "HOME", "value": "/tmp"}]
    if s3.region:
        env.append({"name": "AWS_REGION", "value": s3.region})
    command = ["aws", "s3", "sync", s3.uri, f"{_CACHE}/{key}", "--no-progress"]
    if s3.endpoint_url:
        # An S3-compatible store (MinIO, Ceph RGW): a global option of aws-cli (also
        # AWS_ENDPOINT_URL_S3 since 2.13); a client endpoint makes the sync path-style.
        command += ["--endpoint-url", s3.endpoint_url]
    return {
        "name": SYNC_CONTAINER,
        "image": s3.image,
        "imagePullPolicy": "IfNotPresent",
        # Incremental: a restarted pod with a PVC-backed cache copies only what changed.
        "command": command,
        "env": env,
        "resources": {
            "requests": {"cpu": "1", "memory": "1Gi"},
            "limits": {"memory": "2Gi"},
        },
        "securityContext": restricted_container_security(),
        "volumeMounts": [
            {"name": "model-cache", "mountPath": _CACHE},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def overlay_patch(cfg: BundleConfig, profile: ModelProfile, key: str = "") -> dict[str, Any]:
    """Strategic-merge patch: the model's args, GPU count, startup budget and weight
    source (containers, env and volumes merge by name)."""
    container: dict[str, Any] = {
        "name": VLLM_CONTAINER,
        "args": vllm_args(cfg, profile, key or None),
        "resources": _gpu_resources(cfg, profile.gpus),
        "startupProbe": http_probe(
            VLLM_PORT_NAME, 10, startup_failures(duration_seconds(profile.expected_load_time))
        ),
    }
    pod: dict[str, Any] = {"containers": [container]}
    env: list[dict[str, Any]] = []
    if profile.hf_token_optional:
        # A public model starts without the token Secret (env merges by name).
        hf = cfg.secrets.hf_token
        ref = {"name": hf.name, "key": hf.key, "optional": True}
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": ref}})
    if profile.source != "huggingface":
        env.append({"name": "HF_HUB_OFFLINE", "value": "1"})
    if env:
        container["env"] = env
    if profile.source == "s3" and profile.s3 is not None:
        # `vllm` in the overlay: kustomize's nameSuffix makes it vllm-<key>, here and on
        # the ServiceAccount the overlay renders
        pod["serviceAccountName"] = VLLM_NAME
        pod["initContainers"] = [_sync_container(key, profile)]
    if profile.source == "pvc" and profile.pvc is not None:
        container["volumeMounts"] = [{"name": "model-store", "mountPath": _STORE, "readOnly": True}]
        pod["volumes"] = [
            {
                "name": "model-store",
                "persistentVolumeClaim": {"claimName": profile.pvc.claim_name, "readOnly": True},
            }
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": VLLM_NAME},
        "spec": {"template": {"spec": pod}},
    }


def service_account(profile: ModelProfile) -> dict[str, Any]:
    """The s3 source's ServiceAccount `vllm-<key>` (after the overlay's nameSuffix): an
    identity annotation, never a key. The IAM role's trust policy (IRSA) names
    `system:serviceaccount:<namespace>:vllm-<key>`; without annotations the ServiceAccount
    is still the model's own, for an EKS Pod Identity association to name."""
    assert profile.s3 is not None
    metadata: dict[str, Any] = {"name": VLLM_NAME}
    if profile.s3.annotations:
        metadata["annotations"] = dict(sorted(profile.s3.annotations.items()))
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
        "automountServiceAccountToken": False,
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
    extra = ["serviceaccount.yaml"] if cfg.models[key].source == "s3" else []
    return kustomization(
        namespace=cfg.model_namespace(key),
        nameSuffix=f"-{key}",
        resources=["../../base", *extra],
        labels=labels,
        patches=[{"path": "deployment-patch.yaml"}],
    )


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    base = "deploy/vllm/base"
    out: dict[str, Any] = {
        "deploy/vllm/namespace/kustomization.yaml": kustomization(resources=["namespace.yaml"]),
        "deploy/vllm/namespace/namespace.yaml": namespaces(cfg),
        f"{base}/kustomization.yaml": kustomization(
            resources=["deployment.yaml", "service.yaml", "networkpolicy.yaml", "pdb.yaml"]
        ),
        f"{base}/deployment.yaml": deployment(cfg),
        f"{base}/service.yaml": _service(cfg),
        f"{base}/networkpolicy.yaml": _network_policy(cfg),
        f"{base}/pdb.yaml": _pdb(),
    }
    from observability.autoscaling import scalable_models, scaled_object

    for key, profile in cfg.models.items():
        rt = runtimes.runtime_of(cfg, key)
        if not rt.uses_vllm_deployment:
            continue  # rendered by its runtime (render/runtimes.py)
        d = f"deploy/vllm/overlays/{key}"
        labels = {**rt.pod_labels(cfg, key), **pool_pod_labels(cfg, key)}
        out[f"{d}/kustomization.yaml"] = overlay(cfg, key, labels)
        out[f"{d}/deployment-patch.yaml"] = overlay_patch(cfg, profile, key)
        if profile.source == "s3":
            out[f"{d}/serviceaccount.yaml"] = service_account(profile)
        if key in scalable_models(cfg):
            out[f"{d}/scaledobject.yaml"] = scaled_object(cfg, key)
            out[f"{d}/kustomization.yaml"]["resources"].append("scaledobject.yaml")
    return out
