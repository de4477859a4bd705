"""runtime: kserve. Each API renders and lints clean beside every other runtime; the engine
is scraped once (KServe's own monitors or the bundle's, never both); KServe's renamed
`kserve_vllm:*` series reach the unchanged vLLM alerts through the mapping, and a pod that
also comes in under vLLM's own names (the `-default` monitor) counts once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kserve_helpers import KSERVE_KEY, KSERVE_MODEL, KSERVE_NS, kserve_data
from runtimes_helpers import assert_promtool_passes, render_tree

from observability.alerting.rules import rule_groups
from observability.config import parse_config
from observability.lint.runner import run_lint
from observability.render.kps_values import ksm_label_allowlist
from observability.runtimes.kserve import (
    CONTROLLER_MONITOR,
    CONTROLLER_MONITOR_DEFAULT,
    PER_SERVICE_MONITOR,
    PER_SERVICE_MONITOR_DEFAULT,
)

MODES = [
    ("llm-inference-service", False),
    ("llm-inference-service", True),
    ("inference-service", False),
]


@pytest.mark.parametrize(("api", "controller"), MODES)
def test_renders_and_lints_clean(repo_root: Path, tmp_path: Path, api: str, controller: bool):
    tree, cfg = render_tree(
        repo_root, tmp_path, kserve_data(repo_root, api=api, controller_monitors=controller)
    )
    report = run_lint(tree, cfg)
    errors = [f for f in report.findings if f.severity == "error"]
    assert not errors, errors
    kind = "LLMInferenceService" if api == "llm-inference-service" else "InferenceService"
    files = list((tree / "deploy" / "kserve" / KSERVE_KEY).glob("*.yaml"))
    objs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]
    (obj,) = [o for o in objs if o.get("kind") == kind]
    assert ":" in (yaml.safe_dump(obj).split("image: ", 1)[1].split("\n", 1)[0])  # pinned
    own_monitor = tree / "servicemonitors" / "kserve-vllm.yaml"
    rules = yaml.safe_load((tree / "alerts" / "vllm-runtimes.yaml").read_text(encoding="utf-8"))
    text = yaml.safe_dump(rules)
    # Never both: KServe's monitors and the mapping, or the bundle's monitor alone.
    assert own_monitor.exists() is (not controller)
    assert ("kserve_vllm:" in text) is controller
    up = next(r for g in rule_groups(cfg) for r in g["rules"] if r.get("alert") == "VLLMTargetDown")
    if controller:
        assert f"{KSERVE_NS}/{CONTROLLER_MONITOR_DEFAULT}" in up["expr"]
    else:
        mon = yaml.safe_load(own_monitor.read_text(encoding="utf-8"))
        assert mon["spec"]["namespaceSelector"]["matchNames"] == [KSERVE_NS]
        assert "monitoring/kserve-vllm" in up["expr"]


def test_controller_monitors_only_for_llm_inference_service(repo_root: Path) -> None:
    data = kserve_data(repo_root, api="inference-service", controller_monitors=True)
    with pytest.raises(Exception, match="controller_monitors applies to api"):
        parse_config(data)


def _labels(job: str, pod: str) -> str:
    return (
        f'namespace="{KSERVE_NS}", pod="{pod}", job="{KSERVE_NS}/{job}", '
        f'model_name="{KSERVE_MODEL}", engine="0", llm_isvc_name="{KSERVE_KEY}", '
        'llm_isvc_role="both", llm_isvc_component="workload"'
    )


def test_kserve_names_reach_the_unchanged_alerts_counted_once(
    repo_root: Path, tmp_path: Path
) -> None:
    data = kserve_data(repo_root, api="llm-inference-service", controller_monitors=True)
    pod = f"{KSERVE_KEY}-kserve-6f7d9c-abcde"
    renamed, default = _labels(CONTROLLER_MONITOR, pod), _labels(CONTROLLER_MONITOR_DEFAULT, pod)
    legacy = _labels(CONTROLLER_MONITOR, f"{pod}-old")
    tokens = f'sum(rate(vllm:prompt_tokens_total{{namespace="{KSERVE_NS}"}}[1m]))'
    assert_promtool_passes(
        tmp_path,
        parse_config(data),
        [
            {
                "name": "600 waiting under kserve_vllm: pages VLLMQueueBacklog like vLLM",
                "interval": "15s",
                "input_series": [
                    {"series": f"kserve_vllm:num_requests_waiting{{{renamed}}}", "values": "600x40"}
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "6m",
                        "alertname": "VLLMQueueBacklog",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "namespace": KSERVE_NS,
                                    "model_name": KSERVE_MODEL,
                                    "reason": "waiting_requests",
                                    "severity": "warning",
                                }
                            }
                        ],
                    }
                ],
            },
            {
                # One pod under both monitors (4/s each name) plus a pod only the renamed
                # monitor scrapes (2/s, a KServe build before #1299): 6/s, not 10.
                "name": "a pod under both names counts once",
                "interval": "15s",
                "input_series": [
                    {
                        "series": f"kserve_vllm:prompt_tokens_total{{{renamed}}}",
                        "values": "0+60x40",
                    },
                    {"series": f"vllm:prompt_tokens_total{{{default}}}", "values": "0+60x40"},
                    {"series": f"up{{{default}}}", "values": "1x40"},
                    {"series": f"kserve_vllm:prompt_tokens_total{{{legacy}}}", "values": "0+30x40"},
                ],
                "alert_rule_test": [],
                "promql_expr_test": [
                    {
                        "expr": tokens,
                        "eval_time": "5m",
                        "exp_samples": [{"labels": "{}", "value": 6}],
                    }
                ],
            },
        ],
        {"VLLMQueueBacklog": "600"},
    )


@pytest.mark.parametrize(
    ("api", "label"),
    [
        ("llm-inference-service", "label_app_kubernetes_io_name"),
        ("inference-service", "label_serving_kserve_io_inferenceservice"),
    ],
)
def test_lifecycle_rules_find_kserve_pods_by_kserves_own_label(
    repo_root: Path, tmp_path: Path, api: str, label: str
) -> None:
    """KServe sets no app.kubernetes.io/instance: the lifecycle recordings name a KServe
    model's pods by the label KServe puts on them, and a pod with only the instance label
    of the same key (not KServe's) is not the model's."""
    data = kserve_data(repo_root, api=api, controller_monitors=False)
    ksm = f'job="kube-state-metrics", namespace="{KSERVE_NS}"'
    assert_promtool_passes(
        tmp_path,
        parse_config(data),
        [
            {
                "name": f"a pod labelled {label} is a pod of the KServe model",
                "interval": "15s",
                "input_series": [
                    {
                        "series": f'kube_pod_labels{{{ksm}, pod="a", {label}="{KSERVE_KEY}"}}',
                        "values": "1x10",
                    },
                    {
                        "series": f'kube_pod_labels{{{ksm}, pod="b", label_app_kubernetes_io_instance="{KSERVE_KEY}"}}',
                        "values": "1x10",
                    },
                ],
                "alert_rule_test": [],
                "promql_expr_test": [
                    {
                        "expr": f'namespace_pod:vllm_model:info{{namespace="{KSERVE_NS}"}}',
                        "eval_time": "1m",
                        "exp_samples": [
                            {
                                "labels": 'namespace_pod:vllm_model:info{namespace="'
                                + KSERVE_NS
                                + f'", pod="a", model_name="{KSERVE_MODEL}"}}',
                                "value": 1,
                            }
                        ],
                    }
                ],
            }
        ],
    )
    cfg = parse_config(data)
    pods = ksm_label_allowlist(cfg)[0]
    assert pods.startswith("pods=[") and "serving.kserve.io/inferenceservice" in pods


def test_per_service_monitors_of_newer_odh_builds_count_once_and_page(
    repo_root: Path, tmp_path: Path
) -> None:
    """Newer ODH builds (opendatahub-io/kserve 31001035, after odh-v3.5) name the engine
    monitors per service, `<name>-kserve-llmisvc-engine[-default]`: a pod under both still
    counts once, and a target of either is one VLLMTargetDown watches."""
    data = kserve_data(repo_root, api="llm-inference-service", controller_monitors=True)
    pod = f"{KSERVE_KEY}-kserve-6f7d9c-abcde"
    renamed = _labels(f"{KSERVE_KEY}{PER_SERVICE_MONITOR}", pod)
    default = _labels(f"{KSERVE_KEY}{PER_SERVICE_MONITOR_DEFAULT}", pod)
    down = f'namespace="{KSERVE_NS}", pod="{pod}-down", job="{KSERVE_NS}/{KSERVE_KEY}{PER_SERVICE_MONITOR}"'
    tokens = f'sum(rate(vllm:prompt_tokens_total{{namespace="{KSERVE_NS}"}}[1m]))'
    assert_promtool_passes(
        tmp_path,
        parse_config(data),
        [
            {
                "name": "a pod under both per-service monitors counts once",
                "interval": "15s",
                "input_series": [
                    {
                        "series": f"kserve_vllm:prompt_tokens_total{{{renamed}}}",
                        "values": "0+60x40",
                    },
                    {"series": f"vllm:prompt_tokens_total{{{default}}}", "values": "0+60x40"},
                    {"series": f"up{{{default}}}", "values": "1x40"},
                    {"series": f"up{{{down}}}", "values": "0x40"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "VLLMTargetDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "namespace": KSERVE_NS,
                                    "pod": f"{pod}-down",
                                    "job": f"{KSERVE_NS}/{KSERVE_KEY}{PER_SERVICE_MONITOR}",
                                }
                            }
                        ],
                    }
                ],
                "promql_expr_test": [
                    {
                        "expr": tokens,
                        "eval_time": "5m",
                        "exp_samples": [{"labels": "{}", "value": 4}],
                    }
                ],
            }
        ],
    )
