"""The space of valid bundle.yaml files, as a hypothesis strategy, and the check each must pass.

`bundles()` draws a valid bundle.yaml (a dict) by starting from the committed file and
applying every function in `DIMENSIONS`, each of which draws one aspect (models, deploy
set, namespaces, cluster label, thresholds, GPU settings, Secret names, ...). To cover a
new config key, write one function `def my_key(draw, data) -> None` that mutates `data`
with values drawn from `draw(...)` and append it to `DIMENSIONS` (order matters only when
one dimension reads what an earlier one drew, e.g. the deploy set reads the models).

`check_tree(data, work)` is the property: render into a temporary tree, lint it clean
(every stage: schemas, CRDs, kustomize, cross references, promtool, dashboards),
`render --check` clean, and every alert and record rule unique by name + labels.
tests/test_config_space.py runs a few examples in CI; bench/config_soak.py runs many.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from observability.alerting.rules import rule_groups
from observability.config import load_config
from observability.lint.rules import duplicate_rules
from observability.lint.runner import run_lint
from observability.metrics.buckets import usable_edges
from observability.metrics.names import VLLM
from observability.render import apply, check, render_all, seed_hand_written

__all__ = ["DIMENSIONS", "REPO_ROOT", "bundles", "check_tree", "register_profiles"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE: dict[str, Any] = yaml.safe_load((REPO_ROOT / "bundle.yaml").read_text(encoding="utf-8"))

Draw = Callable[[st.SearchStrategy[Any]], Any]
Dimension = Callable[[Draw, dict[str, Any]], None]

# Name pools are disjoint per role so a drawn bundle never puts a model into the
# monitoring or Argo CD namespace by accident (see `namespaces` below for sharing).
_MODEL_KEYS = ("llama-3-8b", "qwen2-7b", "mistral-7b", "deepseek-r1-8b", "phi-3-mini", "gemma-2b")
_OWN_NAMESPACES = ("team-a", "team-b", "vllm-llama", "research")
_VLLM_NS = ("vllm", "inference", "llm-serving")
_MONITORING_NS = ("monitoring", "observability", "prom")
_ARGOCD_NS = ("argocd", "gitops")
_GATEWAY_NS = ("vllm-gateway", "ingress", "api-gateway")
_SECRET_NAMES = ("hf-token", "huggingface", "grafana-admin", "grafana-creds", "am-receivers")


def _name(pool: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(pool)


def models(draw: Draw, data: dict[str, Any]) -> None:
    """1-4 registry models; each shares namespaces.vllm or owns (or shares) another one."""
    keys = draw(st.lists(_name(_MODEL_KEYS), min_size=1, max_size=4, unique=True))
    registry: dict[str, Any] = {}
    for key in keys:
        profile: dict[str, Any] = {
            "hf_id": f"org/{key}",
            "served_name": draw(st.sampled_from((f"org/{key}", key))),
            "max_model_len": draw(st.sampled_from((2048, 4096, 8192, 32768))),
            "gpu_memory_utilization": draw(st.sampled_from((0.8, 0.9, 0.95))),
            "max_num_seqs": draw(st.integers(1, 512)),
            "gpus": draw(st.sampled_from((1, 2, 4, 8))),
            "cost": {"input_per_1k": 0.0002, "output_per_1k": 0.0006},
            "hf_token_optional": draw(st.booleans()),
        }
        if draw(st.booleans()):
            profile["namespace"] = draw(_name(_OWN_NAMESPACES))
        registry[key] = profile
    data["models"] = registry


def deploy(draw: Draw, data: dict[str, Any]) -> None:
    """Any subset of the registry, in any order, plus the replica count."""
    keys = list(data["models"])
    chosen = draw(st.lists(st.sampled_from(keys), max_size=len(keys), unique=True))
    data["vllm"]["deploy"] = chosen
    data["vllm"]["replicas"] = draw(st.integers(0, 4))


def namespaces(draw: Draw, data: dict[str, Any]) -> None:
    data["namespaces"] = {
        "argocd": draw(_name(_ARGOCD_NS)),
        "monitoring": draw(_name(_MONITORING_NS)),
        "vllm": draw(_name(_VLLM_NS)),
        "gateway": draw(_name(_GATEWAY_NS)),
    }


def cluster_label(draw: Draw, data: dict[str, Any]) -> None:
    if draw(st.booleans()):
        data["prometheus"]["cluster_label"] = draw(st.sampled_from(("cluster", "k8s_cluster")))
        data["prometheus"]["cluster_name"] = draw(st.sampled_from(("prod-eu", "gke-1", "eks")))
    else:
        data["prometheus"]["cluster_label"] = ""
        data["prometheus"]["cluster_name"] = ""
    data["prometheus"]["scrape_interval"] = draw(st.sampled_from(("10s", "15s", "30s")))


def _ordered_pair(draw: Draw, edges: tuple[float, ...]) -> tuple[float, float]:
    low, high = sorted(draw(st.lists(st.sampled_from(edges), min_size=2, max_size=2, unique=True)))
    return low, high


def thresholds(draw: Draw, data: dict[str, Any]) -> None:
    """Anywhere valid: histogram thresholds on common bucket edges, ordered pairs ordered."""
    a = data["alerting"]
    a["ttft_p99_warning_seconds"], a["ttft_p99_critical_seconds"] = _ordered_pair(
        draw, usable_edges(VLLM.TTFT)
    )
    a["itl_p99_warning_seconds"] = draw(st.sampled_from(usable_edges(VLLM.ITL)))
    a["e2e_p99_warning_seconds"] = draw(st.sampled_from(usable_edges(VLLM.E2E)))
    a["queue_time_p99_warning_seconds"] = draw(st.sampled_from(usable_edges(VLLM.QUEUE_TIME)))
    kv_w, kv_c = _ordered_pair(draw, (0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0))
    a["kv_cache_warning_ratio"], a["kv_cache_critical_ratio"] = kv_w, kv_c
    a["waiting_requests_warning"] = draw(st.integers(1, 5000))
    a["preemption_ratio_warning"] = draw(st.sampled_from((0.01, 0.05, 0.2)))
    a["preemptions_per_second_floor"] = draw(st.sampled_from((0.0, 0.1, 1.0)))
    err_w, err_c = _ordered_pair(draw, (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5))
    a["error_ratio_warning"], a["error_ratio_critical"] = err_w, err_c
    t_w, t_c = _ordered_pair(draw, (70.0, 80.0, 85.0, 90.0, 92.0, 95.0))
    a["gpu_temperature_warning_celsius"], a["gpu_temperature_critical_celsius"] = t_w, t_c
    a["gpu_utilization_low_ratio"] = draw(st.sampled_from((0.1, 0.3, 0.5, 0.8)))
    a["ttft_slo"] = {
        "threshold_seconds": draw(st.sampled_from(usable_edges(VLLM.TTFT))),
        "objective": draw(st.sampled_from((0.9, 0.95, 0.99, 0.999))),
        "window": draw(st.sampled_from(("7d", "28d", "30d"))),
    }


def gpu(draw: Draw, data: dict[str, Any]) -> None:
    selectors = (
        {"nvidia.com/gpu.present": "true"},
        {"cloud.google.com/gke-accelerator": "nvidia-l4"},
        {"karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia", "workload": "gpu"},
        {"kubernetes.azure.com/accelerator": "nvidia"},
    )
    tolerations = (
        [],
        [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        ],
        [{"key": "pool", "operator": "Equal", "value": "a100", "effect": "NoExecute"}],
    )
    data["gpu"]["node_selector"] = draw(st.sampled_from(selectors))
    data["gpu"]["tolerations"] = draw(st.sampled_from(tolerations))
    data["gpu"]["hourly_cost"] = {"default": draw(st.sampled_from((0.5, 1.2, 4.0)))}
    data["gpu"]["node_pool_label"] = draw(
        _name(
            (
                "karpenter.sh/nodepool",
                "eks.amazonaws.com/nodegroup",
                "cloud.google.com/gke-nodepool",
            )
        )
    )
    mode = draw(st.sampled_from(("bundled", "gpu-operator", "external")))
    data["gpu"]["dcgm_exporter"] = mode
    if mode == "gpu-operator" and draw(st.booleans()):
        data["gpu"]["dcgm_service"] = {"namespace": "nvidia-gpu-operator"}  # OpenShift's
    elif mode == "external":
        data["gpu"]["dcgm_service"] = {
            "namespace": draw(_name(("gpu-monitoring", "kube-system"))),
            "match_labels": draw(
                st.sampled_from(({"app.kubernetes.io/name": "my-dcgm"}, {"app": "dcgm"}))
            ),
            "port": draw(_name(("metrics", "gpu-metrics"))),
        }


def secrets(draw: Draw, data: dict[str, Any]) -> None:
    s = data["secrets"]
    s["hf_token"] = {"name": draw(_name(_SECRET_NAMES)), "key": draw(_name(("token", "HF_TOKEN")))}
    s["grafana_admin"] = {
        "name": draw(_name(_SECRET_NAMES)),
        "user_key": draw(_name(("admin-user", "user"))),
        "password_key": draw(_name(("admin-password", "password"))),
    }
    s["alert_receivers"] = {"name": draw(_name(_SECRET_NAMES))}
    data["resources"]["priority_class_name"] = draw(_name(("", "monitoring-high")))


_DURATIONS = ("30s", "1m", "2m", "5m", "10m", "15m", "30m", "1h")


def runtimes_and_sources(draw: Draw, data: dict[str, Any]) -> None:
    """Per model: what serves it (vllm, rayservice, aibrix, tgi), where its weights come from
    (huggingface, s3 with any identity, pvc), its load budget and autoscaling bounds."""
    for key, m in data["models"].items():
        runtime = draw(
            st.sampled_from(("vllm", "vllm", "rayservice", "aibrix", "tgi", "kserve", "lws"))
        )
        m["runtime"] = runtime
        # pods per group: a LeaderWorkerSet spans several, every other runtime one
        m["nodes"] = draw(st.integers(1, 4)) if runtime == "lws" else 1
        if runtime == "aibrix":  # routes on model.aibrix.ai/name: a Kubernetes name
            m["served_name"] = key
        source = draw(st.sampled_from(("huggingface", "huggingface", "s3", "pvc")))
        m["source"] = source
        if source == "s3":
            # IRSA, GKE workload identity, or none (EKS Pod Identity, the node's role)
            identity = draw(
                st.sampled_from(
                    (
                        {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/reader"},
                        {"iam.gke.io/gcp-service-account": "reader@proj.iam.gserviceaccount.com"},
                        {},
                    )
                )
            )
            m["s3"] = {
                "uri": f"s3://models-{draw(_name(('eu', 'us')))}/{key}/",
                "annotations": identity,
                "region": draw(_name(("", "us-east-1", "eu-west-1"))),
                "image": draw(_name(("amazon/aws-cli:2.17.0", "amazon/aws-cli:2.22.4"))),
                # AWS itself, or an S3-compatible store (MinIO, Ceph RGW)
                "endpoint_url": draw(_name(("", "http://minio.storage:9000", "https://rgw.ceph"))),
            }
        elif source == "pvc":
            m["pvc"] = {
                "claim_name": draw(_name(("model-store", "weights"))),
                "path": draw(_name((key, f"hf/{key}"))),
            }
        m["expected_load_time"] = draw(_name(("30s", "5m", "10m", "45m")))
        lo = draw(st.integers(0, 4))
        m["autoscaling"] = {
            "min_replicas": lo,
            "max_replicas": draw(st.integers(max(1, lo), 8)),
            "waiting_per_replica": draw(st.sampled_from((1, 4, 8.5, 32))),
        }
        m["cost"] = {
            "input_per_1k": draw(st.sampled_from((0.0, 0.0002, 0.003))),
            "output_per_1k": draw(st.sampled_from((0.0, 0.0006, 0.015))),
        }


def vllm_settings(draw: Draw, data: dict[str, Any]) -> None:
    v = data["vllm"]
    v["image"] = draw(_name(("vllm/vllm-openai", "registry.example/mirror/vllm-openai")))
    v["image_tag"] = draw(_name(("v0.33.0", "v0.26.0", "v0.10.1.1")))
    v["port"] = draw(st.sampled_from((8000, 8080, 9000)))
    v["shm_size"] = draw(_name(("1Gi", "8Gi", "16Gi")))
    v["model_cache_size"] = draw(_name(("50Gi", "100Gi", "500Gi")))
    v["model_cache_pvc"] = draw(_name(("", "model-cache")))


def autoscaling(draw: Draw, data: dict[str, Any]) -> None:
    """KEDA off, or on (installed by the bundle or already there)."""
    data["autoscaling"] = {
        "keda": {
            "enabled": draw(st.booleans()),
            "install": draw(st.booleans()),
            "namespace": draw(_name(("keda", "autoscaling"))),
            "cooldown_seconds": draw(st.sampled_from((0, 60, 300))),
            "polling_interval_seconds": draw(st.sampled_from((5, 15, 30))),
        }
    }


def _resource(draw: Draw, cpus: tuple[str, ...], gib: tuple[int, ...]) -> dict[str, str]:
    mem = draw(st.sampled_from(gib))
    return {
        "cpu": draw(_name(cpus)),
        "memory": f"{mem}Gi",
        "memory_limit": draw(st.sampled_from((f"{mem}Gi", f"{mem + 4}Gi"))),
    }


def _kserve(draw: Draw) -> dict[str, Any]:
    api = draw(_name(("llm-inference-service", "inference-service")))
    return {
        "api": api,
        # KServe's own monitors exist for LLMInferenceService only (ODH builds)
        "controller_monitors": api == "llm-inference-service" and draw(st.booleans()),
        "engine_tls": draw(st.booleans()),
        "llm_image": draw(
            _name(("ghcr.io/llm-d/llm-d-cuda:v0.8.0", "ghcr.io/llm-d/llm-d-cuda:v0.7.1"))
        ),
        "huggingface_image": draw(
            _name(("kserve/huggingfaceserver:v0.20.0-gpu", "kserve/huggingfaceserver:v0.19.0-gpu"))
        ),
    }


def runtime_settings(draw: Draw, data: dict[str, Any]) -> None:
    data["runtimes"] = {
        "rayservice": {
            "install_operator": draw(st.booleans()),
            "operator_namespace": draw(_name(("kuberay-operator", "ray-system"))),
            "image_tag": draw(_name(("2.58.0-py312-cu130", "2.49.2-py311-cu128"))),
            "head_node_selector": draw(st.sampled_from(({}, {"node-role": "cpu"}))),
            "head": _resource(draw, ("1", "2"), (8, 12)),
            "worker": _resource(draw, ("8", "12"), (48, 60)),
        },
        "aibrix": {
            "system_namespace": draw(_name(("aibrix-system", "aibrix"))),
            "routing_strategy": draw(_name(("least-request", "prefix-cache", "random"))),
        },
        "kserve": _kserve(draw),
        "lws": {
            "install_controller": draw(st.booleans()),
        },
    }


def inference_pool(draw: Draw, data: dict[str, Any]) -> None:
    """The router off, or on: its pool in the namespace of some of the models (which then
    name it), installed by the bundle's chart Application (the EPP as the chart names it) or
    existing (the EPP's Service anywhere), any token source, P/D or not, any thresholds."""
    vllm_ns = data["namespaces"]["vllm"]
    ns_of = {k: m.get("namespace") or vllm_ns for k, m in data["models"].items()}
    enabled = draw(st.booleans())
    own_ns = draw(st.sampled_from((None, *sorted(set(ns_of.values())))))
    pool_ns = own_ns or vllm_ns
    name = draw(_name(("vllm-pool", "llama-pool")))
    for key, m in data["models"].items():
        member = enabled and ns_of[key] == pool_ns and draw(st.booleans())
        m["inference_pool"] = name if member else None
    warning = draw(st.sampled_from((0.01, 0.05)))
    # the bundle installs the router chart, which names and serves the EPP its own way
    chart = draw(st.booleans())
    data["gateway"] = {
        "inference_pool": {
            "enabled": enabled,
            "name": name,
            "namespace": own_ns,
            "install": "chart" if chart else "existing",
            "epp": {
                "name": None if chart else draw(st.sampled_from((None, "router-epp"))),
                "namespace": None if chart else draw(st.sampled_from((None, "llm-d-router"))),
                "port_name": "http-metrics" if chart else draw(_name(("http-metrics", "metrics"))),
                "port": 9090 if chart else draw(st.sampled_from((9090, 9091))),
            },
            "auth": {
                "source": draw(_name(("service-account", "secret", "none"))),
                "service_account": draw(_name(("epp-metrics-reader", "prom-epp"))),
                "secret": {
                    "name": draw(_name(("epp-metrics-reader-token", "epp-token"))),
                    "key": draw(_name(("token", "bearer"))),
                },
            },
            "disaggregation": draw(st.booleans()),
            "thresholds": {
                "ttft_p99_seconds": draw(st.sampled_from((1.0, 2.0, 3.0))),
                "error_ratio_warning": warning,
                "error_ratio_critical": draw(st.sampled_from((0.25, 0.5))),
                "scheduling_failure_ratio": draw(st.sampled_from((0.01, 0.05))),
                "saturation": draw(st.sampled_from((1.0, 1.5))),
                "flow_control_queue": draw(st.sampled_from((50, 100))),
                "datalayer_poll_errors_per_second": draw(st.sampled_from((0.0, 0.5))),
                "disagg_min_ratio": draw(st.sampled_from((0.1, 0.3))),
            },
        }
    }


def prometheus_and_alertmanager(draw: Draw, data: dict[str, Any]) -> None:
    """HA pairs, retention and storage, remote write (0-2 queues, any auth), Thanos."""
    p = data["prometheus"]
    p["replicas"] = draw(st.integers(1, 3))
    p["replica_label"] = draw(_name(("prometheus_replica", "replica")))
    p["evaluation_interval"] = draw(_name(("10s", "15s", "30s")))
    p["retention"] = draw(_name(("2d", "15d", "90d")))
    p["storage_size"] = draw(_name(("20Gi", "50Gi", "1Ti")))
    p["storage_class"] = draw(_name(("", "gp3", "premium-rwo")))
    queues = []
    for name in draw(st.lists(_name(("mimir", "thanos-receive", "vm")), max_size=2, unique=True)):
        rw: dict[str, Any] = {
            "name": name,
            "url": f"https://{name}.example/api/v1/push",
            "only_bundle_series": draw(st.booleans()),
        }
        auth = draw(st.sampled_from(("none", "basic", "bearer")))
        if auth == "basic":
            rw["basic_auth"] = {
                "name": draw(_name(_SECRET_NAMES)),
                "username_key": draw(_name(("username", "user"))),
                "password_key": draw(_name(("password", "pass"))),
            }
        elif auth == "bearer":
            rw["bearer_token"] = {
                "name": draw(_name(_SECRET_NAMES)),
                "key": draw(_name(("token", "bearer"))),
            }
        if draw(st.booleans()):
            lo = draw(st.integers(1, 4))
            rw["queue"] = {
                "capacity": draw(st.sampled_from((2500, 10000))),
                "min_shards": lo,
                "max_shards": draw(st.integers(lo, 50)),
                "max_samples_per_send": draw(st.sampled_from((500, 2000))),
                "batch_send_deadline": draw(_name(("5s", "10s"))),
                "min_backoff": draw(_name(("30ms", "1s"))),
                "max_backoff": draw(_name(("5s", "1m"))),
            }
        queues.append(rw)
    p["remote_write"] = queues
    thanos = draw(st.booleans())
    p["thanos"] = {"enabled": thanos}
    if thanos:
        p["thanos"]["object_store"] = {
            "name": draw(_name(_SECRET_NAMES)),
            "key": draw(_name(("objstore.yml", "bucket.yaml"))),
        }
    data["alertmanager"] = {"replicas": draw(st.integers(1, 3))}


def receivers_and_alerting(draw: Draw, data: dict[str, Any]) -> None:
    a = data["alerting"]
    a["receivers"] = {
        "ticket_webhook_url": draw(_name(("", "https://tickets.example/hook"))),
        "heartbeat_webhook_url": draw(_name(("", "https://hc.example/ping/abc"))),
        "webhook_token_from_secret": draw(st.booleans()),
    }
    a["gpu_xid_critical_codes"] = draw(
        st.lists(st.sampled_from((48, 63, 64, 74, 79, 92, 94, 95, 119)), min_size=1, unique=True)
    )
    a["grafana_url"] = draw(_name(("http://localhost:3000", "https://grafana.example.com")))
    a["pod_pending_for"] = draw(_name(("2m", "5m", "15m")))
    a["container_waiting_for"] = draw(_name(("2m", "5m", "10m")))
    a["replicas_unavailable_for"] = draw(_name(("5m", "10m", "15m")))
    a["oom_window"] = draw(_name(("10m", "15m", "1h")))
    a["ttft_slo"]["min_requests"] = draw(st.sampled_from((1, 10, 100)))
    a["nixl_kv_expired_per_second"] = draw(st.sampled_from((0.0, 0.01, 1.0)))
    a["kv_offload_allocation_failure_ratio_warning"] = draw(st.sampled_from((0.01, 0.05, 0.2)))
    a["engine_operation_stuck_for"] = draw(_name(("5m", "15m", "1h")))
    a["process_memory_limit_ratio_warning"] = draw(st.sampled_from((0.8, 0.9, 0.95)))


def dashboards_verify_git(draw: Draw, data: dict[str, Any]) -> None:
    data["dashboards"] = {
        "delivery": draw(_name(("sidecar", "grafana-operator"))),
        "grafana_operator": {
            "instance_selector": draw(
                st.sampled_from(({"dashboards": "grafana"}, {"app": "grafana", "team": "ml"}))
            ),
            "allow_cross_namespace_import": draw(st.booleans()),
            "resync_period": draw(_name(("10m", "1h", "30s"))),
        },
        "folder": draw(_name(("vLLM", "Inference", "LLM serving"))),
        "uid": draw(_name(("vllm-single-pane", "llm-pane", "a" * 40))),
        "title": draw(_name(("vLLM single pane", "LLM inference"))),
    }
    digest = "sha256:" + "0" * 64
    data["verify"] = {
        "cronjob": draw(st.booleans()),
        "schedule": draw(_name(("*/15 * * * *", "0 * * * *"))),
        "image": draw(
            _name(("ghcr.io/example-org/obsctl-verify:0.1.0", f"ghcr.io/me/verify@{digest}"))
        ),
        "git_image": draw(_name(("alpine/git:v2.47.2", "alpine/git:2.45.2"))),
    }
    data["git"] = {
        "repo_url": draw(
            _name(
                (
                    "https://github.com/example-org/vllm-observability-bundle.git",
                    "git@github.com:me/obs.git",
                )
            )
        ),
        "revision": draw(_name(("main", "v1.2.0", "release"))),
    }


def resources(draw: Draw, data: dict[str, Any]) -> None:
    """Requests and limits of every component, limits at or above requests."""
    r = data["resources"]
    for comp in (
        "prometheus", "alertmanager", "grafana", "grafana_sidecar", "prometheus_operator",
        "config_reloader", "kube_state_metrics", "node_exporter", "dcgm_exporter", "vllm",
    ):  # fmt: skip
        mem = draw(st.sampled_from((64, 256, 1024, 4096)))
        r[comp] = {
            "cpu": draw(_name(("10m", "250m", "1", "4"))),
            "memory": f"{mem}Mi",
            "memory_limit": draw(st.sampled_from(("", f"{mem}Mi", f"{mem * 2}Mi"))),
        }


DIMENSIONS: list[Dimension] = [
    models,
    deploy,
    namespaces,
    cluster_label,
    thresholds,
    gpu,
    secrets,
    runtimes_and_sources,
    vllm_settings,
    autoscaling,
    runtime_settings,
    inference_pool,
    prometheus_and_alertmanager,
    receivers_and_alerting,
    dashboards_verify_git,
    resources,
]


@st.composite
def bundles(draw: Draw) -> dict[str, Any]:
    """A valid bundle.yaml as a dict (the committed file with every dimension drawn)."""
    data = copy.deepcopy(BASE)
    for dimension in DIMENSIONS:
        dimension(draw, data)
    return data


def check_tree(data: dict[str, Any], work: Path) -> list[str]:
    """Problems of the bundle rendered from `data` into `work` (empty: it passes)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "bundle.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    cfg = load_config(config)  # a ConfigError here means the strategy drew an invalid bundle
    rendered = render_all(cfg)
    seed_hand_written(REPO_ROOT, work)  # alerts/tests/, as `render --out` does
    apply(rendered, work)
    problems = [f.line() for f in run_lint(work, cfg).errors]
    drift = check(rendered, work)
    problems += [f"render --check: {rel} drifted" for rel in drift.drifted]
    problems += [f"render --check: {rel} orphaned" for rel in drift.orphans]
    for profile in ("standard", "fast"):
        problems += [f.line() for f in duplicate_rules(rule_groups(cfg, profile))]
    absent = [
        r["labels"]
        for g in rule_groups(cfg)
        for r in g["rules"]
        if r.get("alert") == "VLLMMetricsAbsent"
    ]
    if len(absent) != len(cfg.vllm.deploy):
        problems.append(
            f"{len(absent)} VLLMMetricsAbsent rules for {len(cfg.vllm.deploy)} deployed models"
        )
    return problems


def register_profiles() -> None:
    """`ci`: a few examples (promtool and kustomize dominate, ~4 s each) and no shrinking (a
    shrink re-renders and re-lints hundreds of times); `soak`: many, shrinking a failure."""
    common: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        "derandomize": False,
    }
    no_shrink = [Phase.explicit, Phase.reuse, Phase.generate]
    settings.register_profile("ci", max_examples=8, phases=no_shrink, **common)
    settings.register_profile("soak", max_examples=200, **common)
