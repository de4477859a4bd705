"""Single pane, the inference router row (gateway.inference_pool.enabled): what the pool's
endpoint picker sees, beside what the engines behind it report.

Every query reads the normalised `epp:*` recordings (alerting/router.py), so the row works
for every EPP naming generation. EPP series carry the EPP's own namespace and pod (not the
model's): only the cluster and `$model_name` (the request's model, as clients name it)
filter them. Router TTFT sits next to the engines' TTFT on one panel: the gap is time spent
in the router (flow-control queueing, scheduling).
"""

from __future__ import annotations

from observability.config import BundleConfig
from observability.dashboards.panels import PanelSpec, Query, thresholds_high, thresholds_low
from observability.dashboards.queries import RATE, Queries
from observability.metrics.names import VLLM
from observability.metrics.router import POOL_LABEL, family

__all__ = ["ROW", "router"]

ROW = "Inference router (InferencePool)"


def _r(key: str) -> str:
    return family(key).record


def router(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    if not cfg.pool.enabled:
        return []
    th = cfg.pool.thresholds
    req = q._matchers("model_name")  # request families carry the client's model name
    pool = q._matchers()
    by = lambda *labels: ", ".join(q._by(labels))  # noqa: E731

    def sel(key: str, matchers: str, suffix: str = "") -> str:
        name = _r(key) + suffix
        return f"{name}{{{matchers}}}" if matchers else name

    def rate(key: str, *labels: str) -> str:
        return f"sum by ({by(*labels)}) (rate({sel(key, req)}[{RATE}]))"

    router_ttft = (
        f"histogram_quantile(0.99, sum by ({by('le', 'model_name')}) "
        f"(rate({sel('request_ttft_seconds', req, '_bucket')}[{RATE}])))"
    )
    engine_ttft = q.quantile(0.99, VLLM.TTFT, "model_name")
    panels = [
        PanelSpec(
            "timeseries",
            "Router requests by objective and target model",
            "Requests per second the endpoint picker routed, by the model clients asked for "
            "(objective) and the model it sent them to (after InferenceModelRewrite)",
            "reqps",
            (
                Query(
                    rate("request_total", "model_name", "target_model_name"),
                    "{{model_name}} -> {{target_model_name}}",
                ),
            ),
            width=8,
        ),
        PanelSpec(
            "timeseries",
            "Router errors by code",
            "Failed requests per second at the router by error_code (ServiceUnavailable: no "
            "endpoint; ResourceExhausted: flow control rejected; ModelServerError: the engine "
            "failed)",
            "reqps",
            (
                Query(
                    rate("request_error_total", "model_name", "error_code"),
                    "{{model_name}} {{error_code}}",
                ),
            ),
            width=8,
        ),
        PanelSpec(
            "timeseries",
            "TTFT p99: router vs engine",
            "Time to first token at the router (queueing in the router included) next to the "
            "engines' own; a widening gap is time spent in the router; line at the router "
            "alert threshold",
            "s",
            (
                Query(router_ttft, "router {{model_name}}"),
                Query(engine_ttft, "engine {{model_name}}"),
            ),
            width=8,
            thresholds=thresholds_high(th.ttft_p99_seconds),
        ),
        PanelSpec(
            "timeseries",
            "Ready endpoints per pool",
            "Model servers the endpoint picker counts ready in each InferencePool; 0 means "
            "every request to the pool fails",
            "none",
            (
                Query(
                    f"max by ({by(POOL_LABEL)}) ({sel('ready_endpoints', pool)})",
                    "{{inference_pool}}",
                ),
            ),
            width=6,
            min=0,
            thresholds=thresholds_low(1),
        ),
        PanelSpec(
            "timeseries",
            "Pool KV-cache utilization (average)",
            "The endpoint picker's average KV-cache utilization over the pool's endpoints, "
            "next to the engines' mean over the models it routes to: the two agree when "
            "the router reads its endpoints",
            "percentunit",
            (
                Query(
                    f"max by ({by(POOL_LABEL)}) ({sel('average_kv_cache_utilization', pool)})",
                    "router {{inference_pool}}",
                ),
                Query(
                    q.vllm("model_name").gauge(VLLM.KV_CACHE_USAGE, "avg"), "engines {{model_name}}"
                ),
            ),
            width=6,
            min=0,
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "Pool queue (average per endpoint) and flow control",
            "The endpoint picker's average engine queue per endpoint and the requests it "
            "holds in its own flow-control queue (present with the flowControl feature "
            "gate); line at the backlog alert threshold",
            "none",
            (
                Query(
                    f"max by ({by(POOL_LABEL)}) ({sel('average_queue_size', pool)})",
                    "avg engine queue {{inference_pool}}",
                ),
                Query(
                    f"sum by ({by(POOL_LABEL)}) ({sel('flow_control_queue_size', pool)})",
                    "flow control {{inference_pool}}",
                ),
            ),
            width=6,
            min=0,
            thresholds=thresholds_high(th.flow_control_queue),
        ),
    ]
    if cfg.pool.disaggregation:
        panels.append(
            PanelSpec(
                "timeseries",
                "Disaggregation decisions",
                "Routing decisions per second by type: prefill-decode splits a request "
                "between prefill and decode workers, decode-only keeps it on one",
                "reqps",
                (
                    Query(
                        rate("disagg_decision_total", "model_name", "decision_type"),
                        "{{model_name}} {{decision_type}}",
                    ),
                ),
                width=6,
                stack=True,
            )
        )
    else:
        panels.append(
            PanelSpec(
                "timeseries",
                "Scheduling attempts",
                "The endpoint picker's scheduling attempts per second by outcome",
                "reqps",
                (
                    Query(
                        f"sum by ({by('status')}) "
                        f"(rate({sel('scheduler_attempts_total', pool)}[{RATE}]))",
                        "{{status}}",
                    ),
                ),
                width=6,
            )
        )
    return panels
