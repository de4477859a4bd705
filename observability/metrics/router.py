"""The inference router's families (Gateway API Inference Extension endpoint picker, EPP,
in llm-d/llm-d-router), every naming generation still in use, and the one normalised set
the bundle's rules and panels read.

The EPP renamed its metrics three times (scripts/derive_router_catalog.py cites each):
GIE <= 1.0 `inference_model_*`; GIE >= 1.1 and llm-d-router <= 0.8 `inference_objective_*`
(pool gauges `inference_pool_*`, scheduler `inference_extension_*`, disaggregation and
data layer `llm_d_inference_scheduler_*`); llm-d-router main in June 2026
`llm_d_router_epp_*`; llm-d-router >= 0.9 `llm_d_epp_*`, still writing every deprecated
twin beside it (dual emission). `ROUTER_FAMILIES` maps them onto `epp:<key>`: the sources
of a family are listed newest first, and a target contributes only its newest name, so a
router that emits two generations at once is counted once (alerting/router.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from observability.metrics.catalog import Catalog, runtime_catalog

__all__ = [
    "CATALOG_FILES",
    "EPP_JOB",
    "NIXL",
    "NIXL_FAILED",
    "NIXL_XFER",
    "POOL_LABEL",
    "RECORD_PREFIX",
    "ROUTER_FAMILIES",
    "ROUTER_VERSION",
    "TTFT_EDGES",
    "RouterFamily",
    "catalogs",
    "family",
]

ROUTER_VERSION = "0.10.0"  # llm-d/llm-d-router tag read (docs/router.md)
CATALOG_FILES = (
    "llm-d-router-0.10.0.json",
    "llm-d-router-main-2026-06.json",
    "gateway-api-inference-extension-1.0.0.json",
    "nixl-vllm-0.33.0.json",
)
RECORD_PREFIX = "epp:"
# Target labels the EPP's ServiceMonitor sets on every series (render/router.py): one job
# whatever release installed the EPP, and the pool's name, so rules group by pool.
EPP_JOB = "inference-pool-epp"
POOL_LABEL = "inference_pool"
# llm_d_epp_request_ttft_seconds' buckets (llm_d_router_metrics.go): a TTFT threshold
# must sit on one so the alert's p99 is exact at it.
TTFT_EDGES = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0,
              6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0)  # fmt: skip


@dataclass(frozen=True)
class RouterFamily:
    key: str  # the normalised family: recorded as epp:<key>
    kind: str  # counter | gauge | histogram
    sources: tuple[str, ...]  # exposed names, newest generation first

    @property
    def record(self) -> str:
        return RECORD_PREFIX + self.key


def _gens(new: str, *legacy: str) -> tuple[str, ...]:
    """llm_d_epp_<new>, llm_d_router_epp_<new or its June name>, then older names."""
    return (f"llm_d_epp_{new}", *legacy)


ROUTER_FAMILIES: tuple[RouterFamily, ...] = (
    RouterFamily("request_total", "counter", _gens("request_total",
        "llm_d_router_epp_request_total", "inference_objective_request_total",
        "inference_model_request_total")),
    RouterFamily("request_error_total", "counter", _gens("request_error_total",
        "llm_d_router_epp_request_error_total", "inference_objective_request_error_total",
        "inference_model_request_error_total")),
    RouterFamily("request_duration_seconds", "histogram", _gens("request_duration_seconds",
        "llm_d_router_epp_request_duration_seconds",
        "inference_objective_request_duration_seconds",
        "inference_model_request_duration_seconds")),
    RouterFamily("request_ttft_seconds", "histogram", _gens("request_ttft_seconds")),
    RouterFamily("request_ntpot_seconds", "histogram", _gens("request_ntpot_seconds",
        "llm_d_router_epp_normalized_time_per_output_token_seconds",
        "inference_objective_normalized_time_per_output_token_seconds",
        "inference_model_normalized_time_per_output_token_seconds")),
    RouterFamily("request_running", "gauge", _gens("request_running",
        "llm_d_router_epp_running_requests", "inference_objective_running_requests",
        "inference_model_running_requests")),
    RouterFamily("average_kv_cache_utilization", "gauge", _gens("average_kv_cache_utilization",
        "llm_d_router_epp_average_kv_cache_utilization",
        "inference_pool_average_kv_cache_utilization")),
    RouterFamily("average_queue_size", "gauge", _gens("average_queue_size",
        "llm_d_router_epp_average_queue_size", "inference_pool_average_queue_size")),
    RouterFamily("ready_endpoints", "gauge", _gens("ready_endpoints",
        "llm_d_router_epp_ready_endpoints", "inference_pool_ready_pods")),
    RouterFamily("scheduler_attempts_total", "counter", _gens("scheduler_attempts_total",
        "llm_d_router_epp_scheduler_attempts_total",
        "inference_extension_scheduler_attempts_total")),
    RouterFamily("flow_control_queue_size", "gauge", _gens("flow_control_queue_size",
        "llm_d_router_epp_flow_control_queue_size",
        "inference_extension_flow_control_queue_size")),
    RouterFamily("flow_control_pool_saturation", "gauge", _gens("flow_control_pool_saturation",
        "llm_d_router_epp_flow_control_pool_saturation",
        "inference_extension_flow_control_pool_saturation")),
    RouterFamily("datalayer_poll_errors_total", "counter", _gens("datalayer_poll_errors_total",
        "llm_d_inference_scheduler_datalayer_poll_errors_total")),
    # pd_decision_total is the deprecated pd-profile-handler's (P/D only); a router running
    # it instead of the disaggregation handler still shows its decisions.
    RouterFamily("disagg_decision_total", "counter", _gens("disagg_decision_total",
        "llm_d_inference_scheduler_disagg_decision_total", "llm_d_epp_pd_decision_total",
        "llm_d_inference_scheduler_pd_decision_total")),
)  # fmt: skip

# vLLM's NIXL connector (P/D KV transfer), per engine: registered only with NixlConnector.
NIXL_FAILED = "vllm:nixl_num_failed_transfers_total"
NIXL_XFER = "vllm:nixl_xfer_time_seconds"
NIXL = (NIXL_FAILED, NIXL_XFER)


def family(key: str) -> RouterFamily:
    for f in ROUTER_FAMILIES:
        if f.key == key:
            return f
    raise KeyError(key)


@cache
def catalogs() -> tuple[Catalog, ...]:
    return tuple(runtime_catalog(name) for name in CATALOG_FILES)
