"""`autoscaling:` (KEDA) and `runtimes:` the settings each runtime shares across its models.

These are settings only; what a runtime renders, scrapes and checks is its plug-in in
observability/runtimes/ (which reads `cfg.runtimes.<name>`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from observability.config.types import (
    ConfigModel,
    HelmChart,
    K8sName,
    PinnedImage,
    PinnedTag,
    ResourceSpec,
)

__all__ = [
    "AibrixSettings",
    "AutoscalingConfig",
    "KServeSettings",
    "KedaConfig",
    "LwsSettings",
    "RayServiceSettings",
    "RuntimesConfig",
]


class KedaConfig(ConfigModel):
    """KEDA: one ScaledObject per deployed model, on its queue (models.<key>.autoscaling)."""

    enabled: bool = Field(False, description="One ScaledObject per deployed model")
    install: bool = Field(True, description="Install KEDA itself (Argo CD Application)")
    namespace: K8sName = Field("keda", description="Namespace KEDA runs in")
    cooldown_seconds: int = Field(300, ge=0, description="Wait before scaling back down")
    polling_interval_seconds: int = Field(15, ge=1, description="How often KEDA queries")
    chart: HelmChart = Field(
        HelmChart(repo_url="https://kedacore.github.io/charts", chart="keda", version="2.17.2"),
        description="KEDA's Helm chart",
    )


class AutoscalingConfig(ConfigModel):
    keda: KedaConfig = Field(KedaConfig(), description="KEDA autoscaling")


class RayServiceSettings(ConfigModel):
    """KubeRay RayService settings shared by every `rayservice` model."""

    install_operator: bool = Field(True, description="Install the KubeRay operator app")
    operator_namespace: K8sName = Field(
        "kuberay-operator", description="Namespace the KubeRay operator runs in"
    )
    chart: HelmChart = Field(
        HelmChart(
            repo_url="https://ray-project.github.io/kuberay-helm/",
            chart="kuberay-operator",
            version="1.4.2",
        ),
        description="The KubeRay operator's Helm chart",
    )
    image: str = Field("rayproject/ray-llm", description="Ray image name (without the tag)")
    image_tag: PinnedTag = Field(
        "2.58.0-py312-cu130",
        description="Pinned ray-llm image tag (2.58.0 ships vLLM 0.26.0 and exports "
        "ray_vllm_<name>; 2.49.x and older ship vLLM 0.10 and export ray_vllm:<name>)",
    )
    head_node_selector: dict[str, str] = Field(
        default_factory=dict, description="Where the CPU-only head pod runs"
    )
    head: ResourceSpec = Field(
        ResourceSpec(cpu="2", memory="12Gi", memory_limit="12Gi"),
        description="Resources of the head pod",
    )
    worker: ResourceSpec = Field(
        ResourceSpec(cpu="12", memory="60Gi", memory_limit="60Gi"),
        description="Resources of each worker pod (GPUs come from the model's `gpus`)",
    )


class AibrixSettings(ConfigModel):
    """Where the AIBrix control plane and gateway run (installed by AIBrix's own manifests)."""

    system_namespace: K8sName = Field(
        "aibrix-system", description="Namespace of AIBrix's control plane and gateway"
    )
    routing_strategy: str = Field(
        "least-request", description="Default routing-strategy header the gateway applies"
    )


class KServeSettings(ConfigModel):
    """KServe settings shared by every `kserve` model (docs/runtimes/kserve.md)."""

    api: Literal["llm-inference-service", "inference-service"] = Field(
        "llm-inference-service",
        description="Which KServe API serves the models: llm-inference-service "
        "(serving.kserve.io/v1alpha2 LLMInferenceService, vLLM in the llm-d image) or "
        "inference-service (serving.kserve.io/v1beta1 InferenceService with the Hugging Face "
        "runtime's vLLM backend, Standard deployment mode)",
    )
    controller_monitors: bool = Field(
        False,
        description="KServe's own controller creates the vLLM PodMonitors "
        "(kserve-llm-isvc-vllm-engine-default with vLLM's names and kserve-llm-isvc-vllm-"
        "engine renaming them kserve_vllm:*; Open Data Hub / OpenShift AI builds of KServe, "
        "LLMISVC_MONITORING_DISABLED unset). true: the bundle renders no engine monitor and "
        "maps kserve_vllm:* onto vllm:* only where a pod lacks vLLM's own names; false "
        "(upstream KServe, which creates none): the bundle's PodMonitor kserve-vllm scrapes "
        "vLLM's names. Only for api llm-inference-service",
    )
    engine_tls: bool = Field(
        True,
        description="vLLM serves /metrics over HTTPS with KServe's self-signed certificate "
        "(ingress config enableLLMInferenceServiceTLS); the bundle's monitor then scrapes "
        "https without verifying, as KServe's own monitor does",
    )
    llm_image: PinnedImage = Field(
        "ghcr.io/llm-d/llm-d-cuda:v0.8.0",
        description="Pinned vLLM image of LLMInferenceService models (the default of KServe "
        "v0.20.0's config-llm-template)",
    )
    huggingface_image: PinnedImage = Field(
        "kserve/huggingfaceserver:v0.20.0-gpu",
        description="Pinned Hugging Face runtime image of InferenceService models",
    )

    @model_validator(mode="after")
    def _monitors_need_llmisvc(self) -> KServeSettings:
        if self.controller_monitors and self.api != "llm-inference-service":
            raise ValueError(
                "controller_monitors applies to api llm-inference-service only: KServe "
                "creates no monitor for an InferenceService"
            )
        return self


class LwsSettings(ConfigModel):
    """The LeaderWorkerSet controller (kubernetes-sigs/lws) every `lws` model needs."""

    install_controller: bool = Field(True, description="Install the LWS controller app")
    chart: HelmChart = Field(
        HelmChart(repo_url="registry.k8s.io/lws/charts", chart="lws", version="0.10.0"),
        description="The release's OCI chart (Argo CD: an OCI Helm repoURL has no scheme); "
        "0.10.0 is kubernetes-sigs/lws v0.10.0, whose CRD lint validates against",
    )


class RuntimesConfig(ConfigModel):
    rayservice: RayServiceSettings = Field(
        RayServiceSettings(), description="KubeRay RayService settings"
    )
    aibrix: AibrixSettings = Field(AibrixSettings(), description="AIBrix settings")
    kserve: KServeSettings = Field(KServeSettings(), description="KServe settings")
    lws: LwsSettings = Field(LwsSettings(), description="LeaderWorkerSet controller settings")
