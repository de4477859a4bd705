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
    )
    data["gpu"]["node_selector"] = draw(st.sampled_from(selectors))
    data["gpu"]["tolerations"] = draw(st.sampled_from(tolerations))
    data["gpu"]["hourly_cost"] = {"default": draw(st.sampled_from((0.5, 1.2, 4.0)))}
    mode = draw(st.sampled_from(("bundled", "gpu-operator", "external")))
    data["gpu"]["dcgm_exporter"] = mode
    if mode == "gpu-operator" and draw(st.booleans()):
        data["gpu"]["dcgm_service"] = {"namespace": "nvidia-gpu-operator"}  # OpenShift's
    elif mode == "external":
        data["gpu"]["dcgm_service"] = {
            "namespace": draw(_name(("gpu-monitoring", "kube-system"))),
            "match_labels": {"app.kubernetes.io/name": "my-dcgm"},
            "port": draw(_name(("metrics", "gpu-metrics"))),
        }


def secrets(draw: Draw, data: dict[str, Any]) -> None:
    s = data["secrets"]
    s["hf_token"] = {"name": draw(_name(_SECRET_NAMES)), "key": draw(_name(("token", "HF_TOKEN")))}
    s["grafana_admin"]["name"] = draw(_name(_SECRET_NAMES))
    s["alert_receivers"] = {"name": draw(_name(_SECRET_NAMES))}
    data["resources"]["priority_class_name"] = draw(_name(("", "monitoring-high")))


DIMENSIONS: list[Dimension] = [
    models,
    deploy,
    namespaces,
    cluster_label,
    thresholds,
    gpu,
    secrets,
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
