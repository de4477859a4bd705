"""`models:` the model registry: what each model is, where its weights come from, what
serves it and how far it scales."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from observability.config.runtime_names import RUNTIME_TRAITS, RuntimeName
from observability.config.types import (
    ConfigModel,
    K8sName,
    PinnedImage,
    check_http_url,
    is_k8s_name,
)
from observability.duration import Duration, duration_seconds

__all__ = [
    "ModelAutoscaling",
    "ModelCost",
    "ModelProfile",
    "PvcSource",
    "S3Source",
]


class ModelCost(ConfigModel):
    input_per_1k: float = Field(ge=0, description="USD per 1K prompt tokens")
    output_per_1k: float = Field(ge=0, description="USD per 1K generated tokens")


_S3_URI_RE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
# Annotation keys that would carry a credential instead of naming an identity.
_SECRET_HINT_RE = re.compile(r"(secret|password|token|access[_-]?key|credential)", re.I)


class S3Source(ConfigModel):
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
    image: PinnedImage = Field(
        "amazon/aws-cli:2.17.0", description="Pinned image with `aws s3 sync`"
    )

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
        check_http_url(v)
        if "@" in urlsplit(v).netloc:
            raise ValueError(
                "endpoint_url carries credentials (user:pass@): give the bare URL; the sync "
                "signs with the pod's identity, never a key"
            )
        return v


class PvcSource(ConfigModel):
    """`source: pvc`: an existing PersistentVolumeClaim holding the model, mounted read-only."""

    claim_name: K8sName = Field(description="Existing PVC in the model's namespace")
    path: str = Field(
        "", description="Directory of the model inside the claim; empty: the claim's root"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError(f"{v!r} must be relative to the claim's root, without '..'")
        return v.strip("/")


class ModelAutoscaling(ConfigModel):
    """Replica bounds and the queue each replica should hold (KEDA ScaledObject, or Ray
    Serve's own autoscaler for a `rayservice` model)."""

    min_replicas: int = Field(1, ge=0, le=64, description="Fewest replicas (0: scale to zero)")
    max_replicas: int = Field(4, ge=1, le=64, description="Most replicas")
    waiting_per_replica: float = Field(
        8, gt=0, description="Target of vllm:num_requests_waiting per replica"
    )

    @model_validator(mode="after")
    def _ordered(self) -> ModelAutoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError("max_replicas must be at least min_replicas")
        return self


class ModelProfile(ConfigModel):
    """One model the bundle knows: `models.<key>`, the key a Kubernetes name."""

    hf_id: str = Field(description="Hugging Face model id")
    hf_token_optional: bool = Field(
        False,
        description="A public model: the pod starts without the secrets.hf_token Secret "
        "(secretKeyRef optional); gated models need the token",
    )
    served_name: str = Field(description="--served-model-name; the `model_name` label")
    max_model_len: int = Field(8192, ge=128, description="--max-model-len (context, tokens)")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="--gpu-memory-utilization (share of each GPU's memory)"
    )
    max_num_seqs: int = Field(128, ge=1, description="--max-num-seqs (sequences per step)")
    gpus: int = Field(1, ge=1, le=16, description="GPUs per replica (--tensor-parallel-size)")
    nodes: int = Field(
        1,
        ge=1,
        le=64,
        description="Pods per serving group (runtime lws: one leader and nodes-1 workers, "
        "each with `gpus` GPUs; vLLM runs tensor parallel over a pod's GPUs and pipeline "
        "parallel over the nodes); other runtimes serve on one pod and need 1",
    )
    cost: ModelCost = Field(description="Token prices for the cost panels")
    namespace: K8sName | None = Field(
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
    runtime: RuntimeName = Field(
        "vllm",
        description="What serves it: vllm (Deployment), rayservice (KubeRay), aibrix, tgi, "
        "kserve (LLMInferenceService or InferenceService, runtimes.kserve)",
    )
    autoscaling: ModelAutoscaling = Field(
        ModelAutoscaling(), description="Replica bounds and scaling target"
    )
    inference_pool: K8sName | None = Field(
        None,
        description="The InferencePool whose endpoint picker routes to this model "
        "(gateway.inference_pool.name); the model then runs in the pool's namespace",
    )

    @field_validator("expected_load_time")
    @classmethod
    def _load_time(cls, v: str) -> str:
        if duration_seconds(v) < 30:
            raise ValueError(f"{v!r} is shorter than any model load: use at least 30s")
        return v

    @model_validator(mode="after")
    def _routed_name(self) -> ModelProfile:
        label = RUNTIME_TRAITS[self.runtime].routing_label
        if label and not is_k8s_name(self.served_name):
            raise ValueError(
                f"runtime {self.runtime} routes on {label}, which must equal the served "
                f"name and a Service name: {self.served_name!r} is not one; set served_name "
                "to lower-case letters, digits and '-' (e.g. deepseek-r1-distill-llama-8b)"
            )
        return self

    @model_validator(mode="after")
    def _multi_node(self) -> ModelProfile:
        if self.nodes > 1 and not RUNTIME_TRAITS[self.runtime].spans_pods:
            spanning = " or ".join(n for n, t in RUNTIME_TRAITS.items() if t.spans_pods)
            raise ValueError(
                f"nodes: {self.nodes} needs runtime {spanning} (one leader and nodes-1 worker "
                f"pods per replica); runtime {self.runtime} serves a replica on one "
                f"pod: set nodes: 1 or runtime: {spanning}"
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
