"""`vllm:` the reference workload, and `gpu:` the GPU nodes and their exporter."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from observability.config.types import ConfigModel, K8sName, PinnedTag, Quantity
from observability.config_errors import KeyProblem

__all__ = ["GPU_OPERATOR_DCGM", "DcgmService", "GpuConfig", "Toleration", "VllmConfig"]


class VllmConfig(ConfigModel):
    """The reference workload: one vLLM Deployment per deployed model."""

    image: str = Field("vllm/vllm-openai", description="vLLM image name (without the tag)")
    image_tag: PinnedTag = Field(description="Pinned vLLM image tag, e.g. v0.11.0 (never latest)")
    deploy: list[str] = Field(description="Keys of `models` the reference workload deploys")
    replicas: int = Field(1, ge=0, le=64, description="Replicas of each model's Deployment")
    port: int = Field(8000, ge=1, le=65535, description="vLLM's HTTP port (API and /metrics)")
    shm_size: Quantity = Field("8Gi", description="Memory-backed /dev/shm per pod (NCCL, workers)")
    model_cache_size: Quantity = Field("100Gi", description="Size limit of the model-cache volume")
    model_cache_pvc: str = Field(
        "", description="Existing PVC for the model cache; empty: an emptyDir per pod"
    )

    @field_validator("deploy")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        twice = sorted({m for m in v if v.count(m) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once: list each model once")
        return v


class Toleration(ConfigModel):
    """A pod toleration (Kubernetes `tolerations[]`)."""

    key: str = Field(description="Taint key tolerated")
    operator: Literal["Exists", "Equal"] = Field("Exists", description="Exists | Equal")
    value: str | None = Field(None, description="Taint value (with operator: Equal)")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect tolerated; unset: every effect"
    )


class DcgmService(ConfigModel):
    """The dcgm-exporter Service to scrape when the bundle does not install the chart."""

    namespace: K8sName | None = Field(
        None, description="Namespace of the exporter's Service; gpu-operator default: gpu-operator"
    )
    match_labels: dict[str, str] | None = Field(
        None,
        description="Labels selecting the Service; gpu-operator default: "
        "{app: nvidia-dcgm-exporter} (required for external)",
    )
    port: str | None = Field(
        None, description="Named Service port; gpu-operator default: gpu-metrics"
    )


# The GPU Operator's own Service (NVIDIA/gpu-operator assets/state-dcgm-exporter/
# 0600_service.yaml): name and label app=nvidia-dcgm-exporter, port gpu-metrics (9400),
# in the operator's namespace (gpu-operator in NVIDIA's install guide).
GPU_OPERATOR_DCGM = DcgmService(
    namespace="gpu-operator", match_labels={"app": "nvidia-dcgm-exporter"}, port="gpu-metrics"
)


class GpuConfig(ConfigModel):
    """GPU nodes: where model pods run, what a GPU hour costs, and which DCGM exporter."""

    dcgm_exporter: Literal["bundled", "gpu-operator", "external"] = Field(
        "bundled",
        description="bundled: install NVIDIA's dcgm-exporter chart; gpu-operator: scrape the "
        "GPU Operator's exporter (no chart); external: scrape the Service in dcgm_service",
    )
    dcgm_service: DcgmService = Field(
        default_factory=DcgmService,
        description="gpu-operator: overrides of the operator's defaults; external: required",
    )
    node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"},
        description="Node labels of GPU nodes (model pods and dcgm-exporter)",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, description="Tolerations for the GPU nodes' taints"
    )
    hourly_cost: dict[str, float] = Field(
        default_factory=lambda: {"default": 1.0},
        description="USD per GPU hour keyed by DCGM modelName; `default` covers the rest",
    )
    node_pool_label: str = Field(
        "karpenter.sh/nodepool",
        description="Node label naming the node pool (Karpenter: karpenter.sh/nodepool, EKS: "
        "eks.amazonaws.com/nodegroup, GKE: cloud.google.com/gke-nodepool)",
    )

    @field_validator("hourly_cost")
    @classmethod
    def _has_default(cls, v: dict[str, float]) -> dict[str, float]:
        if "default" not in v:
            raise ValueError("needs a `default` entry (USD per hour for unlisted GPU types)")
        return v

    @model_validator(mode="after")
    def _external_service(self) -> GpuConfig:
        if self.dcgm_exporter == "external":
            missing = [
                (f"dcgm_service.{k}", "required with dcgm_exporter: external")
                for k in ("namespace", "match_labels", "port")
                if not getattr(self.dcgm_service, k)
            ]
            if missing:
                raise KeyProblem(*missing)
        return self

    @property
    def scraped_dcgm_service(self) -> DcgmService:
        """The Service the DCGM ServiceMonitor selects (gpu-operator/external modes)."""
        base = GPU_OPERATOR_DCGM if self.dcgm_exporter == "gpu-operator" else DcgmService()
        own = self.dcgm_service
        return DcgmService(
            namespace=own.namespace or base.namespace,
            match_labels=own.match_labels or base.match_labels,
            port=own.port or base.port,
        )
