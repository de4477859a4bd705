"""The one config: `bundle.yaml` loaded into frozen, typed models.

Generators receive a `BundleConfig` as an argument; they never read files or the
environment themselves. Every model forbids unknown keys so a typo is an error that names
the key, not a silently ignored setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from observability.config_errors import KeyProblem, format_errors, load_yaml_with_marks
from observability.duration import Duration, duration_seconds
from observability.metrics.buckets import edge_problem
from observability.metrics.names import VLLM, Signal
from observability.metrics.promql import DASHBOARD_WINDOW

__all__ = [
    "DEFAULT_BUNDLE_PATH",
    "RUNTIMES",
    "AlertingConfig",
    "BundleConfig",
    "ConfigError",
    "KeyProblem",
    "ModelProfile",
    "duration_seconds",
    "load_config",
    "parse_config",
]

DEFAULT_BUNDLE_PATH = Path("bundle.yaml")

_K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY_RE = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")


class ConfigError(Exception):
    """bundle.yaml problems, one line each naming the key (and where) and the fix."""

    def __init__(self, lines: str | list[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


def _check_k8s_name(value: str) -> str:
    if not _K8S_NAME_RE.match(value) or len(value) > 63:
        raise ValueError(f"{value!r} is not a valid Kubernetes name (lower-case, digits, '-')")
    return value


def _on_bucket_edge(signal: Signal) -> AfterValidator:
    """A histogram threshold must be a bucket edge in every supported vLLM version."""

    def check(value: float) -> float:
        problem = edge_problem(value, signal)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


TtftEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.TTFT)]
ItlEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.ITL)]
E2eEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.E2E)]
QueueTimeEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.QUEUE_TIME)]

K8sName = Annotated[
    str,
    AfterValidator(_check_k8s_name),
    Field(description="Kubernetes object or namespace name (RFC 1123 label)"),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class GitConfig(_Model):
    repo_url: str = Field(description="Git URL Argo CD syncs this repository from (your fork)")
    revision: str = Field("main", description="Branch, tag or commit Argo CD tracks")

    @field_validator("repo_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^(https://|ssh://|git@)\S+$", v):
            raise ValueError(f"{v!r} is not a git URL (https://..., ssh://... or git@...)")
        return v


class Namespaces(_Model):
    argocd: K8sName = "argocd"
    monitoring: K8sName = "monitoring"
    vllm: K8sName = "vllm"
    gateway: K8sName = Field("vllm-gateway", description="Namespace allowed to call vLLM")


class HelmChart(_Model):
    repo_url: str
    chart: str
    version: str = Field(description="Exact chart version; ranges are not allowed")

    @field_validator("version")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if not re.match(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$", v):
            raise ValueError(f"{v!r} is not an exact chart version (pin e.g. 1.2.3)")
        return v


class Charts(_Model):
    kube_prometheus_stack: HelmChart
    dcgm_exporter: HelmChart


class VllmConfig(_Model):
    image: str = "vllm/vllm-openai"
    image_tag: str = Field(description="Pinned vLLM image tag, e.g. v0.11.0 (never latest)")
    deploy: list[str] = Field(description="Keys of `models` the reference workload deploys")
    replicas: int = Field(1, ge=0, le=64)
    port: int = Field(8000, ge=1, le=65535)
    shm_size: str = Field("8Gi", description="Memory-backed /dev/shm per pod (NCCL, workers)")
    model_cache_size: str = Field("100Gi", description="Size limit of the model-cache volume")
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

    @field_validator("shm_size", "model_cache_size")
    @classmethod
    def _size(cls, v: str) -> str:
        if not _QUANTITY_RE.match(v):
            raise ValueError(f"{v!r} is not a Kubernetes quantity (e.g. 8Gi)")
        return v

    @field_validator("image_tag")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if v in ("", "latest") or v.endswith(":latest"):
            raise ValueError("pin an exact image tag such as v0.11.0, not 'latest'")
        return v


class ModelCost(_Model):
    input_per_1k: float = Field(ge=0, description="USD per 1K prompt tokens")
    output_per_1k: float = Field(ge=0, description="USD per 1K generated tokens")


_S3_URI_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
# Annotation keys that would carry a credential instead of naming an identity.
_SECRET_HINT_RE = re.compile(r"(secret|password|token|access[_-]?key|credential)", re.I)


def _check_http_url(value: str) -> str:
    """An http(s) URL with a host (remote-write url, s3 endpoint_url)."""
    if not re.match(r"^https?://[^\s/]+\S*$", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _check_image_pinned(value: str) -> str:
    name, _, tag = value.rpartition(":")
    if not name or "/" in tag or tag in ("", "latest"):
        raise ValueError(
            f"{value!r} is not a pinned image: use image:tag, e.g. amazon/aws-cli:2.17.0"
        )
    return value


class S3Source(_Model):
    """`source: s3`: an init container syncs `uri` into the model cache before vLLM starts.

    Credentials come from the identity the pod runs as, never from a key: IRSA (EKS) or
    workload identity (GKE) named by `annotations` on the model's ServiceAccount
    `vllm-<key>`; without annotations, an EKS Pod Identity association on that
    ServiceAccount or else the node's IAM role. `endpoint_url` points the sync at an
    S3-compatible store (MinIO, Ceph RGW)."""

    uri: str = Field(description="s3://bucket/prefix/ holding the model files (config, weights)")
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations of the pod's ServiceAccount `vllm-<model key>` naming the "
        "cloud identity, e.g. eks.amazonaws.com/role-arn: arn:aws:iam::... (IRSA) or "
        "iam.gke.io/gcp-service-account: ...; empty (EKS Pod Identity, whose association "
        "names the ServiceAccount outside the pod spec, or the node's IAM role): the "
        "ServiceAccount carries none. Never a key",
    )
    region: str = Field("", description="AWS region of the bucket (AWS_REGION); empty: SDK default")
    endpoint_url: str = Field(
        "",
        description="S3-compatible endpoint the sync talks to (`aws s3 sync --endpoint-url`, "
        "path-style), e.g. http://minio.minio.svc:9000 or https://rgw.example:7480; "
        "empty: AWS S3. An http(s) URL without user:pass@",
    )
    image: str = Field("amazon/aws-cli:2.17.0", description="Pinned image with `aws s3 sync`")

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if not _S3_URI_RE.match(v):
            raise ValueError(f"{v!r} is not an s3://bucket/prefix URI")
        return v

    @field_validator("annotations")
    @classmethod
    def _no_secrets(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if _SECRET_HINT_RE.search(key) or re.match(r"^(AKIA|ASIA)[A-Z0-9]{16}$", value):
                raise ValueError(
                    f"annotation {key!r} looks like a credential: name an identity "
                    "(eks.amazonaws.com/role-arn or iam.gke.io/gcp-service-account), never a key"
                )
        return v

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not v:
            return v
        _check_http_url(v)
        if "@" in urlsplit(v).netloc:
            raise ValueError(
                "endpoint_url carries credentials (user:pass@): give the bare URL; the sync "
                "signs with the pod's identity, never a key"
            )
        return v

    @field_validator("image")
    @classmethod
    def _pinned(cls, v: str) -> str:
        return _check_image_pinned(v)


class PvcSource(_Model):
    """`source: pvc`: an existing PersistentVolumeClaim holding the model, mounted read-only."""

    claim_name: K8sName = Field(description="Existing PVC in the model's namespace")
    path: str = Field(
        "", description="Directory of the model inside the claim; empty: the claim's root"
    )

    @field_validator("claim_name")
    @classmethod
    def _claim(cls, v: str) -> str:
        return _check_k8s_name(v)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"{v!r} must be relative to the claim's root, without '..'")
        return v.strip("/")


RUNTIMES = ("vllm", "rayservice", "aibrix", "tgi")
Runtime = Literal["vllm", "rayservice", "aibrix", "tgi"]


class ModelAutoscaling(_Model):
    """Replica bounds and the queue each replica should hold (KEDA ScaledObject, or Ray
    Serve's own autoscaler for a `rayservice` model)."""

    min_replicas: int = Field(1, ge=0, le=64)
    max_replicas: int = Field(4, ge=1, le=64)
    waiting_per_replica: float = Field(
        8, gt=0, description="Target of vllm:num_requests_waiting per replica"
    )

    @model_validator(mode="after")
    def _ordered(self) -> ModelAutoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


class ModelProfile(_Model):
    hf_id: str = Field(description="Hugging Face model id")
    hf_token_optional: bool = Field(
        False,
        description="A public model: the pod starts without the secrets.hf_token Secret "
        "(secretKeyRef optional); gated models need the token",
    )
    served_name: str = Field(description="--served-model-name; the `model_name` label")
    max_model_len: int = Field(8192, ge=128)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_num_seqs: int = Field(128, ge=1)
    gpus: int = Field(1, ge=1, le=16)
    cost: ModelCost
    namespace: str | None = Field(
        None, description="Namespace the model runs in; defaults to namespaces.vllm"
    )
    expected_load_time: Duration = Field(
        "10m",
        description="Download + load budget from container start to ready; past it "
        "VLLMPodStartupSlow fires (the startup probe allows 1.5x)",
    )
    source: Literal["huggingface", "s3", "pvc"] = Field(
        "huggingface", description="Where the weights come from: huggingface | s3 | pvc"
    )
    s3: S3Source | None = Field(None, description="Required with source: s3")
    pvc: PvcSource | None = Field(None, description="Required with source: pvc")
    runtime: Runtime = Field(
        "vllm",
        description="What serves it: vllm (Deployment), rayservice (KubeRay), aibrix, tgi",
    )
    autoscaling: ModelAutoscaling = ModelAutoscaling()

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str | None) -> str | None:
        return None if v is None else _check_k8s_name(v)

    @field_validator("expected_load_time")
    @classmethod
    def _load_time(cls, v: str) -> str:
        if duration_seconds(v) < 30:
            raise ValueError(f"{v!r} is shorter than any model load: use at least 30s")
        return v

    @model_validator(mode="after")
    def _aibrix_name(self) -> ModelProfile:
        if self.runtime == "aibrix" and (
            not _K8S_NAME_RE.match(self.served_name) or len(self.served_name) > 63
        ):
            raise ValueError(
                f"runtime aibrix routes on model.aibrix.ai/name, which must equal the served "
                f"name and a Service name: {self.served_name!r} is not one; set served_name "
                "to lower-case letters, digits and '-' (e.g. deepseek-r1-distill-llama-8b)"
            )
        return self

    @model_validator(mode="after")
    def _source_block(self) -> ModelProfile:
        for kind in ("s3", "pvc"):
            block = getattr(self, kind)
            if self.source == kind and block is None:
                raise ValueError(f"source is {kind}: add the `{kind}:` block (see docs/gitops.md)")
            if self.source != kind and block is not None:
                raise ValueError(
                    f"has an `{kind}:` block but source is {self.source}: "
                    f"set source: {kind} or remove the block"
                )
        return self


class Toleration(_Model):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class DcgmService(_Model):
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


class GpuConfig(_Model):
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
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    tolerations: list[Toleration] = Field(default_factory=list)
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


class SecretKeyRef(_Model):
    name: K8sName
    key: str


class BasicAuthSecret(_Model):
    """A Secret holding remote-write basic auth; only its name and keys live here."""

    name: K8sName
    username_key: str = "username"
    password_key: str = "password"


class QueueConfig(_Model):
    """Remote-write queue tuning (Prometheus `queue_config`); unset = Prometheus default."""

    capacity: int | None = Field(None, ge=1, description="Samples buffered per shard")
    min_shards: int | None = Field(None, ge=1)
    max_shards: int | None = Field(None, ge=1)
    max_samples_per_send: int | None = Field(None, ge=1)
    batch_send_deadline: Duration | None = None
    min_backoff: Duration | None = None
    max_backoff: Duration | None = None

    @model_validator(mode="after")
    def _shards(self) -> QueueConfig:
        if self.min_shards and self.max_shards and self.min_shards > self.max_shards:
            raise ValueError("min_shards must not exceed max_shards")
        return self


class RemoteWrite(_Model):
    """One remote-write endpoint (Thanos Receive, Mimir, Cortex, VictoriaMetrics...)."""

    name: K8sName = Field(description="Queue name (Prometheus `remote_name` label)")
    url: str = Field(description="Write endpoint, e.g. https://mimir.example/api/v1/push")
    basic_auth: BasicAuthSecret | None = None
    bearer_token: SecretKeyRef | None = Field(
        None, description="Secret key holding a bearer token (Authorization: Bearer)"
    )
    queue: QueueConfig = QueueConfig()
    only_bundle_series: bool = Field(
        False,
        description="Send only the series the bundle's rules and panels read (write relabelling)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_http_url(v)

    @model_validator(mode="after")
    def _one_auth(self) -> RemoteWrite:
        if self.basic_auth and self.bearer_token:
            raise ValueError("set basic_auth or bearer_token, not both")
        return self


class ThanosSidecar(_Model):
    """A Thanos sidecar beside each Prometheus, uploading blocks to object storage."""

    enabled: bool = False
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


class PrometheusConfig(_Model):
    scrape_interval: Duration = "15s"
    evaluation_interval: Duration = "15s"
    retention: Duration = "15d"
    storage_size: str = "50Gi"
    storage_class: str = ""
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
    remote_write: list[RemoteWrite] = Field(default_factory=list)
    thanos: ThanosSidecar = ThanosSidecar()

    @field_validator("storage_size")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if not _QUANTITY_RE.match(v):
            raise ValueError(f"{v!r} is not a Kubernetes quantity (e.g. 50Gi)")
        return v

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


class ResourceSpec(_Model):
    """Requests for one component; a memory limit equal to the request unless set."""

    cpu: str
    memory: str
    memory_limit: str = ""

    @field_validator("cpu", "memory", "memory_limit")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if v and not re.match(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$", v):
            raise ValueError(f"{v!r} is not a Kubernetes quantity (e.g. 500m, 512Mi)")
        return v


class ResourcesConfig(_Model):
    """Resource requests for every component the bundle deploys (GitOps issue)."""

    prometheus: ResourceSpec = ResourceSpec(cpu="500m", memory="2Gi", memory_limit="4Gi")
    alertmanager: ResourceSpec = ResourceSpec(cpu="50m", memory="128Mi", memory_limit="256Mi")
    grafana: ResourceSpec = ResourceSpec(cpu="100m", memory="256Mi", memory_limit="512Mi")
    grafana_sidecar: ResourceSpec = ResourceSpec(cpu="50m", memory="96Mi", memory_limit="192Mi")
    prometheus_operator: ResourceSpec = ResourceSpec(
        cpu="100m", memory="128Mi", memory_limit="256Mi"
    )
    config_reloader: ResourceSpec = ResourceSpec(cpu="10m", memory="32Mi", memory_limit="64Mi")
    kube_state_metrics: ResourceSpec = ResourceSpec(cpu="50m", memory="128Mi", memory_limit="256Mi")
    node_exporter: ResourceSpec = ResourceSpec(cpu="50m", memory="64Mi", memory_limit="128Mi")
    dcgm_exporter: ResourceSpec = ResourceSpec(cpu="100m", memory="256Mi", memory_limit="512Mi")
    vllm: ResourceSpec = ResourceSpec(cpu="4", memory="32Gi", memory_limit="48Gi")
    # Empty: pods get the cluster's default priority, which schedules everywhere. The
    # charts' own defaults (dcgm-exporter: system-node-critical) are refused outside
    # kube-system on GKE, so the bundle deletes them unless you name a class here that
    # exists in your cluster (create one first, e.g. a PriorityClass `monitoring-high`).
    # A name applies to dcgm-exporter and every kube-prometheus-stack pod (operator and
    # its webhook job, Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter).
    priority_class_name: str = Field(
        "", description="PriorityClass for the bundle's exporters and stack; empty: none"
    )


class GrafanaAdminSecret(_Model):
    name: K8sName = "grafana-admin"
    user_key: str = "admin-user"
    password_key: str = "admin-password"


class NamedSecret(_Model):
    name: K8sName


class SecretsConfig(_Model):
    hf_token: SecretKeyRef
    grafana_admin: GrafanaAdminSecret = GrafanaAdminSecret()
    alert_receivers: NamedSecret = NamedSecret(name="alertmanager-receivers")


class SloConfig(_Model):
    threshold_seconds: TtftEdge = 1.0
    objective: float = Field(0.99, gt=0, lt=1)
    window: Duration = "30d"
    min_requests: int = Field(
        10, ge=0, description="Low-traffic guard: requests needed in a burn-rate long window"
    )


class ReceiversConfig(_Model):
    """Alertmanager receivers. Pager/chat keys are read from the receivers Secret as files;
    only non-secret webhook URLs live here (empty = that receiver drops notifications)."""

    ticket_webhook_url: str = Field("", description="Webhook for info/ticket alerts")
    heartbeat_webhook_url: str = Field("", description="Dead man's switch URL for Watchdog")
    webhook_token_from_secret: bool = Field(
        False, description="Send the Secret's webhook-token as a bearer token to the webhooks"
    )


class AlertingConfig(_Model):
    """Alert thresholds. Defaults follow the production guide's table where it has one."""

    # Histogram thresholds: bucket edges present in every supported vLLM version.
    ttft_p99_warning_seconds: TtftEdge = 1.0
    ttft_p99_critical_seconds: TtftEdge = 2.5
    itl_p99_warning_seconds: ItlEdge = 0.2
    e2e_p99_warning_seconds: E2eEdge = 30.0
    queue_time_p99_warning_seconds: QueueTimeEdge = 5.0
    kv_cache_warning_ratio: float = Field(0.90, gt=0, le=1)
    kv_cache_critical_ratio: float = Field(0.98, gt=0, le=1)
    waiting_requests_warning: int = Field(500, ge=1)
    # VLLMRequestPreemptions: preemptions per finished request over 5m above the ratio,
    # counted only where the model preempts at least the floor per second (tiny traffic).
    preemption_ratio_warning: float = Field(0.05, gt=0)
    preemptions_per_second_floor: float = Field(0.1, ge=0)
    error_ratio_warning: float = Field(0.01, gt=0, lt=1)
    gpu_temperature_warning_celsius: float = Field(85, gt=0)
    gpu_temperature_critical_celsius: float = Field(92, gt=0)
    gpu_utilization_low_ratio: float = Field(0.5, gt=0, lt=1)
    ttft_slo: SloConfig = SloConfig()
    error_ratio_critical: float = Field(0.05, gt=0, lt=1)
    # NVIDIA's Xid catalog (docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html):
    # the codes whose immediate action is a GPU reset or node reboot, not an app restart:
    # 48 double-bit ECC, 64 row-remap/page-retirement failure, 74 NVLink, 79 fallen off the
    # bus, 92 high single-bit ECC rate, 94/95 contained/uncontained ECC, 119/120 GSP RPC
    # timeout/error, 154 GPU recovery action changed (reset or reboot required).
    gpu_xid_critical_codes: list[int] = Field(
        default_factory=lambda: [48, 64, 74, 79, 92, 94, 95, 119, 120, 154],
        description="XIDs that page while DCGM reports them (fatal class); others warn",
    )
    # Unset: the job the bundle's ServiceMonitors give their targets (kube.py
    # VLLM_JOB / DCGM_JOB). Set only when your own scrape config names the job otherwise.
    vllm_job_regex: str | None = Field(
        None, description="`job` of vLLM scrape targets (regex); unset: `vllm`, as rendered"
    )
    dcgm_job: str | None = Field(
        None, description="`job` of dcgm-exporter targets; unset: `dcgm-exporter`, as rendered"
    )
    grafana_url: str = Field(
        "http://localhost:3000", description="Grafana base URL used in dashboard_url links"
    )
    receivers: ReceiversConfig = ReceiversConfig()
    # Lifecycle (kube-state-metrics): how long a model pod may stay in each state before
    # it pages. Startup has a per-model budget: models.<key>.expected_load_time.
    pod_pending_for: Duration = Field(
        "10m", description="Unschedulable model pod (e.g. no free nvidia.com/gpu) before it alerts"
    )
    container_waiting_for: Duration = Field(
        "5m", description="CrashLoopBackOff / image pull failure before it alerts"
    )
    replicas_unavailable_for: Duration = Field(
        "15m", description="Fewer ready replicas than desired before it alerts"
    )
    oom_window: Duration = Field("15m", description="Window in which an OOMKilled restart alerts")

    @model_validator(mode="after")
    def _ordered(self) -> AlertingConfig:
        problems = [
            (critical, f"{critical} must be above {warning} ({getattr(self, warning):g})")
            for critical, warning in (
                ("ttft_p99_critical_seconds", "ttft_p99_warning_seconds"),
                ("error_ratio_critical", "error_ratio_warning"),
                ("kv_cache_critical_ratio", "kv_cache_warning_ratio"),
                ("gpu_temperature_critical_celsius", "gpu_temperature_warning_celsius"),
            )
            if getattr(self, critical) <= getattr(self, warning)
        ]
        if problems:
            raise KeyProblem(*problems)
        return self


class AlertmanagerConfig(_Model):
    replicas: int = Field(
        1, ge=1, le=5, description="Alertmanager pods; 2+ form a gossip mesh that deduplicates"
    )


class DashboardsConfig(_Model):
    folder: str = "vLLM"
    uid: str = Field("vllm-single-pane", max_length=40)
    title: str = "vLLM single pane"


class VerifyConfig(_Model):
    """`obsctl verify` in-cluster: the optional CronJob rendered into deploy/verify/."""

    cronjob: bool = Field(False, description="Add the CronJob component to deploy/verify/")
    schedule: str = Field("*/15 * * * *", description="Cron schedule of the verify CronJob")
    image: str = Field(
        "ghcr.io/example-org/obsctl-verify:0.1.0",
        description="The verify image built from the repository's Dockerfile, by tag or digest",
    )
    git_image: str = Field("alpine/git:v2.47.2", description="Pinned image that clones the repo")

    @field_validator("image", "git_image")
    @classmethod
    def _pinned_image(cls, v: str) -> str:
        name, _, digest = v.partition("@")
        tag = name.rpartition("/")[2].partition(":")[2]
        if digest:
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                raise ValueError(f"{v!r}: a digest is sha256: and 64 hex digits")
        elif not tag or tag == "latest":
            raise ValueError(
                f"{v!r} is not pinned: use a version tag (name:1.2.3) or a digest (name@sha256:...)"
            )
        return v


class KedaConfig(_Model):
    enabled: bool = Field(False, description="One ScaledObject per deployed model")
    install: bool = Field(True, description="Install KEDA itself (Argo CD Application)")
    namespace: K8sName = "keda"
    cooldown_seconds: int = Field(300, ge=0, description="Wait before scaling back down")
    polling_interval_seconds: int = Field(15, ge=1, description="How often KEDA queries")
    chart: HelmChart = HelmChart(
        repo_url="https://kedacore.github.io/charts", chart="keda", version="2.17.2"
    )


class AutoscalingConfig(_Model):
    keda: KedaConfig = KedaConfig()


class RayServiceRuntime(_Model):
    """KubeRay RayService settings shared by every `rayservice` model."""

    install_operator: bool = Field(True, description="Install the KubeRay operator app")
    operator_namespace: K8sName = "kuberay-operator"
    chart: HelmChart = HelmChart(
        repo_url="https://ray-project.github.io/kuberay-helm/",
        chart="kuberay-operator",
        version="1.4.2",
    )
    image: str = "rayproject/ray-llm"
    image_tag: str = Field(
        "2.58.0-py312-cu130",
        description="Pinned ray-llm image tag (2.58.0 ships vLLM 0.26.0 and exports "
        "ray_vllm_<name>; 2.49.x and older ship vLLM 0.10 and export ray_vllm:<name>)",
    )
    head_node_selector: dict[str, str] = Field(
        default_factory=dict, description="Where the CPU-only head pod runs"
    )
    head: ResourceSpec = ResourceSpec(cpu="2", memory="12Gi", memory_limit="12Gi")
    worker: ResourceSpec = ResourceSpec(cpu="12", memory="60Gi", memory_limit="60Gi")

    @field_validator("image_tag")
    @classmethod
    def _pinned(cls, v: str) -> str:
        if v in ("", "latest") or v.endswith(":latest"):
            raise ValueError("pin an exact image tag such as 2.49.2-py311-cu128, not 'latest'")
        return v


class AibrixRuntime(_Model):
    """Where the AIBrix control plane and gateway run (installed by AIBrix's own manifests)."""

    system_namespace: K8sName = "aibrix-system"
    routing_strategy: str = Field(
        "least-request", description="Default routing-strategy header the gateway applies"
    )


class RuntimesConfig(_Model):
    rayservice: RayServiceRuntime = RayServiceRuntime()
    aibrix: AibrixRuntime = AibrixRuntime()


class BundleConfig(_Model):
    git: GitConfig
    namespaces: Namespaces = Namespaces()
    charts: Charts
    vllm: VllmConfig
    models: dict[str, ModelProfile]
    gpu: GpuConfig = GpuConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    secrets: SecretsConfig
    alerting: AlertingConfig = AlertingConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    dashboards: DashboardsConfig = DashboardsConfig()
    verify: VerifyConfig = VerifyConfig()
    resources: ResourcesConfig = ResourcesConfig()
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    runtimes: RuntimesConfig = RuntimesConfig()

    @field_validator("models")
    @classmethod
    def _model_keys(cls, v: dict[str, ModelProfile]) -> dict[str, ModelProfile]:
        if not v:
            raise ValueError("define at least one model")
        for key in v:
            _check_k8s_name(key)
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


def parse_config(
    data: Any, source: str = "bundle.yaml", marks: dict[tuple[str, ...], Any] | None = None
) -> BundleConfig:
    """Validate `data`; raise ConfigError listing every problem (with line:column when
    `marks` from the YAML are given)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: top level must be a mapping of keys, not {type(data).__name__}"
        )
    try:
        return BundleConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err, BundleConfig, marks or {}, source)) from None


def load_config(path: Path | str = DEFAULT_BUNDLE_PATH) -> BundleConfig:
    """Load and validate bundle.yaml; raise ConfigError with one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: file not found: run obsctl from the repository root or pass --config PATH"
        )
    try:
        data, marks, duplicates = load_yaml_with_marks(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}: fix the syntax") from None
    dup_lines = [f"{path}:{d}" for d in duplicates]
    try:
        cfg = parse_config(data, source=str(path), marks=marks)
    except ConfigError as err:
        raise ConfigError(dup_lines + err.lines) from None
    if dup_lines:
        raise ConfigError(dup_lines)
    return cfg
