"""`prometheus:` scraping, retention, HA, remote write and the Thanos sidecar."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from observability.config.types import ConfigModel, HttpUrl, K8sName, Quantity, SecretKeyRef
from observability.duration import Duration, duration_seconds
from observability.metrics.promql import DASHBOARD_WINDOW

__all__ = [
    "BasicAuthSecret",
    "PrometheusConfig",
    "QueueConfig",
    "RemoteWrite",
    "ThanosSidecar",
]


class BasicAuthSecret(ConfigModel):
    """A Secret holding remote-write basic auth; only its name and keys live here."""

    name: K8sName = Field(description="Secret name (in the monitoring namespace)")
    username_key: str = Field("username", description="Key holding the user name")
    password_key: str = Field("password", description="Key holding the password")


class QueueConfig(ConfigModel):
    """Remote-write queue tuning (Prometheus `queue_config`); unset = Prometheus default."""

    capacity: int | None = Field(None, ge=1, description="Samples buffered per shard")
    min_shards: int | None = Field(None, ge=1, description="Fewest parallel shards")
    max_shards: int | None = Field(None, ge=1, description="Most parallel shards")
    max_samples_per_send: int | None = Field(None, ge=1, description="Samples per request")
    batch_send_deadline: Duration | None = Field(
        None, description="Longest a sample waits in a shard before it is sent"
    )
    min_backoff: Duration | None = Field(None, description="First retry delay")
    max_backoff: Duration | None = Field(None, description="Longest retry delay")

    @model_validator(mode="after")
    def _shards(self) -> QueueConfig:
        if self.min_shards and self.max_shards and self.min_shards > self.max_shards:
            raise ValueError("min_shards must not exceed max_shards")
        return self


class RemoteWrite(ConfigModel):
    """One remote-write endpoint (Thanos Receive, Mimir, Cortex, VictoriaMetrics...)."""

    name: K8sName = Field(description="Queue name (Prometheus `remote_name` label)")
    url: HttpUrl = Field(description="Write endpoint, e.g. https://mimir.example/api/v1/push")
    basic_auth: BasicAuthSecret | None = Field(
        None, description="Secret holding basic-auth credentials"
    )
    bearer_token: SecretKeyRef | None = Field(
        None, description="Secret key holding a bearer token (Authorization: Bearer)"
    )
    queue: QueueConfig = Field(QueueConfig(), description="Queue tuning")
    only_bundle_series: bool = Field(
        False,
        description="Send only the series the bundle's rules and panels read (write relabelling)",
    )

    @model_validator(mode="after")
    def _one_auth(self) -> RemoteWrite:
        if self.basic_auth and self.bearer_token:
            raise ValueError("set basic_auth or bearer_token, not both")
        return self


class ThanosSidecar(ConfigModel):
    """A Thanos sidecar beside each Prometheus, uploading blocks to object storage."""

    enabled: bool = Field(False, description="Run the sidecar")
    object_store: SecretKeyRef | None = Field(
        None, description="Secret key holding the Thanos objstore.yml (bucket config)"
    )

    @model_validator(mode="after")
    def _store(self) -> ThanosSidecar:
        if self.enabled and self.object_store is None:
            raise ValueError(
                "enabled needs object_store: {name, key} of the Secret with objstore.yml"
            )
        return self


class PrometheusConfig(ConfigModel):
    """The kube-prometheus-stack Prometheus."""

    scrape_interval: Duration = Field("15s", description="How often every target is scraped")
    evaluation_interval: Duration = Field("15s", description="How often rules are evaluated")
    retention: Duration = Field("15d", description="How long samples are kept locally")
    storage_size: Quantity = Field("50Gi", description="Size of each Prometheus volume")
    storage_class: str = Field("", description="StorageClass of the volume; empty: default")
    cluster_label: str = Field("", description="Label naming the cluster; kept by aggregations")
    cluster_name: str = Field(
        "", description="This cluster's value of cluster_label (a Prometheus external label)"
    )
    replicas: int = Field(
        1, ge=1, le=10, description="Prometheus pods; 2 = an HA pair scraping the same targets"
    )
    replica_label: str = Field(
        "prometheus_replica",
        description="External label naming the replica; the remote store deduplicates on it",
    )
    remote_write: list[RemoteWrite] = Field(
        default_factory=list, description="Endpoints every sample is also sent to"
    )
    thanos: ThanosSidecar = Field(ThanosSidecar(), description="Thanos sidecar")

    @field_validator("cluster_label", "replica_label")
    @classmethod
    def _label_name(cls, v: str) -> str:
        if v and not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", v):
            raise ValueError(f"{v!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        return v

    @field_validator("scrape_interval")
    @classmethod
    def _samples_per_window(cls, v: str) -> str:
        # The dashboard recordings rate() over this window: two samples are needed.
        if 2 * duration_seconds(v) > duration_seconds(DASHBOARD_WINDOW):
            raise ValueError(
                f"{v} leaves fewer than 2 samples in the dashboard recordings' "
                f"{DASHBOARD_WINDOW} rate window, so they would record nothing: scrape every "
                f"{duration_seconds(DASHBOARD_WINDOW) / 2:g}s or faster"
            )
        return v

    @model_validator(mode="after")
    def _cluster_name_with_label(self) -> PrometheusConfig:
        if self.cluster_label and not self.cluster_name:
            raise ValueError("cluster_label is set: also set cluster_name (this cluster's value)")
        if self.cluster_name and not self.cluster_label:
            raise ValueError("cluster_name is set: also set cluster_label (e.g. cluster)")
        if self.cluster_label and self.cluster_label == self.replica_label:
            raise ValueError("cluster_label and replica_label must differ")
        names = [rw.name for rw in self.remote_write]
        if len(set(names)) != len(names):
            raise ValueError(f"remote_write names must be unique, got {names}")
        return self
