"""Write the inference router's catalogs (observability/metrics/data/llm-d-router-*.json,
gateway-api-inference-extension-*.json, nixl-vllm-*.json) from the families read by hand
in the pinned upstream sources below.

    python scripts/derive_router_catalog.py            # rewrite the JSON files
    python scripts/derive_router_catalog.py --check    # exit 1 when they differ

Each generation is the set of names one build of the endpoint picker (EPP) exposes on its
/metrics (port 9090), with the labels of its Go declaration (`prometheus.New*Vec`):

- llm-d/llm-d-router v0.10.0 (tag commit 71f4f0999f95b96c49a9d0c4afbd18dfdb943c26,
  2026-08-17): `pkg/epp/metrics/llm_d_router_metrics.go` (canonical `llm_d_epp_*`),
  `pkg/epp/metrics/metrics.go` (deprecated twins under `inference_objective_*`,
  `inference_pool_*`, `inference_extension_*`, `llm_d_inference_scheduler_*`, written by
  the same recorders: dual emission), `pkg/epp/metrics/collectors/inference_pool.go`
  (`inference_pool_per_pod_queue_size`), `pkg/epp/framework/plugins/scheduling/
  profilehandler/disagg/metrics.go` (disaggregation decisions); `docs/metrics.md` at the
  same tag describes them.
- llm-d/llm-d-router main between PR #1425 (commit 2072f90aa, 2026-06-01) and PR #1661
  (commit 9ccacb734, 2026-06-16): the canonical names under `llm_d_router_epp_*` (the
  `:main` image of those weeks; no release tag carries them). Its names follow the
  deprecated ones (`running_requests`, `normalized_time_per_output_token_seconds`).
- kubernetes-sigs/gateway-api-inference-extension v1.0.0: `pkg/epp/metrics/metrics.go`
  (`inference_model_*`, `inference_pool_*`, `inference_extension_*`); v1.1.0 renamed
  `inference_model_*` to `inference_objective_*` (the twins above).
- vLLM 0.33.0 NIXL connector (`vllm/distributed/kv_transfer/kv_connector/v1/nixl/stats.py`,
  vendored under tests/fixtures/vllm-sources/): registered only with the NixlConnector,
  built at run time, so scripts/extract_vllm_catalog.py lists it as unread.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "observability" / "metrics" / "data"

ROUTER_SRC = "llm-d/llm-d-router v0.10.0 (commit 71f4f0999f95b96c49a9d0c4afbd18dfdb943c26)"
MAIN_SRC = (
    "llm-d/llm-d-router main, commit 2072f90aa (PR #1425, 2026-06-01) to 9ccacb734 (PR #1661)"
)
GIE_SRC = "kubernetes-sigs/gateway-api-inference-extension v1.0.0"
NIXL_SRC = "vllm 0.33.0 wheel"

GENERAL = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10,
           15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600]  # fmt: skip
TTFT = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15,
        20, 30, 45, 60, 120]  # fmt: skip
NTPOT = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]

M = ["model_name", "target_model_name"]
MFP = [*M, "fairness_id", "priority"]
POOL = ["name"]
FC_Q = ["fairness_id", "priority", "inference_pool", *M]


def fam(name, typ, labels, help_, source, buckets=None):
    return {
        "name": name,
        "type": typ,
        "help": help_,
        "labels": list(labels),
        "buckets": buckets,
        "source": source,
    }


def router_0_10_0() -> dict:
    c = f"{ROUTER_SRC}: pkg/epp/metrics/llm_d_router_metrics.go"
    d = f"{ROUTER_SRC}: pkg/epp/metrics/metrics.go (deprecated twin, dual emission)"
    dis = f"{ROUTER_SRC}: pkg/epp/framework/plugins/scheduling/profilehandler/disagg/metrics.go"
    fams = [
        fam("llm_d_epp_request_total", "counter", MFP, "Requests per model and target model", c),
        fam("llm_d_epp_request_error_total", "counter", [*MFP, "error_code"], "Errored requests", c),
        fam("llm_d_epp_request_duration_seconds", "histogram", MFP, "End-to-end latency", c, GENERAL),
        fam("llm_d_epp_request_ttft_seconds", "histogram", [*MFP, "streaming"], "Time to first token", c, TTFT),
        fam("llm_d_epp_request_ntpot_seconds", "histogram", MFP, "Normalized time per output token", c, NTPOT),
        fam("llm_d_epp_request_running", "gauge", MFP, "Requests in flight", c),
        fam("llm_d_epp_average_kv_cache_utilization", "gauge", POOL, "Mean KV-cache utilization of the pool", c),
        fam("llm_d_epp_average_queue_size", "gauge", POOL, "Mean queue depth of the pool", c),
        fam("llm_d_epp_average_running_requests", "gauge", POOL, "Mean running requests of the pool", c),
        fam("llm_d_epp_ready_endpoints", "gauge", POOL, "Ready endpoints in the pool", c),
        fam("llm_d_epp_scheduler_attempts_total", "counter", ["status", "target_model_name", "endpoint_name", "namespace", "port"], "Scheduling attempts (status success|failure)", c),
        fam("llm_d_epp_flow_control_queue_size", "gauge", FC_Q, "Requests held in the flow-control queue", c),
        fam("llm_d_epp_flow_control_pool_saturation", "gauge", ["inference_pool", "stage"], "Pool saturation gating dispatch (1.0 the set point; stage effective = max)", c),
        fam("llm_d_epp_flow_control_requests_total", "counter", ["outcome", "priority", "inference_pool"], "Flow-control terminal outcomes", c),
        fam("llm_d_epp_datalayer_poll_errors_total", "counter", ["source_type"], "Data-source poll errors", c),
        fam("llm_d_epp_info", "gauge", ["commit", "build_ref"], "Build info", c),
        fam("llm_d_epp_disagg_decision_total", "counter", ["plugin_name", "plugin_type", "model_name", "decision_type"], "Disaggregation routing decisions", dis),
        fam("llm_d_epp_pd_decision_total", "counter", ["plugin_name", "plugin_type", "model_name", "decision_type"], "P/D decisions (deprecated pd-profile-handler)", dis),
        fam("inference_objective_request_total", "counter", [*M, "priority"], "[Deprecated: Use llm_d_epp_request_total]", d),
        fam("inference_objective_request_error_total", "counter", [*M, "error_code"], "[Deprecated: Use llm_d_epp_request_error_total]", d),
        fam("inference_objective_request_duration_seconds", "histogram", M, "[Deprecated: Use llm_d_epp_request_duration_seconds]", d, GENERAL),
        fam("inference_objective_normalized_time_per_output_token_seconds", "histogram", M, "[Deprecated: Use llm_d_epp_request_ntpot_seconds]", d, NTPOT),
        fam("inference_objective_running_requests", "gauge", ["model_name"], "[Deprecated: Use llm_d_epp_request_running]", d),
        fam("inference_pool_average_kv_cache_utilization", "gauge", POOL, "[Deprecated: Use llm_d_epp_average_kv_cache_utilization]", d),
        fam("inference_pool_average_queue_size", "gauge", POOL, "[Deprecated: Use llm_d_epp_average_queue_size]", d),
        fam("inference_pool_average_running_requests", "gauge", POOL, "[Deprecated: Use llm_d_epp_average_running_requests]", d),
        fam("inference_pool_ready_pods", "gauge", POOL, "[Deprecated: Use llm_d_epp_ready_endpoints]", d),
        fam("inference_pool_per_pod_queue_size", "gauge", ["name", "model_server_pod"], "Queue size per model server pod", f"{ROUTER_SRC}: pkg/epp/metrics/collectors/inference_pool.go"),
        fam("inference_extension_scheduler_attempts_total", "counter", ["status", "target_model_name", "pod_name", "namespace", "port"], "[Deprecated: Use llm_d_epp_scheduler_attempts_total]", d),
        fam("inference_extension_flow_control_queue_size", "gauge", FC_Q, "[Deprecated: Use llm_d_epp_flow_control_queue_size]", d),
        fam("inference_extension_flow_control_pool_saturation", "gauge", ["inference_pool", "stage"], "[Deprecated: Use llm_d_epp_flow_control_pool_saturation]", d),
        fam("llm_d_inference_scheduler_datalayer_poll_errors_total", "counter", ["source_type"], "[Deprecated: Use llm_d_epp_datalayer_poll_errors_total]", d),
        fam("llm_d_inference_scheduler_disagg_decision_total", "counter", ["model_name", "decision_type"], "[Deprecated: Use llm_d_epp_disagg_decision_total]", dis),
        fam("llm_d_inference_scheduler_pd_decision_total", "counter", ["model_name", "decision_type"], "[Deprecated: Use llm_d_epp_pd_decision_total]", dis),
    ]  # fmt: skip
    return {"exporter": "llm-d-router", "version": "0.10.0", "source": ROUTER_SRC, "families": fams}


def router_main_2026_06() -> dict:
    c = f"{MAIN_SRC}: pkg/epp/metrics/llm_d_router_metrics.go"
    fams = [
        fam("llm_d_router_epp_request_total", "counter", [*M, "priority"], "Requests", c),
        fam("llm_d_router_epp_request_error_total", "counter", [*M, "error_code"], "Errored requests", c),
        fam("llm_d_router_epp_request_duration_seconds", "histogram", M, "End-to-end latency", c, GENERAL),
        fam("llm_d_router_epp_normalized_time_per_output_token_seconds", "histogram", M, "Normalized time per output token", c, NTPOT),
        fam("llm_d_router_epp_running_requests", "gauge", ["model_name"], "Requests in flight", c),
        fam("llm_d_router_epp_average_kv_cache_utilization", "gauge", POOL, "Mean KV-cache utilization", c),
        fam("llm_d_router_epp_average_queue_size", "gauge", POOL, "Mean queue depth", c),
        fam("llm_d_router_epp_average_running_requests", "gauge", POOL, "Mean running requests", c),
        fam("llm_d_router_epp_ready_endpoints", "gauge", POOL, "Ready endpoints", c),
        fam("llm_d_router_epp_scheduler_attempts_total", "counter", ["status", "target_model_name", "endpoint_name", "namespace", "port"], "Scheduling attempts", c),
        fam("llm_d_router_epp_flow_control_queue_size", "gauge", FC_Q, "Flow-control queue", c),
        fam("llm_d_router_epp_flow_control_pool_saturation", "gauge", ["inference_pool", "stage"], "Pool saturation", c),
    ]  # fmt: skip
    return {
        "exporter": "llm-d-router",
        "version": "main-2026-06",
        "source": MAIN_SRC,
        "families": fams,
    }


def gie_1_0_0() -> dict:
    c = f"{GIE_SRC}: pkg/epp/metrics/metrics.go"
    fams = [
        fam("inference_model_request_total", "counter", M, "Requests per model and target model", c),
        fam("inference_model_request_error_total", "counter", [*M, "error_code"], "Errored requests", c),
        fam("inference_model_request_duration_seconds", "histogram", M, "End-to-end latency", c, GENERAL),
        fam("inference_model_normalized_time_per_output_token_seconds", "histogram", M, "Normalized time per output token", c, NTPOT),
        fam("inference_model_running_requests", "gauge", ["model_name"], "Requests in flight", c),
        fam("inference_pool_average_kv_cache_utilization", "gauge", POOL, "Mean KV-cache utilization", c),
        fam("inference_pool_average_queue_size", "gauge", POOL, "Mean queue depth", c),
        fam("inference_pool_ready_pods", "gauge", POOL, "Ready pods in the pool", c),
    ]  # fmt: skip
    return {
        "exporter": "gateway-api-inference-extension",
        "version": "1.0.0",
        "source": GIE_SRC,
        "families": fams,
    }


def vllm_nixl_0_33_0() -> dict:
    c = f"{NIXL_SRC}: vllm/distributed/kv_transfer/kv_connector/v1/nixl/stats.py NixlPromMetrics"
    labels = ["model_name", "engine"]
    fams = [
        fam("vllm:nixl_num_failed_transfers_total", "counter", labels, "Failed NIXL KV-cache transfers", c),
        fam("vllm:nixl_num_failed_notifications_total", "counter", labels, "Failed NIXL notifications", c),
        fam("vllm:nixl_xfer_time_seconds", "histogram", labels, "NIXL transfer duration", c,
            [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 5.0]),  # buckets[1:]
    ]  # fmt: skip
    return {"exporter": "vllm-nixl", "version": "0.33.0", "source": NIXL_SRC, "families": fams}


CATALOGS = {
    "llm-d-router-0.10.0.json": router_0_10_0,
    "llm-d-router-main-2026-06.json": router_main_2026_06,
    "gateway-api-inference-extension-1.0.0.json": gie_1_0_0,
    "nixl-vllm-0.33.0.json": vllm_nixl_0_33_0,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for name, build in CATALOGS.items():
        text = json.dumps(build(), indent=1) + "\n"
        path = DATA / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}: run python scripts/derive_router_catalog.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
