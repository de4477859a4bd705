"""Every validator in observability/config/ rejects an invalid bundle with its own message.

One case per validator: a mutation of the committed bundle.yaml (as a dict) and a
substring of the ConfigError it must raise, the key and the validator's own words. The
validators are counted by introspecting the pydantic models reachable from BundleConfig:
each `field_validator` and `model_validator`, each numeric or length bound of a Field
(`ge`, `le`, `gt`, `lt`, `max_length`, `min_length`) and each validator a field's type
carries (K8sName, Quantity, PinnedImage, Duration, the histogram bucket edges). A new validator without a case
fails `test_every_validator_has_a_case`, naming it. No rendering: parse_config only.
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
import yaml
from pydantic import AfterValidator, BaseModel

from observability.config import BundleConfig, ConfigError, parse_config

RAW = yaml.safe_load((Path(__file__).resolve().parent.parent / "bundle.yaml").read_text())
D = "models.deepseek-r1-distill-llama-8b"  # a huggingface vllm model, deployed
S3 = "models.mistral-7b-instruct-s3"
PVC = "models.qwen2-5-7b-instruct-pvc"
_BOUNDS = {at.Ge: "ge", at.Le: "le", at.Gt: "gt", at.Lt: "lt", at.MaxLen: "max_length"}
_BOUNDS[at.MinLen] = "min_length"
_BOUND_WORDS = {
    "ge": r"should be greater than or equal to \d",
    "le": r"should be less than or equal to \d",
    "gt": r"should be greater than \d",
    "lt": r"should be less than \d",
    "max_length": r"should have at most \d+ characters",
    "min_length": r"should have at least \d+ (characters?|items?)",
}


# -- the validators, by introspection -----------------------------------------------------
def _models_in(tp: Any) -> Iterator[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        return
    for arg in typing.get_args(tp):
        yield from _models_in(arg)


def _annotated_metadata(tp: Any) -> Iterator[Any]:
    """Metadata of Annotated types nested in a field's annotation (`K8sName | None`)."""
    if typing.get_origin(tp) is typing.Annotated:
        yield from tp.__metadata__
    for arg in typing.get_args(tp):
        yield from _annotated_metadata(arg)


def validators() -> set[str]:
    """`Model.validator` for decorated validators, `Model.field:bound` for Field bounds and
    `Model.field:function` for a validator the field's type carries."""
    found: set[str] = set()
    seen: set[type[BaseModel]] = set()

    def walk(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen.add(cls)
        decorators = cls.__pydantic_decorators__
        found.update(f"{cls.__name__}.{name}" for name in decorators.field_validators)
        found.update(f"{cls.__name__}.{name}" for name in decorators.model_validators)
        for name, info in cls.model_fields.items():
            for meta in [*info.metadata, *_annotated_metadata(info.annotation)]:
                if type(meta) in _BOUNDS:
                    found.add(f"{cls.__name__}.{name}:{_BOUNDS[type(meta)]}")
                elif isinstance(meta, AfterValidator):
                    func = meta.func.__qualname__.split(".<locals>")[0]
                    found.add(f"{cls.__name__}.{name}:{func}")
            for sub in _models_in(info.annotation):
                walk(sub)

    walk(BundleConfig)
    return found


# -- mutations ----------------------------------------------------------------------------
def _key(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path (model keys contain no dots), creating mappings on the way."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        key = _key(part)
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    node[_key(last)] = value


def mutated(changes: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    for path, value in changes.items():
        _set(data, path, value)
    return data


RW = {"name": "mimir", "url": "https://mimir.example/api/v1/push"}
SECRET = {"name": "rw-auth", "key": "token"}

# validator -> (changes to bundle.yaml, a substring of the error)
CASES: dict[str, tuple[dict[str, Any], str]] = {
    # BundleConfig
    "BundleConfig._model_keys": ({"models": {}}, "define at least one model"),
    "BundleConfig._deployed_models_exist": (
        {"vllm.deploy": ["deepseek-r1-distill-llama-8b", "nope"]},
        "'vllm.deploy.1': 'nope' is not a key of models",
    ),
    # git, charts, namespaces
    "GitConfig._url": ({"git.repo_url": "github.com/x/y"}, "is not a git URL"),
    "HelmChart.version:check_chart_version": (
        {"charts.kube_prometheus_stack.version": "~88.5"},
        "'~88.5' is not an exact chart version",
    ),
    "Namespaces.argocd:check_k8s_name": (
        {"namespaces.argocd": "Argo_CD"},
        "'Argo_CD' is not a valid Kubernetes name",
    ),
    "Namespaces.monitoring:check_k8s_name": (
        {"namespaces.monitoring": "-monitoring"},
        "'-monitoring' is not a valid Kubernetes name",
    ),
    "Namespaces.vllm:check_k8s_name": (
        {"namespaces.vllm": "vllm.prod"},
        "'vllm.prod' is not a valid Kubernetes name",
    ),
    "Namespaces.gateway:check_k8s_name": (
        {"namespaces.gateway": "g" * 64},
        "is not a valid Kubernetes name",
    ),
    # vllm
    "VllmConfig._unique": (
        {"vllm.deploy": ["deepseek-r1-distill-llama-8b"] * 2},
        "lists deepseek-r1-distill-llama-8b more than once",
    ),
    "VllmConfig.shm_size:check_quantity": (
        {"vllm.shm_size": "8 GB"},
        "'8 GB' is not a Kubernetes quantity",
    ),
    "VllmConfig.model_cache_size:check_quantity": (
        {"vllm.model_cache_size": "100G b"},
        "'100G b' is not a Kubernetes quantity",
    ),
    "VllmConfig.image_tag:check_pinned_tag": (
        {"vllm.image_tag": "latest"},
        "pin an exact image tag",
    ),
    "VllmConfig.replicas:ge": ({"vllm.replicas": -1}, "'vllm.replicas'"),
    "VllmConfig.replicas:le": ({"vllm.replicas": 65}, "'vllm.replicas'"),
    "VllmConfig.port:ge": ({"vllm.port": 0}, "'vllm.port'"),
    "VllmConfig.port:le": ({"vllm.port": 65536}, "'vllm.port'"),
    # models
    "ModelProfile.namespace:check_k8s_name": (
        {f"{D}.namespace": "Team_A"},
        "'Team_A' is not a valid Kubernetes",
    ),
    "ModelProfile._load_time": (
        {f"{D}.expected_load_time": "20s"},
        "'20s' is shorter than any model load: use at least 30s",
    ),
    "ModelProfile.expected_load_time:check_duration": (
        {f"{D}.expected_load_time": "10 minutes"},
        "'10 minutes' is not a Prometheus duration",
    ),
    "ModelProfile._routed_name": (
        {f"{D}.runtime": "aibrix"},
        "runtime aibrix routes on model.aibrix.ai/name",
    ),
    "ModelProfile._source_block": ({f"{D}.source": "s3"}, "source is s3: add the `s3:` block"),
    "ModelProfile.max_model_len:ge": ({f"{D}.max_model_len": 64}, "max_model_len'"),
    "ModelProfile.gpu_memory_utilization:gt": (
        {f"{D}.gpu_memory_utilization": 0},
        "gpu_memory_utilization'",
    ),
    "ModelProfile.gpu_memory_utilization:le": (
        {f"{D}.gpu_memory_utilization": 90},
        "gpu_memory_utilization'",
    ),
    "ModelProfile.max_num_seqs:ge": ({f"{D}.max_num_seqs": 0}, "max_num_seqs'"),
    "ModelProfile.gpus:ge": ({f"{D}.gpus": 0}, "gpus'"),
    "ModelProfile.gpus:le": ({f"{D}.gpus": 17}, "gpus'"),
    "ModelProfile.nodes:ge": ({f"{D}.nodes": 0}, "nodes'"),
    "ModelProfile.nodes:le": ({f"{D}.nodes": 65, f"{D}.runtime": "lws"}, "nodes'"),
    "ModelProfile._multi_node": ({f"{D}.nodes": 2}, "nodes: 2 needs runtime lws"),
    "ModelCost.input_per_1k:ge": ({f"{D}.cost.input_per_1k": -0.1}, "cost.input_per_1k'"),
    "ModelCost.output_per_1k:ge": ({f"{D}.cost.output_per_1k": -0.1}, "cost.output_per_1k'"),
    "ModelAutoscaling._ordered": (
        {f"{D}.autoscaling": {"min_replicas": 3, "max_replicas": 2}},
        "max_replicas must be at least min_replicas",
    ),
    "ModelAutoscaling.min_replicas:ge": (
        {f"{D}.autoscaling": {"min_replicas": -1}},
        "autoscaling.min_replicas'",
    ),
    "ModelAutoscaling.min_replicas:le": (
        {f"{D}.autoscaling": {"min_replicas": 65, "max_replicas": 64}},
        "autoscaling.min_replicas'",
    ),
    "ModelAutoscaling.max_replicas:ge": (
        {f"{D}.autoscaling": {"min_replicas": 0, "max_replicas": 0}},
        "autoscaling.max_replicas'",
    ),
    "ModelAutoscaling.max_replicas:le": (
        {f"{D}.autoscaling": {"max_replicas": 65}},
        "autoscaling.max_replicas'",
    ),
    "ModelAutoscaling.waiting_per_replica:gt": (
        {f"{D}.autoscaling": {"waiting_per_replica": 0}},
        "autoscaling.waiting_per_replica'",
    ),
    "S3Source._uri": ({f"{S3}.s3.uri": "https://bucket/x"}, "is not an s3://bucket/prefix URI"),
    "S3Source._no_secrets": (
        {f"{S3}.s3.annotations": {"aws-secret-access-key": "x"}},
        "looks like a credential",
    ),
    "S3Source._endpoint": (
        {f"{S3}.s3.endpoint_url": "http://minio:s3cr3t@minio.minio.svc:9000"},
        "endpoint_url carries credentials (user:pass@)",
    ),
    "S3Source.image:check_pinned_image": (
        {f"{S3}.s3.image": "amazon/aws-cli"},
        "is not a pinned image",
    ),
    "PvcSource.claim_name:check_k8s_name": (
        {f"{PVC}.pvc.claim_name": "model-store-"},
        "'model-store-' is not a valid Kubernetes name",
    ),
    "PvcSource._path": ({f"{PVC}.pvc.path": "../other"}, "must be relative to the claim's root"),
    # gpu
    "GpuConfig._has_default": ({"gpu.hourly_cost": {"NVIDIA L4": 0.8}}, "needs a `default`"),
    "GpuConfig._external_service": (
        {"gpu.dcgm_exporter": "external"},
        "dcgm_service.namespace': required with dcgm_exporter: external",
    ),
    "DcgmService.namespace:check_k8s_name": (
        {"gpu.dcgm_service": {"namespace": "GPU"}},
        "'GPU' is not a valid Kubernetes name",
    ),
    # prometheus
    "PrometheusConfig.storage_size:check_quantity": (
        {"prometheus.storage_size": "50GB"},
        "'50GB' is not a",
    ),
    "PrometheusConfig._label_name": (
        {"prometheus.replica_label": "replica-id"},
        "'replica-id' is not a Prometheus label name",
    ),
    "PrometheusConfig._samples_per_window": (
        {"prometheus.scrape_interval": "1m"},
        "leaves fewer than 2 samples in the dashboard recordings' 1m rate window, so they "
        "would record nothing: scrape every 30s or faster",
    ),
    "PrometheusConfig._cluster_name_with_label": (
        {"prometheus.cluster_label": "cluster"},
        "cluster_label is set: also set cluster_name",
    ),
    "PrometheusConfig.scrape_interval:check_duration": (
        {"prometheus.scrape_interval": "15"},
        "'15' is not a Prometheus duration",
    ),
    "PrometheusConfig.evaluation_interval:check_duration": (
        {"prometheus.evaluation_interval": "15 s"},
        "'15 s' is not a Prometheus duration",
    ),
    "PrometheusConfig.retention:check_duration": (
        {"prometheus.retention": "2 weeks"},
        "'2 weeks' is not a Prometheus duration",
    ),
    "PrometheusConfig.replicas:ge": ({"prometheus.replicas": 0}, "'prometheus.replicas'"),
    "PrometheusConfig.replicas:le": ({"prometheus.replicas": 11}, "'prometheus.replicas'"),
    "RemoteWrite.url:check_http_url": (
        {"prometheus.remote_write": [{**RW, "url": "mimir:9009/push"}]},
        "'mimir:9009/push' is not an http(s) URL",
    ),
    "RemoteWrite._one_auth": (
        {"prometheus.remote_write": [{**RW, "basic_auth": {"name": "a"}, "bearer_token": SECRET}]},
        "set basic_auth or bearer_token, not both",
    ),
    "RemoteWrite.name:check_k8s_name": (
        {"prometheus.remote_write": [{**RW, "name": "Mimir"}]},
        "'Mimir' is not a valid Kubernetes name",
    ),
    "BasicAuthSecret.name:check_k8s_name": (
        {"prometheus.remote_write": [{**RW, "basic_auth": {"name": "rw_auth"}}]},
        "'rw_auth' is not a valid Kubernetes name",
    ),
    "SecretKeyRef.name:check_k8s_name": (
        {"secrets.hf_token.name": "HF-Token"},
        "'HF-Token' is not a valid Kubernetes name",
    ),
    "QueueConfig._shards": (
        {"prometheus.remote_write": [{**RW, "queue": {"min_shards": 10, "max_shards": 2}}]},
        "min_shards must not exceed max_shards",
    ),
    **{
        f"QueueConfig.{k}:ge": (
            {"prometheus.remote_write": [{**RW, "queue": {k: 0}}]},
            f"queue.{k}'",
        )
        for k in ("capacity", "min_shards", "max_shards", "max_samples_per_send")
    },
    **{
        f"QueueConfig.{k}:check_duration": (
            {"prometheus.remote_write": [{**RW, "queue": {k: "5 s"}}]},
            "'5 s' is not a Prometheus duration",
        )
        for k in ("batch_send_deadline", "min_backoff", "max_backoff")
    },
    "ThanosSidecar._store": (
        {"prometheus.thanos": {"enabled": True}},
        "enabled needs object_store",
    ),
    # secrets
    "GrafanaAdminSecret.name:check_k8s_name": (
        {"secrets.grafana_admin.name": "grafana admin"},
        "'grafana admin' is not a valid Kubernetes name",
    ),
    "NamedSecret.name:check_k8s_name": (
        {"secrets.alert_receivers.name": "Receivers"},
        "'Receivers' is not a valid Kubernetes name",
    ),
    # alerting
    "AlertingConfig._ordered": (
        {"alerting.gpu_temperature_critical_celsius": 80},
        "gpu_temperature_critical_celsius must be above gpu_temperature_warning_celsius (85)",
    ),
    **{
        f"AlertingConfig.{k}:gt": ({f"alerting.{k}": 0}, f"alerting.{k}'")
        for k in (
            "ttft_p99_warning_seconds",
            "ttft_p99_critical_seconds",
            "itl_p99_warning_seconds",
            "e2e_p99_warning_seconds",
            "queue_time_p99_warning_seconds",
            "kv_cache_warning_ratio",
            "kv_cache_critical_ratio",
            "preemption_ratio_warning",
            "error_ratio_warning",
            "error_ratio_critical",
            "gpu_temperature_warning_celsius",
            "gpu_temperature_critical_celsius",
            "gpu_utilization_low_ratio",
        )
    },
    **{
        f"AlertingConfig.{k}:_on_bucket_edge": ({f"alerting.{k}": v}, f"alerting.{k}'")
        for k, v in (
            ("ttft_p99_warning_seconds", 1.7),
            ("ttft_p99_critical_seconds", 2.7),
            ("itl_p99_warning_seconds", 0.21),
            ("e2e_p99_warning_seconds", 31.0),
            ("queue_time_p99_warning_seconds", 5.5),
        )
    },
    # KV connectors and engine operations (vllm.connectors, vllm.operations)
    "AlertingConfig.engine_operation_stuck_for:check_duration": (
        {"alerting.engine_operation_stuck_for": "15"},
        "alerting.engine_operation_stuck_for'",
    ),
    "AlertingConfig.nixl_kv_expired_per_second:ge": (
        {"alerting.nixl_kv_expired_per_second": -1},
        "alerting.nixl_kv_expired_per_second'",
    ),
    **{
        f"AlertingConfig.{k}:{bound}": ({f"alerting.{k}": v}, f"alerting.{k}'")
        for k in (
            "kv_offload_allocation_failure_ratio_warning",
            "process_memory_limit_ratio_warning",
        )
        for bound, v in (("gt", 0), ("lt", 1))
    },
    # the inference pool (gateway.inference_pool)
    "BundleConfig._pool_members": (
        {f"{D}.inference_pool": "vllm-pool"},
        "gateway.inference_pool.enabled is false",
    ),
    "ModelProfile.inference_pool:check_k8s_name": (
        {f"{D}.inference_pool": "Pool_1"},
        "'Pool_1' is not a valid Kubernetes name",
    ),
    **{
        f"{cls}.{field}:check_k8s_name": (
            {f"gateway.inference_pool.{path}": "Bad_Name"},
            "'Bad_Name' is not a valid Kubernetes name",
        )
        for cls, field, path in (
            ("InferencePoolConfig", "name", "name"),
            ("InferencePoolConfig", "namespace", "namespace"),
            ("EppService", "name", "epp.name"),
            ("EppService", "namespace", "epp.namespace"),
            ("EppAuth", "service_account", "auth.service_account"),
        )
    },
    "EppService.port:ge": ({"gateway.inference_pool.epp.port": 0}, "epp.port'"),
    "EppService.port:le": ({"gateway.inference_pool.epp.port": 70000}, "epp.port'"),
    "EppService.port_name:min_length": (
        {"gateway.inference_pool.epp.port_name": ""},
        "epp.port_name'",
    ),
    "InferencePoolConfig._chart_names_the_epp": (
        {
            "gateway.inference_pool.install": "chart",
            "gateway.inference_pool.epp.name": "router-epp",
        },
        "install: chart renders llm-d-router's chart, which names the EPP after the pool",
    ),
    "RouterThresholds._ordered": (
        {
            "gateway.inference_pool.thresholds.error_ratio_warning": 0.3,
            "gateway.inference_pool.thresholds.error_ratio_critical": 0.2,
        },
        "error_ratio_critical must be above error_ratio_warning",
    ),
    **{
        f"RouterThresholds.{k}:{bound}": (
            {f"gateway.inference_pool.thresholds.{k}": v},
            f"thresholds.{k}'",
        )
        for k, bound, v in (
            ("datalayer_poll_errors_per_second", "ge", -1),
            ("disagg_min_ratio", "gt", 0),
            ("disagg_min_ratio", "lt", 1),
            ("error_ratio_critical", "gt", 0),
            ("error_ratio_critical", "lt", 1),
            ("error_ratio_warning", "gt", 0),
            ("error_ratio_warning", "lt", 1),
            ("flow_control_queue", "ge", 0),
            ("saturation", "gt", 0),
            ("scheduling_failure_ratio", "gt", 0),
            ("scheduling_failure_ratio", "lt", 1),
        )
    },
    "RouterThresholds.ttft_p99_seconds:_on_ttft_edge": (
        {"gateway.inference_pool.thresholds.ttft_p99_seconds": 1.7},
        "thresholds.ttft_p99_seconds'",
    ),
    "GrafanaOperatorConfig.instance_selector:min_length": (
        {"dashboards.grafana_operator.instance_selector": {}},
        "instance_selector'",
    ),
    "AlertingConfig.kv_cache_warning_ratio:le": (
        {"alerting.kv_cache_warning_ratio": 90},
        "alerting.kv_cache_warning_ratio'",
    ),
    "AlertingConfig.kv_cache_critical_ratio:le": (
        {"alerting.kv_cache_critical_ratio": 98},
        "alerting.kv_cache_critical_ratio'",
    ),
    "AlertingConfig.waiting_requests_warning:ge": (
        {"alerting.waiting_requests_warning": 0},
        "alerting.waiting_requests_warning'",
    ),
    "AlertingConfig.preemptions_per_second_floor:ge": (
        {"alerting.preemptions_per_second_floor": -1},
        "alerting.preemptions_per_second_floor'",
    ),
    "AlertingConfig.error_ratio_warning:lt": (
        {"alerting.error_ratio_warning": 1, "alerting.error_ratio_critical": 2},
        "alerting.error_ratio_warning'",
    ),
    "AlertingConfig.error_ratio_critical:lt": (
        {"alerting.error_ratio_critical": 5},
        "alerting.error_ratio_critical'",
    ),
    "AlertingConfig.gpu_utilization_low_ratio:lt": (
        {"alerting.gpu_utilization_low_ratio": 50},
        "alerting.gpu_utilization_low_ratio'",
    ),
    **{
        f"AlertingConfig.{k}:check_duration": ({f"alerting.{k}": "10"}, f"alerting.{k}'")
        for k in ("pod_pending_for", "container_waiting_for", "replicas_unavailable_for")
    },
    "AlertingConfig.oom_window:check_duration": (
        {"alerting.oom_window": "1 h"},
        "'1 h' is not a Prometheus duration",
    ),
    "SloConfig.threshold_seconds:gt": (
        {"alerting.ttft_slo.threshold_seconds": -1},
        "ttft_slo.threshold_seconds'",
    ),
    "SloConfig.threshold_seconds:_on_bucket_edge": (
        {"alerting.ttft_slo.threshold_seconds": 3.0},
        "nearest valid: 2.5 or 5",
    ),
    "SloConfig.objective:gt": ({"alerting.ttft_slo.objective": 0}, "ttft_slo.objective'"),
    "SloConfig.objective:lt": ({"alerting.ttft_slo.objective": 99}, "ttft_slo.objective'"),
    "SloConfig.window:check_duration": (
        {"alerting.ttft_slo.window": "30 days"},
        "'30 days' is not a Prometheus duration",
    ),
    "SloConfig.min_requests:ge": (
        {"alerting.ttft_slo.min_requests": -1},
        "ttft_slo.min_requests'",
    ),
    # alertmanager, dashboards, verify, resources
    "AlertmanagerConfig.replicas:ge": ({"alertmanager.replicas": 0}, "alertmanager.replicas'"),
    "AlertmanagerConfig.replicas:le": ({"alertmanager.replicas": 6}, "alertmanager.replicas'"),
    "DashboardsConfig.uid:max_length": ({"dashboards.uid": "u" * 41}, "dashboards.uid'"),
    "VerifyConfig.image:check_pinned_image": (
        {"verify": {"image": "ghcr.io/example-org/obsctl-verify:latest"}},
        "is not a pinned image: use name:tag",
    ),
    "VerifyConfig.git_image:check_pinned_image": (
        {"verify": {"git_image": "alpine/git@sha256:abc"}},
        "a digest is sha256: and 64 hex digits",
    ),
    "ResourceSpec.cpu:check_quantity": (
        {"resources.prometheus": {"cpu": "half", "memory": "2Gi"}},
        "'half' is not a Kubernetes quantity",
    ),
    "ResourceSpec.memory:check_quantity": (
        {"resources.prometheus": {"cpu": "1", "memory": "2 GiB"}},
        "'2 GiB' is not a Kubernetes quantity",
    ),
    "ResourceSpec.memory_limit:check_quantity_or_blank": (
        {"resources.prometheus": {"cpu": "1", "memory": "2Gi", "memory_limit": "4g"}},
        "'4g' is not a Kubernetes quantity",
    ),
    # autoscaling, runtimes
    "KedaConfig.namespace:check_k8s_name": (
        {"autoscaling": {"keda": {"namespace": "KEDA"}}},
        "'KEDA' is not a valid Kubernetes name",
    ),
    "KedaConfig.cooldown_seconds:ge": (
        {"autoscaling": {"keda": {"cooldown_seconds": -1}}},
        "keda.cooldown_seconds'",
    ),
    "KedaConfig.polling_interval_seconds:ge": (
        {"autoscaling": {"keda": {"polling_interval_seconds": 0}}},
        "keda.polling_interval_seconds'",
    ),
    "RayServiceSettings.image_tag:check_pinned_tag": (
        {"runtimes": {"rayservice": {"image_tag": "latest"}}},
        "pin an exact image tag such as v0.11.0 or 2.58.0-py312-cu130, not 'latest'",
    ),
    "KServeSettings.llm_image:check_pinned_image": (
        {"runtimes": {"kserve": {"llm_image": "ghcr.io/llm-d/llm-d-cuda:latest"}}},
        "is not a pinned image",
    ),
    "KServeSettings.huggingface_image:check_pinned_image": (
        {"runtimes": {"kserve": {"huggingface_image": "kserve/huggingfaceserver"}}},
        "is not a pinned image",
    ),
    "KServeSettings._monitors_need_llmisvc": (
        {"runtimes": {"kserve": {"api": "inference-service", "controller_monitors": True}}},
        "controller_monitors applies to api llm-inference-service only",
    ),
    "RayServiceSettings.operator_namespace:check_k8s_name": (
        {"runtimes": {"rayservice": {"operator_namespace": "Ray"}}},
        "'Ray' is not a valid Kubernetes name",
    ),
    "AibrixSettings.system_namespace:check_k8s_name": (
        {"runtimes": {"aibrix": {"system_namespace": "aibrix_system"}}},
        "'aibrix_system' is not a valid Kubernetes name",
    ),
}


def test_the_committed_bundle_is_valid() -> None:
    parse_config(copy.deepcopy(RAW))


def test_every_validator_has_a_case() -> None:
    found = validators()
    missing = sorted(found - set(CASES))
    assert not missing, f"validators without an invalid-bundle case here: {missing}"
    stale = sorted(set(CASES) - found)
    assert not stale, f"cases for validators that no longer exist: {stale}"
    assert len(found) >= 100  # the introspection itself still finds the validators


@pytest.mark.parametrize("validator", sorted(CASES))
def test_the_validator_rejects_its_invalid_bundle(validator: str) -> None:
    changes, expected = CASES[validator]
    with pytest.raises(ConfigError) as err:
        parse_config(mutated(changes))
    assert expected in str(err.value), f"{validator}: got\n{err.value}"
    bound = validator.rpartition(":")[2]
    if bound in _BOUND_WORDS:  # a Field bound: pydantic's own words for that bound
        assert re.search(_BOUND_WORDS[bound], str(err.value)), f"{validator}: got\n{err.value}"


# Bundles at a validator's edge that are valid: the validator rejects the invalid side only.
ACCEPTED: dict[str, dict[str, Any]] = {
    # two samples per 1m window at 30 s: the fix the error names is itself valid
    "PrometheusConfig._samples_per_window": {"prometheus.scrape_interval": "30s"},
    # a fixed-size model: KEDA scales between equal bounds (generated mutant `<` -> `<=`)
    "ModelAutoscaling._ordered": {f"{D}.autoscaling": {"min_replicas": 2, "max_replicas": 2}},
    # an InferenceService without controller monitors (generated mutant `and` -> `or`)
    "KServeSettings._monitors_need_llmisvc": {
        "runtimes": {"kserve": {"api": "inference-service", "controller_monitors": False}}
    },
}


@pytest.mark.parametrize("validator", sorted(ACCEPTED))
def test_the_validator_accepts_its_edge(validator: str) -> None:
    assert validator in CASES  # the same validator rejects the other side
    parse_config(mutated(ACCEPTED[validator]))


def test_an_off_edge_router_ttft_threshold_lists_the_edges_to_pick() -> None:
    """The error names the edges worth picking for a router TTFT (0.1 s to 30 s), not the
    histogram's every bucket."""
    with pytest.raises(ConfigError) as err:
        parse_config(mutated({"gateway.inference_pool.thresholds.ttft_p99_seconds": 1.7}))
    assert (
        "1.7 is not a bucket edge of llm_d_epp_request_ttft_seconds: pick one of"
        " 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30"
    ) in str(err.value), str(err.value)
