"""Write observability/metrics/data/ray-2.49.2.json: what a KubeRay RayService on the
`rayproject/ray-llm:2.49.2` image exposes on its nodes' metrics port (8080).

Two sources, both read from released wheels (never imported):

1. vLLM's engine metrics. Ray Serve LLM 2.49.2 creates vLLM's AsyncLLM with
   `stat_loggers=[RayPrometheusStatLogger]` when `log_engine_metrics: true`
   (ray/llm/_internal/serve/deployments/llm/vllm/vllm_engine.py). That logger is vLLM's
   PrometheusStatLogger with ray.util.metrics classes (vllm/v1/metrics/ray_wrappers.py in
   vLLM 0.10.1.1, the `vllm>=0.10.0` of ray[llm] 2.49.2): same names (colon kept: 0.10.1.1
   does not sanitize; later vLLM replaces `:` by `_`), same label names, no HTTP metrics
   (Ray Serve, not vLLM's API server, answers HTTP). The families are therefore those of
   the committed vLLM 0.10.1 catalog minus `http_*`.
2. Ray's metrics agent (ray/_private/metrics_agent.py, OpenCensusProxyCollector.to_metrics):
   the name becomes `ray_<name>`; a counter is a CounterMetricFamily (exposed `_total`)
   plus, while RAY_EXPORT_COUNTER_AS_GAUGE is true (the default), a deprecated gauge under
   the bare name; every series carries the core worker's global tags Component, WorkerId,
   Version, NodeAddress, SessionName (src/ray/core_worker/core_worker_process.cc).
3. Ray Serve's own metrics (ray/serve/_private/proxy.py, replica.py, deployment_state.py),
   with Serve's deployment/replica/application tags (ray/serve/metrics.py) and the latency
   buckets of ray/serve/_private/constants.py DEFAULT_LATENCY_BUCKET_MS.

Run: python scripts/derive_ray_catalog.py
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "observability" / "metrics" / "data"
RAY_VERSION = "2.49.2"
VLLM_VERSION = "0.10.1"
GLOBAL_TAGS = ["Component", "NodeAddress", "SessionName", "Version", "WorkerId"]
SERVE_TAGS = ["deployment", "replica", "application"]
LATENCY_MS = [1, 2, 5, 10, 20, 50, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 60000,
              120000, 300000, 600000]  # fmt: skip

# (name, type, labels, help, where: head|worker, source file in the Ray wheel)
SERVE = [
    ("serve_num_http_requests", "counter", ["route", "method", "application", "status_code"],
     "The number of HTTP requests processed.", "head", "ray/serve/_private/proxy.py"),
    ("serve_num_http_error_requests", "counter",
     ["route", "error_code", "method", "application"],
     "The number of errored HTTP responses.", "head", "ray/serve/_private/proxy.py"),
    ("serve_http_request_latency_ms", "histogram",
     ["method", "route", "application", "status_code"],
     "The end-to-end latency of HTTP requests (measured from the Serve HTTP proxy).", "head",
     "ray/serve/_private/proxy.py"),
    ("serve_num_ongoing_http_requests", "gauge", ["node_id", "node_ip_address"],
     "The number of ongoing requests in this HTTP proxy.", "head",
     "ray/serve/_private/proxy.py"),
    ("serve_deployment_replica_healthy", "gauge", SERVE_TAGS,
     "Tracks whether this deployment replica is healthy. 1 means healthy, 0 means unhealthy.",
     "head", "ray/serve/_private/deployment_state.py"),
    ("serve_deployment_request_counter", "counter", ["route", *SERVE_TAGS],
     "The number of queries that have been processed in this replica.", "worker",
     "ray/serve/_private/replica.py"),
    ("serve_deployment_error_counter", "counter", ["route", *SERVE_TAGS],
     "The number of exceptions that have occurred in this replica.", "worker",
     "ray/serve/_private/replica.py"),
    ("serve_deployment_processing_latency_ms", "histogram", ["route", *SERVE_TAGS],
     "The latency for queries to be processed.", "worker", "ray/serve/_private/replica.py"),
    ("serve_replica_processing_queries", "gauge", SERVE_TAGS,
     "The current number of queries being processed.", "worker",
     "ray/serve/_private/replica.py"),
]  # fmt: skip


def _ray(fam: dict, name: str, source: str, where: str) -> list[dict]:
    labels = [*fam["labels"], *GLOBAL_TAGS]
    out = {**fam, "name": "ray_" + name, "labels": labels, "source": source, "node": where}
    if fam["type"] != "counter":
        return [out]
    bare = "ray_" + name.removesuffix("_total")
    gauge = {**out, "name": bare, "type": "gauge", "buckets": None, "deprecated": True,
             "help": f"(DEPRECATED, use {bare}_total metric instead) {fam['help']}"}  # fmt: skip
    return [out, gauge]


def main() -> None:
    vllm = json.loads((DATA / f"vllm-{VLLM_VERSION}.json").read_text())
    families: list[dict] = []
    for fam in vllm["families"]:
        if fam["name"].startswith("vllm:"):
            families += _ray(
                fam, fam["name"], "vllm/v1/metrics/loggers.py via ray_wrappers.py", "worker"
            )
    for name, kind, labels, text, where, src in SERVE:
        fam = {"name": name + ("_total" if kind == "counter" else ""), "type": kind,
               "help": text, "labels": labels,
               "buckets": [float(b) for b in LATENCY_MS] if kind == "histogram" else None,
               "default": True}  # fmt: skip
        families += _ray(fam, fam["name"], f"ray-{RAY_VERSION} wheel: {src}", where)
    out = {
        "exporter": "ray",
        "version": RAY_VERSION,
        "vllm_version": VLLM_VERSION,
        "image": f"rayproject/ray-llm:{RAY_VERSION}-py311-cu128",
        "source": (
            f"ray-{RAY_VERSION} wheel: ray/_private/metrics_agent.py (ray_ prefix, counter "
            "+ deprecated gauge), ray/llm/_internal/serve/deployments/llm/vllm/vllm_engine.py "
            "(RayPrometheusStatLogger when log_engine_metrics), ray/serve/_private/*.py; "
            "vllm-0.10.1.1 wheel: vllm/v1/metrics/ray_wrappers.py (names unsanitized); "
            "core worker global tags: src/ray/core_worker/core_worker_process.cc; "
            "derived by scripts/derive_ray_catalog.py"
        ),
        "global_tags": GLOBAL_TAGS,
        "families": families,
    }
    (DATA / f"ray-{RAY_VERSION}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
