"""`tgi`: Hugging Face text-generation-inference serving a model beside vLLM.

TGI's router exposes `tgi_*` families on its HTTP port at `/metrics` (metrics-exporter-
prometheus 0.15.1: counters keep their names without `_total`, no model label; every
`*duration` histogram has the buckets 0.0001 * 1.5^k, k = 1..35). Names, types and
buckets come from huggingface/text-generation-inference v3.3.7 (metrics/data/
tgi-3.3.7.json, router/src/server.rs).

The mapping records the normalised vLLM names from TGI's, per TGI model (the Service
`tgi-<key>` and namespace say which model a target serves, since TGI has no model label;
`model_name` becomes the model's served_name):

| normalised (vLLM) | from TGI |
|---|---|
| vllm:num_requests_running | tgi_batch_current_size |
| vllm:num_requests_waiting | tgi_queue_size |
| vllm:request_success_total{finished_reason="stop"} | tgi_request_success |
| vllm:request_success_total{finished_reason="error"} | tgi_request_failure (keeps `err`) |
| vllm:generation_tokens_total | tgi_request_generated_tokens_sum |
| vllm:prompt_tokens_total | tgi_request_input_length_sum |
| vllm:e2e_request_latency_seconds_* | tgi_request_duration_* |
| vllm:request_queue_time_seconds_* | tgi_request_queue_duration_* |
| vllm:request_inference_time_seconds_* | tgi_request_inference_duration_* |
| vllm:request_time_per_output_token_seconds_*, vllm:inter_token_latency_seconds_* | tgi_request_mean_time_per_token_duration_* |

Not mapped, so silent for a TGI model: time to first token (TGI records none), KV-cache
usage and preemptions (not exported). TGI's latency buckets are not vLLM's: quantiles
interpolate between TGI's edges (a p99 threshold of 1 s falls between 0.87 s and 1.31 s),
and the TTFT SLO does not apply. Token counters come from per-request histograms, so they
advance when a request finishes, not per step.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from observability.duration import duration_seconds
from observability.kube import (
    JOB_LABEL,
    PART_OF,
    gpu_pod_spec,
    http_probe,
    monitor_metadata,
    node_relabeling,
    resources,
    restricted_container_security,
    startup_failures,
)
from observability.metrics.catalog import Catalog, runtime_catalog
from observability.runtimes.base import SIM_TGI, Runtime

if TYPE_CHECKING:
    from observability.config import BundleConfig
    from observability.rulebase import Scope

__all__ = [
    "CATALOG_FILE",
    "IMAGE",
    "MAPPING",
    "TGI_CONTAINER",
    "TGI_JOB",
    "TGI_NAME",
    "TgiRuntime",
    "tgi_args",
    "tgi_labels",
]

CATALOG_FILE = "tgi-3.3.7.json"
IMAGE = "ghcr.io/huggingface/text-generation-inference:3.3.7"
TGI_NAME = "tgi"
TGI_CONTAINER = "tgi"
TGI_JOB = TGI_NAME  # the Services' app.kubernetes.io/name, the monitor's jobLabel
PORT = 8080
PORT_NAME = "http"

_HIST = ("_bucket", "_sum", "_count")
# normalised name -> (TGI name, extra label set on the recorded series or None)
MAPPING: tuple[tuple[str, str, tuple[str, str] | None], ...] = (
    ("vllm:num_requests_running", "tgi_batch_current_size", None),
    ("vllm:num_requests_waiting", "tgi_queue_size", None),
    ("vllm:request_success_total", "tgi_request_success", ("finished_reason", "stop")),
    ("vllm:request_success_total", "tgi_request_failure", ("finished_reason", "error")),
    ("vllm:generation_tokens_total", "tgi_request_generated_tokens_sum", None),
    ("vllm:prompt_tokens_total", "tgi_request_input_length_sum", None),
    *(
        (f"{vllm}{s}", f"{tgi}{s}", None)
        for vllm, tgi in (
            ("vllm:e2e_request_latency_seconds", "tgi_request_duration"),
            ("vllm:request_queue_time_seconds", "tgi_request_queue_duration"),
            ("vllm:request_inference_time_seconds", "tgi_request_inference_duration"),
            (
                "vllm:request_time_per_output_token_seconds",
                "tgi_request_mean_time_per_token_duration",
            ),
            ("vllm:inter_token_latency_seconds", "tgi_request_mean_time_per_token_duration"),
        )
        for s in _HIST
    ),
)


def tgi_name(key: str) -> str:
    return f"{TGI_NAME}-{key}"


def tgi_labels(key: str) -> dict[str, str]:
    """Service and pod labels: the lifecycle rules find the pod by the instance label."""
    return {
        JOB_LABEL: TGI_NAME,
        "app.kubernetes.io/instance": key,
        "app.kubernetes.io/part-of": PART_OF,
    }


def tgi_args(cfg: BundleConfig, key: str) -> list[str]:
    m = cfg.models[key]
    args = [
        "--model-id",
        m.hf_id,
        "--port",
        str(PORT),
        "--max-total-tokens",
        str(m.max_model_len),
        "--max-input-tokens",
        str(m.max_model_len - 1),
        "--max-concurrent-requests",
        str(m.max_num_seqs),
        "--cuda-memory-fraction",
        str(m.gpu_memory_utilization),
    ]
    if m.gpus > 1:
        args += ["--num-shard", str(m.gpus)]
    return args


def deployment(cfg: BundleConfig, key: str) -> dict[str, Any]:
    m = cfg.models[key]
    hf = cfg.secrets.hf_token
    labels = tgi_labels(key)
    res = resources(cfg.resources.vllm)
    res["requests"]["nvidia.com/gpu"] = m.gpus
    res["limits"]["nvidia.com/gpu"] = m.gpus
    startup = startup_failures(duration_seconds(m.expected_load_time))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": tgi_name(key), "labels": labels},
        "spec": {
            "replicas": cfg.vllm.replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
            },
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": gpu_pod_spec(
                    cfg,
                    [
                        {
                            "name": TGI_CONTAINER,
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "args": tgi_args(cfg, key),
                            "ports": [
                                {"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}
                            ],
                            "env": [
                                {
                                    "name": "HF_TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": hf.name, "key": hf.key}},
                                },
                                {"name": "HUGGINGFACE_HUB_CACHE", "value": "/data"},
                                {"name": "HOME", "value": "/tmp"},
                            ],
                            "securityContext": restricted_container_security(),
                            "startupProbe": http_probe(PORT_NAME, 10, startup),
                            "readinessProbe": http_probe(PORT_NAME, 5, 3),
                            "livenessProbe": http_probe(PORT_NAME, 10, 6),
                            "resources": res,
                            "volumeMounts": [
                                {"name": "shm", "mountPath": "/dev/shm"},
                                {"name": "data", "mountPath": "/data"},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    [
                        {
                            "name": "shm",
                            "emptyDir": {"medium": "Memory", "sizeLimit": cfg.vllm.shm_size},
                        },
                        {"name": "data", "emptyDir": {"sizeLimit": cfg.vllm.model_cache_size}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                    ],
                ),
            },
        },
    }


def network_policy(cfg: BundleConfig, key: str) -> dict[str, Any]:
    """Like vLLM's: only the gateway (traffic) and monitoring (scrapes) reach the pods."""

    def ns(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": tgi_name(key), "labels": tgi_labels(key)},
        "spec": {
            "podSelector": {"matchLabels": tgi_labels(key)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [ns(cfg.namespaces.gateway), ns(cfg.namespaces.monitoring)],
                    "ports": [{"port": PORT_NAME, "protocol": "TCP"}],
                }
            ],
        },
    }


def service(key: str) -> dict[str, Any]:
    labels = tgi_labels(key)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": tgi_name(key), "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [
                {"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP"}
            ],
        },
    }


def service_monitor(cfg: BundleConfig) -> dict[str, Any]:
    namespaces = sorted(
        {cfg.model_namespace(k) for k, m in cfg.models.items() if m.runtime == TGI_NAME}
    )
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": monitor_metadata(cfg, TGI_NAME),
        "spec": {
            "jobLabel": JOB_LABEL,  # job="tgi" (TGI_JOB)
            "namespaceSelector": {"matchNames": namespaces},
            "selector": {
                "matchLabels": {JOB_LABEL: TGI_NAME, "app.kubernetes.io/part-of": PART_OF}
            },
            "endpoints": [
                {
                    "port": PORT_NAME,
                    "path": "/metrics",
                    "interval": cfg.prometheus.scrape_interval,
                    "relabelings": [node_relabeling()],
                }
            ],
        },
    }


class TgiRuntime(Runtime):
    name = TGI_NAME

    def metrics_service(self, cfg: BundleConfig, key: str) -> tuple[str, str, str] | None:
        return cfg.model_namespace(key), tgi_name(key), PORT_NAME

    sim_mode = SIM_TGI
    pod_stem = "tgi"  # tgi-<key>: Deployment, Service and container
    uses_vllm_deployment = False

    def catalogs(self) -> list[Catalog]:
        return [runtime_catalog(CATALOG_FILE)]

    def engine_jobs(self, cfg: BundleConfig) -> tuple[str, ...]:
        return (TGI_JOB,)

    def monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        # Rendered once a deployed model runs on TGI: a monitor selecting no deployed
        # Service is a lint error (and scrapes nothing).
        if not any(cfg.models[k].runtime == TGI_NAME for k in cfg.vllm.deploy):
            return {}
        return self.demo_monitors(cfg)

    def demo_monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        return {f"{TGI_NAME}.yaml": service_monitor(cfg)}

    def workload_path(self, key: str) -> str:
        return f"deploy/{TGI_NAME}/{key}"

    def workload(self, cfg: BundleConfig, key: str) -> dict[str, Any]:
        files = {
            "deployment.yaml": deployment(cfg, key),
            "service.yaml": service(key),
            "networkpolicy.yaml": network_policy(cfg, key),
        }
        return self.kustomized(cfg, key, files)

    def mapping_rules(self, cfg: BundleConfig, sc: Scope) -> list[dict[str, Any]]:
        models = [(k, m) for k, m in cfg.models.items() if m.runtime == TGI_NAME]
        parts_of: dict[str, list[str]] = {}
        for record, source, extra in MAPPING:
            parts = parts_of.setdefault(record, [])
            for key, m in models:
                sel = (
                    f'{source}{{job="{TGI_JOB}", namespace="{cfg.model_namespace(key)}", '
                    f'service="{tgi_name(key)}"}}'
                )
                expr = f'label_replace({sel}, "model_name", {json.dumps(m.served_name)}, "", "")'
                if extra:
                    expr = f'label_replace({expr}, "{extra[0]}", "{extra[1]}", "", "")'
                parts.append(expr)
        # one rule per recorded name (two sources of request_success_total share it)
        return [{"record": r, "expr": "\nor\n".join(p)} for r, p in parts_of.items() if p]
