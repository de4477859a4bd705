"""What Argo CD deploys and where: `git:`, `namespaces:`, `charts:`, `secrets:`,
`resources:`, `dashboards:` and the in-cluster `verify:` CronJob."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from observability.config.types import (
    ConfigModel,
    HelmChart,
    K8sName,
    PinnedImage,
    ResourceSpec,
    SecretKeyRef,
)

__all__ = [
    "Charts",
    "DashboardsConfig",
    "GitConfig",
    "GrafanaAdminSecret",
    "GrafanaOperatorConfig",
    "NamedSecret",
    "Namespaces",
    "ResourcesConfig",
    "SecretsConfig",
    "VerifyConfig",
]


class GitConfig(ConfigModel):
    """The repository Argo CD syncs the rendered deploy/ tree from."""

    repo_url: str = Field(description="Git URL Argo CD syncs this repository from (your fork)")
    revision: str = Field("main", description="Branch, tag or commit Argo CD tracks")

    @field_validator("repo_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^(https://|ssh://|git@)\S+$", v):
            raise ValueError(f"{v!r} is not a git URL (https://..., ssh://... or git@...)")
        return v


class Namespaces(ConfigModel):
    argocd: K8sName = Field("argocd", description="Namespace Argo CD runs in")
    monitoring: K8sName = Field(
        "monitoring", description="Namespace of Prometheus, Alertmanager, Grafana, exporters"
    )
    vllm: K8sName = Field("vllm", description="Default namespace of the models")
    gateway: K8sName = Field("vllm-gateway", description="Namespace allowed to call vLLM")


class Charts(ConfigModel):
    kube_prometheus_stack: HelmChart = Field(
        description="prometheus-community/kube-prometheus-stack"
    )
    dcgm_exporter: HelmChart = Field(
        description="NVIDIA's dcgm-exporter (gpu.dcgm_exporter: bundled)"
    )


def _resources(cpu: str, memory: str, memory_limit: str, what: str) -> ResourceSpec:
    return Field(
        ResourceSpec(cpu=cpu, memory=memory, memory_limit=memory_limit),
        description=f"Requests and memory limit of {what}",
    )


class ResourcesConfig(ConfigModel):
    """Resource requests for every component the bundle deploys (GitOps issue)."""

    prometheus: ResourceSpec = _resources("500m", "2Gi", "4Gi", "each Prometheus pod")
    alertmanager: ResourceSpec = _resources("50m", "128Mi", "256Mi", "each Alertmanager pod")
    grafana: ResourceSpec = _resources("100m", "256Mi", "512Mi", "Grafana")
    grafana_sidecar: ResourceSpec = _resources(
        "50m", "96Mi", "192Mi", "Grafana's dashboard and datasource sidecars"
    )
    prometheus_operator: ResourceSpec = _resources(
        "100m", "128Mi", "256Mi", "the Prometheus operator"
    )
    config_reloader: ResourceSpec = _resources(
        "10m", "32Mi", "64Mi", "the operator's config-reloader sidecars"
    )
    kube_state_metrics: ResourceSpec = _resources("50m", "128Mi", "256Mi", "kube-state-metrics")
    node_exporter: ResourceSpec = _resources("50m", "64Mi", "128Mi", "each node-exporter pod")
    dcgm_exporter: ResourceSpec = _resources("100m", "256Mi", "512Mi", "each dcgm-exporter pod")
    vllm: ResourceSpec = _resources("4", "32Gi", "48Gi", "each vLLM pod (GPUs aside)")
    # Empty: pods get the cluster's default priority, which schedules everywhere. The
    # charts' own defaults (dcgm-exporter: system-node-critical) are refused outside
    # kube-system on GKE, so the bundle deletes them unless you name a class here that
    # exists in your cluster (create one first, e.g. a PriorityClass `monitoring-high`).
    # A name applies to dcgm-exporter and every kube-prometheus-stack pod (operator and
    # its webhook job, Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter).
    priority_class_name: str = Field(
        "", description="PriorityClass for the bundle's exporters and stack; empty: none"
    )


class GrafanaAdminSecret(ConfigModel):
    name: K8sName = Field("grafana-admin", description="Secret with Grafana's admin login")
    user_key: str = Field("admin-user", description="Key holding the user name")
    password_key: str = Field("admin-password", description="Key holding the password")


class NamedSecret(ConfigModel):
    name: K8sName = Field(description="Secret name")


class SecretsConfig(ConfigModel):
    """Secrets the bundle reads but never writes (create them before syncing)."""

    hf_token: SecretKeyRef = Field(
        description="Hugging Face token (HF_TOKEN) in each model's namespace"
    )
    grafana_admin: GrafanaAdminSecret = Field(
        GrafanaAdminSecret(), description="Grafana's admin login, in the monitoring namespace"
    )
    alert_receivers: NamedSecret = Field(
        NamedSecret(name="alertmanager-receivers"),
        description="Pager and chat keys Alertmanager reads as files",
    )


class GrafanaOperatorConfig(ConfigModel):
    """Where `GrafanaDashboard` objects land (`dashboards.delivery: grafana-operator`)."""

    instance_selector: dict[str, str] = Field(
        {"dashboards": "grafana"},
        min_length=1,
        description="matchLabels of the operator's `Grafana` instances that get the dashboards",
    )
    allow_cross_namespace_import: bool = Field(
        False,
        description="Let `Grafana` instances outside namespaces.monitoring import the dashboards",
    )
    resync_period: str = Field(
        "10m",
        pattern=r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$",
        description="How often the operator re-applies each dashboard (Go duration)",
    )


class DashboardsConfig(ConfigModel):
    delivery: Literal["sidecar", "grafana-operator"] = Field(
        "sidecar",
        description="How Grafana gets the dashboards: ConfigMaps the kube-prometheus-stack "
        "Grafana sidecar loads (`sidecar`), or `GrafanaDashboard` objects "
        "(grafana.integreatly.org/v1beta1) the Grafana Operator applies (`grafana-operator`)",
    )
    grafana_operator: GrafanaOperatorConfig = Field(
        GrafanaOperatorConfig(),
        description="GrafanaDashboard settings (delivery: grafana-operator)",
    )
    folder: str = Field("vLLM", description="Grafana folder of the dashboards")
    uid: str = Field(
        "vllm-single-pane", max_length=40, description="UID of the single-pane dashboard"
    )
    title: str = Field("vLLM single pane", description="Title of the single-pane dashboard")

    def companion_uid(self, key: str) -> str:
        """Uid of a companion dashboard (`kv`, `instance`): the pane's uid with `-<key>`,
        cut to Grafana's 40 characters, so every dashboard of one bundle moves together."""
        suffix = f"-{key}"
        return self.uid[: 40 - len(suffix)] + suffix


class VerifyConfig(ConfigModel):
    """`obsctl verify` in-cluster: the optional CronJob rendered into deploy/verify/."""

    cronjob: bool = Field(False, description="Add the CronJob component to deploy/verify/")
    schedule: str = Field("*/15 * * * *", description="Cron schedule of the verify CronJob")
    image: PinnedImage = Field(
        "ghcr.io/example-org/obsctl-verify:0.1.0",
        description="The verify image built from the repository's Dockerfile, by tag or digest",
    )
    git_image: PinnedImage = Field(
        "alpine/git:v2.47.2", description="Pinned image that clones the repo"
    )
