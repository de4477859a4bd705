"""`BundleConfig`: the whole bundle.yaml, one field per section, and the cross-section
rules (deployed models exist, served names are unique per namespace)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from observability.config.alerting import AlertingConfig, AlertmanagerConfig
from observability.config.gateway import GatewayConfig, InferencePoolConfig
from observability.config.gitops import (
    Charts,
    DashboardsConfig,
    GitConfig,
    Namespaces,
    ResourcesConfig,
    SecretsConfig,
    VerifyConfig,
)
from observability.config.models import ModelProfile
from observability.config.prometheus import PrometheusConfig
from observability.config.runtime_names import RUNTIMES
from observability.config.runtimes import AutoscalingConfig, RuntimesConfig
from observability.config.types import ConfigModel, check_k8s_name
from observability.config.workload import GpuConfig, VllmConfig
from observability.config_errors import KeyProblem

__all__ = ["BundleConfig"]


class BundleConfig(ConfigModel):
    """bundle.yaml: the one file you edit; every generator reads this object."""

    git: GitConfig = Field(description="The repository Argo CD syncs from")
    namespaces: Namespaces = Field(Namespaces(), description="Namespaces the bundle uses")
    charts: Charts = Field(description="Pinned Helm charts the bundle installs")
    vllm: VllmConfig = Field(description="The reference vLLM workload")
    models: dict[str, ModelProfile] = Field(
        description="The model registry, keyed by a Kubernetes name"
    )
    gpu: GpuConfig = Field(GpuConfig(), description="GPU nodes and the DCGM exporter")
    prometheus: PrometheusConfig = Field(PrometheusConfig(), description="Prometheus")
    secrets: SecretsConfig = Field(description="Secrets the bundle references")
    alerting: AlertingConfig = Field(AlertingConfig(), description="Alert thresholds")
    alertmanager: AlertmanagerConfig = Field(AlertmanagerConfig(), description="Alertmanager")
    dashboards: DashboardsConfig = Field(DashboardsConfig(), description="Grafana dashboards")
    verify: VerifyConfig = Field(VerifyConfig(), description="The in-cluster verify CronJob")
    resources: ResourcesConfig = Field(
        ResourcesConfig(), description="Resources of every component"
    )
    autoscaling: AutoscalingConfig = Field(AutoscalingConfig(), description="Autoscaling")
    runtimes: RuntimesConfig = Field(RuntimesConfig(), description="Per-runtime settings")
    gateway: GatewayConfig = Field(
        GatewayConfig(), description="The inference router (InferencePool and its EPP)"
    )

    @field_validator("models")
    @classmethod
    def _model_keys(cls, v: dict[str, ModelProfile]) -> dict[str, ModelProfile]:
        if not v:
            raise ValueError("define at least one model")
        for key in v:
            check_k8s_name(key)
        return v

    @model_validator(mode="after")
    def _deployed_models_exist(self) -> BundleConfig:
        problems: list[tuple[str, str]] = []
        for i, m in enumerate(self.vllm.deploy):
            if m not in self.models:
                problems.append(
                    (
                        f"vllm.deploy.{i}",
                        f"{m!r} is not a key of models (defined: {', '.join(sorted(self.models))})",
                    )
                )
        seen: dict[tuple[str, str], str] = {}
        for key, m in ((k, self.models[k]) for k in self.vllm.deploy if k in self.models):
            where = (self.model_namespace(key), m.served_name)
            if where in seen:
                problems.append(
                    (
                        f"models.{key}.served_name",
                        f"{m.served_name!r} is also served by {seen[where]} in namespace "
                        f"{where[0]}: give one of them another served_name or namespace",
                    )
                )
            seen.setdefault(where, key)
        if problems:
            raise KeyProblem(*problems)
        return self

    @model_validator(mode="after")
    def _pool_members(self) -> BundleConfig:
        pool = self.gateway.inference_pool
        problems: list[tuple[str, str]] = []
        for key, m in self.models.items():
            if m.inference_pool is None:
                continue
            where = f"models.{key}.inference_pool"
            if not pool.enabled:
                problems.append(
                    (
                        where,
                        f"names pool {m.inference_pool!r} but gateway.inference_pool."
                        "enabled is false: enable it or remove the key",
                    )
                )
            elif m.inference_pool != pool.name:
                problems.append(
                    (
                        where,
                        f"{m.inference_pool!r} is not the configured pool "
                        f"(gateway.inference_pool.name: {pool.name!r})",
                    )
                )
            elif self.model_namespace(key) != self.pool_namespace:
                problems.append(
                    (
                        where,
                        f"the model runs in namespace {self.model_namespace(key)} but the "
                        f"pool is in {self.pool_namespace}: an InferencePool selects pods in its "
                        "own namespace; set models.<key>.namespace or gateway.inference_pool."
                        "namespace",
                    )
                )
        if problems:
            raise KeyProblem(*problems)
        return self

    @property
    def pool(self) -> InferencePoolConfig:
        return self.gateway.inference_pool

    @property
    def pool_namespace(self) -> str:
        return self.pool.namespace or self.namespaces.vllm

    @property
    def epp_service(self) -> str:
        return self.pool.epp.name or f"{self.pool.name}-epp"

    @property
    def epp_namespace(self) -> str:
        return self.pool.epp.namespace or self.pool_namespace

    @property
    def pool_models(self) -> list[str]:
        """Keys of the models served through the pool (models.<key>.inference_pool)."""
        return [k for k, m in self.models.items() if m.inference_pool is not None]

    @property
    def runtimes_in_use(self) -> list[str]:
        """Runtimes of the registered models, in RUNTIMES order (monitors, mappings)."""
        used = {m.runtime for m in self.models.values()}
        return [r for r in RUNTIMES if r in used]

    @property
    def deployed_models(self) -> list[tuple[str, ModelProfile]]:
        return [(k, self.models[k]) for k in self.vllm.deploy]

    def model_namespace(self, key: str) -> str:
        """Namespace a configured model runs in (its own `namespace`, else namespaces.vllm)."""
        return self.models[key].namespace or self.namespaces.vllm

    @property
    def deployed_namespaces(self) -> list[str]:
        """Namespaces the reference workload creates: one per deployed model, sorted."""
        return sorted({self.model_namespace(k) for k in self.vllm.deploy})

    @property
    def monitored_namespaces(self) -> list[str]:
        """Namespaces the vLLM ServiceMonitor selects: every registered model's, sorted.

        Wider than the deployed set on purpose: models from the registry that are served
        by other means (another chart, a RayService) are scraped too once labelled."""
        return sorted({self.model_namespace(k) for k in self.models} | {self.namespaces.vllm})
