"""promtool unit tests of the runtime and KEDA rules on the one-model-per-runtime bundle:
the Ray mapping feeds an unchanged vLLM alert, Ray Serve's proxy counters feed
VLLMHighErrorRate on both Ray naming generations, the autoscaler-at-max and KEDA-errors
alerts fire (and stay quiet one step short), AIBrixComponentDown fires on a down or absent
gateway."""

from __future__ import annotations

from pathlib import Path

from runtimes_helpers import RAY_KEY, VLLM_KEY, assert_promtool_passes, keda_data

from observability.config import parse_config

HPA = f"keda-hpa-vllm-{VLLM_KEY}"
VLLM_MODEL = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
RAY_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
RAY_POD = f"vllm-{RAY_KEY}-raycluster-abcde-gpu-group-worker-fghij"


def _promtool(
    tmp: Path, tests: list[dict], repo_root: Path, values: dict[str, str] | None = None
) -> str:
    return assert_promtool_passes(tmp, parse_config(keda_data(repo_root)), tests, values)


def test_autoscaler_at_max_and_keda_errors(repo_root: Path, tmp_path: Path) -> None:
    sel = f'{{namespace="vllm", horizontalpodautoscaler="{HPA}"}}'
    waiting = f'vllm:num_requests_waiting{{namespace="vllm", model_name="{VLLM_MODEL}", pod="p"}}'
    errors = (
        'keda_scaler_detail_errors_total{namespace="vllm", scaledObject="vllm-'
        f'{VLLM_KEY}", scaler="prometheusScaler", metric="s0-prometheus", triggerIndex="0", '
        'type="scaledobject"}'
    )
    labels = {"namespace": "vllm", "model_name": VLLM_MODEL, "severity": "warning"}
    _promtool(
        tmp_path,
        [
            {
                "name": "at max with 40 waiting (room 4 x 8 = 32) pages after 5m; 32 does not",
                "interval": "15s",
                "input_series": [
                    {"series": f"kube_horizontalpodautoscaler_status_current_replicas{sel}", "values": "4x60"},
                    {"series": f"kube_horizontalpodautoscaler_spec_max_replicas{sel}", "values": "4x60"},
                    {"series": waiting, "values": "32x20 40x40"},
                    {"series": errors, "values": "0x60"},
                ],
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "VLLMAutoscalerAtMax", "exp_alerts": []},
                    {"eval_time": "9m", "alertname": "VLLMAutoscalerAtMax", "exp_alerts": []},
                    {
                        "eval_time": "10m30s",
                        "alertname": "VLLMAutoscalerAtMax",
                        "exp_alerts": [{"exp_labels": labels}],
                    },
                    {"eval_time": "10m30s", "alertname": "KEDAScalerErrors", "exp_alerts": []},
                ],
            },
            {
                "name": "below max the backlog is the HPA's job, not an alert",
                "interval": "15s",
                "input_series": [
                    {"series": f"kube_horizontalpodautoscaler_status_current_replicas{sel}", "values": "3x60"},
                    {"series": f"kube_horizontalpodautoscaler_spec_max_replicas{sel}", "values": "4x60"},
                    {"series": waiting, "values": "400x60"},
                ],
                "alert_rule_test": [
                    {"eval_time": "14m", "alertname": "VLLMAutoscalerAtMax", "exp_alerts": []}
                ],
            },
            {
                "name": "scaler errors for 5m fire KEDAScalerErrors",
                "interval": "15s",
                "input_series": [{"series": errors, "values": "0+1x60"}],
                "alert_rule_test": [
                    {
                        "eval_time": "6m",
                        "alertname": "KEDAScalerErrors",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "namespace": "vllm",  # kept: routing and the runbook link
                                    "scaledObject": f"vllm-{VLLM_KEY}",
                                    "severity": "warning",
                                }
                            }
                        ],
                    }
                ],
            },
        ],
        repo_root,
        {"KEDAScalerErrors": "66.67m"},  # rate of +1 per 15 s scrape
    )  # fmt: skip


def test_ray_names_reach_the_unchanged_vllm_alerts(repo_root: Path, tmp_path: Path) -> None:
    """Only Ray's exported name is fed in: VLLMQueueBacklog reads it through the mapping."""
    ray_tags = 'Component="core_worker", WorkerId="w1", engine="0"'
    series = (
        f'ray_vllm:num_requests_waiting{{namespace="vllm-llama", pod="{RAY_POD}", '
        f'job="monitoring/ray-vllm", model_name="{RAY_MODEL}", {ray_tags}}}'
    )
    _promtool(
        tmp_path,
        [
            {
                "name": "600 waiting on a Ray worker pages VLLMQueueBacklog like on vLLM",
                "interval": "15s",
                "input_series": [{"series": series, "values": "600x40"}],
                "alert_rule_test": [
                    {
                        "eval_time": "6m",
                        "alertname": "VLLMQueueBacklog",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "namespace": "vllm-llama",
                                    "model_name": RAY_MODEL,
                                    "reason": "waiting_requests",
                                    "severity": "warning",
                                }
                            }
                        ],
                    }
                ],
            }
        ],
        repo_root,
        {"VLLMQueueBacklog": "600"},
    )


def test_current_ray_names_reach_the_alerts_and_nothing_counts_twice(
    repo_root: Path, tmp_path: Path
) -> None:
    """Ray >= 2.50 with vLLM >= 0.11 (`ray_vllm_<name>`, ReplicaId) pages like vLLM. During
    an upgrade a 2.49 pod (`ray_vllm:`) and a 2.58 pod whose counter also comes out as
    #59072's bare gauge (same labels) run side by side: each pod counts once."""
    base = f'namespace="vllm-llama", job="monitoring/ray-vllm", model_name="{RAY_MODEL}"'
    new_pod = f'{base}, pod="{RAY_POD}", ReplicaId="r1", WorkerId="w2", engine="0"'
    old_pod = f'{base}, pod="{RAY_POD}-old", WorkerId="w1", engine="0"'
    tokens = 'sum(rate(vllm:prompt_tokens_total{namespace="vllm-llama"}[1m]))'
    _promtool(
        tmp_path,
        [
            {
                "name": "600 waiting under sanitized Ray names pages VLLMQueueBacklog",
                "interval": "15s",
                "input_series": [
                    {"series": f"ray_vllm_num_requests_waiting{{{new_pod}}}", "values": "600x40"}
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "6m",
                        "alertname": "VLLMQueueBacklog",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "namespace": "vllm-llama",
                                    "model_name": RAY_MODEL,
                                    "reason": "waiting_requests",
                                    "severity": "warning",
                                }
                            }
                        ],
                    }
                ],
            },
            {
                "name": "old pod 4/s + new pod 2/s (counter and its bare gauge) is 6/s, not 8",
                "interval": "15s",
                "input_series": [
                    {"series": f"ray_vllm:prompt_tokens_total{{{old_pod}}}", "values": "0+60x40"},
                    {"series": f"ray_vllm_prompt_tokens_total{{{new_pod}}}", "values": "0+30x40"},
                    {"series": f"ray_vllm_prompt_tokens{{{new_pod}}}", "values": "0+30x40"},
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
            {
                "name": "a counter only as #59072's bare gauge still counts",
                "interval": "15s",
                "input_series": [
                    {"series": f"ray_vllm_prompt_tokens{{{new_pod}}}", "values": "0+30x40"},
                ],
                "alert_rule_test": [],
                "promql_expr_test": [
                    {
                        "expr": tokens,
                        "eval_time": "5m",
                        "exp_samples": [{"labels": "{}", "value": 2}],
                    }
                ],
            },
        ],
        repo_root,
        {"VLLMQueueBacklog": "600"},
    )


RAY_HEAD = f"vllm-{RAY_KEY}-raycluster-abcde-head-klmno"
ERROR_RATIO = "namespace_model:vllm_request_errors:ratio_rate5m"


def _serve(name: str, code: str, **extra: str) -> str:
    """One Serve proxy counter series on the head pod (Ray 2.49.2/2.58.0 proxy.py tags),
    for the application our serveConfigV2 names after the served model."""
    status = "error_code" if "error" in name else "status_code"
    labels = {
        "namespace": "vllm-llama",
        "pod": RAY_HEAD,
        "job": "monitoring/ray-vllm",
        "Component": "core_worker",
        "WorkerId": "w0",
        "route": "/",
        "method": "POST",
        "application": RAY_MODEL,
        status: code,
        **extra,
    }
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _error_storm(names: dict[str, str], per_scrape_5xx: int, per_scrape_4xx: int = 0) -> list:
    """100 responses per 15 s scrape, `per_scrape_5xx` of them 500 and `per_scrape_4xx`
    400, under `names` (exposed name -> how it is exposed: `_total` counters, 2.49's
    deprecated gauge twins beside them, or #59072's bare gauges alone)."""
    ok = 100 - per_scrape_5xx - per_scrape_4xx
    out = []
    for name in names:
        requests = name.replace("error_requests", "requests")
        out += [
            {"series": _serve(requests, "200"), "values": f"0+{ok}x40"},
            {"series": _serve(requests, "500"), "values": f"0+{per_scrape_5xx}x40"},
            {"series": _serve(requests, "400"), "values": f"0+{per_scrape_4xx}x40"},
            {"series": _serve(name, "500"), "values": f"0+{per_scrape_5xx}x40"},
            {"series": _serve(name, "400"), "values": f"0+{per_scrape_4xx}x40"},
        ]
    return out


def _warning(at: str) -> dict:
    labels = {"namespace": "vllm-llama", "model_name": RAY_MODEL, "severity": "warning"}
    return {
        "eval_time": at,
        "alertname": "VLLMHighErrorRate",
        "exp_alerts": [{"exp_labels": labels}],
    }


def _quiet(at: str) -> dict:
    return {"eval_time": at, "alertname": "VLLMHighErrorRate", "exp_alerts": []}


def test_ray_serve_proxy_errors_page_vllm_high_error_rate_on_both_generations(
    repo_root: Path, tmp_path: Path
) -> None:
    """vLLM's HTTP metrics do not exist behind Serve and vLLM 0.10.1 records no error
    reason: the proxy's 5xx share per application (= the served name) pages the model.
    3% 5xx is over the 1% warning (under the 5% critical), 0.5% is under it."""
    legacy = {
        "ray_serve_num_http_error_requests_total": "",
        "ray_serve_num_http_error_requests": "2.49's deprecated gauge twin",
    }
    engine = (
        'ray_vllm:request_success_total{namespace="vllm-llama", pod="' + RAY_POD + '", '
        f'model_name="{RAY_MODEL}", finished_reason="stop", engine="0"}}'
    )
    _promtool(
        tmp_path,
        [
            {
                "name": "Ray 2.49.2 (counters and gauge twins): 3% 5xx pages after 5m, not before",
                "interval": "15s",
                "input_series": [
                    *_error_storm(legacy, 3),
                    # vLLM 0.10.1's engine sees no error: its source says 0
                    {"series": engine, "values": "0+97x40"},
                ],
                "alert_rule_test": [_quiet("5m"), _warning("5m15s"), _warning("9m")],
                "promql_expr_test": [
                    {
                        "expr": f'{ERROR_RATIO}{{model_name="{RAY_MODEL}"}}',
                        "eval_time": "9m",
                        "exp_samples": [
                            {"labels": f'{ERROR_RATIO}{{namespace="vllm-llama", model_name="{RAY_MODEL}"}}', "value": 0.03}
                        ],
                    }
                ],
            },
            {
                "name": "Ray 2.58.0 with #59072's bare gauges alone: 3% 5xx pages too",
                "interval": "15s",
                "input_series": _error_storm({"ray_serve_num_http_error_requests": ""}, 3),
                "alert_rule_test": [_quiet("5m"), _warning("5m15s")],
            },
            {
                "name": "0.5% 5xx stays under the 1% warning (half a 5xx per scrape)",
                "interval": "15s",
                "input_series": [
                    {"series": _serve("ray_serve_num_http_requests_total", "200"), "values": "0+199x40"},
                    {"series": _serve("ray_serve_num_http_requests_total", "500"), "values": "0+1x40"},
                    {"series": _serve("ray_serve_num_http_error_requests_total", "500"), "values": "0+1x40"},
                ],
                "alert_rule_test": [_quiet("9m")],
            },
            {
                "name": "50% 4xx is the clients' error, not the model's: quiet",
                "interval": "15s",
                "input_series": _error_storm({"ray_serve_num_http_error_requests_total": ""}, 0, 50),
                "alert_rule_test": [_quiet("9m")],
            },
            {
                "name": "a quiet model records no ratio; the proxy's own health checks "
                "(application empty) failing do not count",
                "interval": "15s",
                "input_series": [
                    {"series": _serve("ray_serve_num_http_requests_total", "200"), "values": "5x40"},
                    {"series": _serve("ray_serve_num_http_requests_total", "503", application=""), "values": "0+10x40"},
                    {"series": _serve("ray_serve_num_http_error_requests_total", "503", application=""), "values": "0+10x40"},
                ],
                "alert_rule_test": [_quiet("9m")],
                "promql_expr_test": [{"expr": ERROR_RATIO, "eval_time": "9m", "exp_samples": []}],
            },
        ],
        repo_root,
        {"VLLMHighErrorRate": "3%"},
    )  # fmt: skip


def test_aibrix_component_down_on_down_or_absent(repo_root: Path, tmp_path: Path) -> None:
    gw = 'up{job="aibrix-gateway-plugins", namespace="aibrix-system", pod="gw"}'
    ctl = 'up{job="aibrix-controller-manager-metrics-service", namespace="aibrix-system", pod="c"}'
    _promtool(
        tmp_path,
        [
            {
                "name": "gateway down 5m fires; controller up stays quiet",
                "interval": "15s",
                "input_series": [
                    {"series": gw, "values": "0x40"},
                    {"series": ctl, "values": "1x40"},
                ],
                "alert_rule_test": [
                    {"eval_time": "4m", "alertname": "AIBrixComponentDown", "exp_alerts": []},
                    {
                        "eval_time": "6m",
                        "alertname": "AIBrixComponentDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "component": "gateway-plugins",
                                    "job": "aibrix-gateway-plugins",
                                    "namespace": "aibrix-system",
                                    "pod": "gw",
                                    "reason": "target_down",
                                    "severity": "critical",
                                }
                            }
                        ],
                    },
                ],
            },
            {
                "name": "controller never scraped (absent) fires too",
                "interval": "15s",
                "input_series": [{"series": gw, "values": "1x40"}],
                "alert_rule_test": [
                    {
                        "eval_time": "6m",
                        "alertname": "AIBrixComponentDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "component": "controller-manager",
                                    "job": "aibrix-controller-manager-metrics-service",
                                    "reason": "absent",
                                    "severity": "critical",
                                }
                            }
                        ],
                    }
                ],
            },
        ],
        repo_root,
    )
