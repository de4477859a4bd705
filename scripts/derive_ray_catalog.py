"""Write observability/metrics/data/ray-<version>.json: what a KubeRay RayService on a
`rayproject/ray-llm` image exposes on its nodes' metrics port (8080), for both naming
generations still in use:

- ray-2.49.2.json (`rayproject/ray-llm:2.49.2-py311-cu128`, vLLM 0.10.1.1): `ray_vllm:<name>`.
- ray-2.58.0.json (`rayproject/ray-llm:2.58.0-py312-cu130`, vLLM 0.26.0, the `vllm[audio]==
  0.26.0` of ray[llm] 2.58.0): `ray_vllm_<name>` with a `ReplicaId` label.

Sources, read from released wheels and ray-project/ray (never imported):

1. vLLM's engine metrics. Ray Serve LLM creates vLLM's AsyncLLM with
   `stat_loggers=[RayPrometheusStatLogger]` when `log_engine_metrics: true`
   (ray/llm/_internal/serve/deployments/llm/vllm/vllm_engine.py). That logger is vLLM's
   PrometheusStatLogger with ray.util.metrics classes (vllm/v1/metrics/ray_wrappers.py):
   same families and label names as the committed vLLM catalog of the version, no HTTP
   metrics (Ray Serve, not vLLM's API server, answers HTTP). vLLM 0.10.1.1 keeps the name;
   from 0.11 (PR #25439) `_get_sanitized_opentelemetry_name` turns every character outside
   [a-zA-Z0-9_] into `_` (`vllm:x` -> `vllm_x`) and every metric gets the tag `ReplicaId`
   (PR #24267); both checked in the vllm-0.26.0 wheel's ray_wrappers.py.
2. Ray's metrics agent. 2.49 (OpenCensus, ray/_private/metrics_agent.py
   OpenCensusProxyCollector.to_metrics): the name becomes `ray_<name>`; a counter is a
   CounterMetricFamily (exposed `_total`) plus, while RAY_EXPORT_COUNTER_AS_GAUGE is true
   (the default), a deprecated gauge under the bare name. From 2.50 the OpenTelemetry path
   is the default (Ray PR #56432; ray/_private/telemetry/open_telemetry_metric_recorder.py
   registers `ray_<name>` observable counters, gauges and histograms with OpenTelemetry's
   Prometheus exporter, which writes counters with `_total`); the deprecated bare gauge is
   gone (PR #58573), except that Ray issue #59072 (open when read) shows 2.52 exporting
   counters as gauges without `_total`: that form is listed too, `default: false`. Every
   series carries the core worker's global tags Component, WorkerId, Version, NodeAddress,
   SessionName (src/ray/core_worker/core_worker_process.cc; the #59072 sample shows them on
   2.52).
3. Ray Serve's own metrics (ray/serve/_private/proxy.py, replica.py, deployment_state.py),
   with Serve's deployment/replica/application tags (ray/serve/metrics.py) and the latency
   buckets of ray/serve/_private/constants.py DEFAULT_LATENCY_BUCKET_MS.

Run: python scripts/derive_ray_catalog.py
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "observability" / "metrics" / "data"
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


def sanitize(name: str) -> str:
    """vLLM >= 0.11 ray_wrappers._get_sanitized_opentelemetry_name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


@dataclass(frozen=True)
class Generation:
    ray: str
    vllm: str  # the committed vLLM catalog it reads
    vllm_wheel: str  # the release the image ships
    image_tag: str
    sanitized: bool  # vLLM >= 0.11: `vllm_x` and a ReplicaId tag
    opentelemetry: bool  # Ray >= 2.50: no deprecated counter gauge; #59072's bare gauge
    agent_source: str


GENERATIONS = (
    Generation("2.49.2", "0.10.1", "0.10.1.1", "2.49.2-py311-cu128", False, False,
               "ray/_private/metrics_agent.py (ray_ prefix, counter + deprecated gauge)"),
    Generation("2.58.0", "0.26.0", "0.26.0", "2.58.0-py312-cu130", True, True,
               "ray/_private/telemetry/open_telemetry_metric_recorder.py (ray_ prefix, "
               "OpenTelemetry Prometheus exporter: counters with _total); Ray issue #59072: "
               "counters as gauges without _total on 2.52"),
)  # fmt: skip


def _ray(fam: dict, name: str, source: str, where: str, gen: Generation, tags: list) -> list:
    labels = [*fam["labels"], *tags, *GLOBAL_TAGS]
    out = {**fam, "name": "ray_" + name, "labels": labels, "source": source, "node": where}
    if fam["type"] != "counter":
        return [out]
    bare = "ray_" + name.removesuffix("_total")
    if gen.opentelemetry:
        gauge = {
            **out,
            "name": bare,
            "type": "gauge",
            "buckets": None,
            "default": False,
            "condition": "Ray issue #59072: counters exported as gauges without _total",
        }
    else:
        gauge = {
            **out,
            "name": bare,
            "type": "gauge",
            "buckets": None,
            "deprecated": True,
            "help": f"(DEPRECATED, use {bare}_total metric instead) {fam['help']}",
        }
    return [out, gauge]  # fmt: skip


def catalog(gen: Generation) -> dict:
    vllm = json.loads((DATA / f"vllm-{gen.vllm}.json").read_text())
    rename = sanitize if gen.sanitized else (lambda n: n)
    replica = ["ReplicaId"] if gen.sanitized else []
    families: list[dict] = []
    wrappers = "vllm/v1/metrics/loggers.py via ray_wrappers.py"
    for fam in vllm["families"]:
        if fam["name"].startswith("vllm:"):
            families += _ray(fam, rename(fam["name"]), wrappers, "worker", gen, replica)
    for name, kind, labels, text, where, src in SERVE:
        fam = {"name": name + ("_total" if kind == "counter" else ""), "type": kind,
               "help": text, "labels": labels,
               "buckets": [float(b) for b in LATENCY_MS] if kind == "histogram" else None,
               "default": True}  # fmt: skip
        families += _ray(fam, fam["name"], f"ray-{gen.ray} wheel: {src}", where, gen, [])
    naming = "sanitized, ReplicaId tag" if gen.sanitized else "names unsanitized"
    return {
        "exporter": "ray",
        "version": gen.ray,
        "vllm_version": gen.vllm,
        "image": f"rayproject/ray-llm:{gen.image_tag}",
        "source": (
            f"ray-{gen.ray} wheel: {gen.agent_source}, "
            "ray/llm/_internal/serve/deployments/llm/vllm/vllm_engine.py "
            "(RayPrometheusStatLogger when log_engine_metrics), ray/serve/_private/*.py; "
            f"vllm-{gen.vllm_wheel} wheel: vllm/v1/metrics/ray_wrappers.py ({naming}); "
            "core worker global tags: src/ray/core_worker/core_worker_process.cc; "
            "derived by scripts/derive_ray_catalog.py"
        ),
        "global_tags": GLOBAL_TAGS,
        "families": families,
    }


def main() -> None:
    for gen in GENERATIONS:
        out = catalog(gen)
        (DATA / f"ray-{gen.ray}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
