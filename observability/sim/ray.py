"""A replica and its head as a KubeRay RayService exposes them (runtime `rayservice`).

Ray nodes do not serve vLLM's `/metrics`: each node's metrics agent exports what the
processes on it recorded through `ray.util.metrics` (catalogs ray-2.49.2.json and
ray-2.58.0.json, which cite the sources). So a worker pod's endpoint turns the replica's
vLLM exposition into Ray's, in the naming generation of the replica's Ray release
(`RayServeStats.ray_version`, runtimes/rayservice.py GENERATIONS):

- 2.49 (vLLM 0.10): every `vllm:` family is renamed `ray_vllm:` (OpenCensusProxyCollector
  adds `ray_`), and counters get the deprecated gauge twin under the bare name
  (RAY_EXPORT_COUNTER_AS_GAUGE);
- 2.50+ (vLLM >= 0.11): `vllm:x` becomes `ray_vllm_x` (vLLM sanitizes for OpenTelemetry),
  every sample gets `ReplicaId`, counters come out with `_total` only;
- every sample gets the core worker's global tags (Component, NodeAddress, SessionName,
  Version, WorkerId); no `_created` series and no HTTP/process families (Ray Serve, not
  vLLM's API server, answers HTTP);
- Ray Serve's replica metrics are added (requests, errors, ongoing queries).

The head pod's endpoint carries what the Serve proxy and controller record there: HTTP
requests by status, errored responses (every 4xx and 5xx) by code, ongoing requests and
each replica's health. Serve tags requests with the `application`, which the rendered
serveConfigV2 names after the served model (runtimes/rayservice.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from observability.runtimes.rayservice import CURRENT, RayGeneration, generation_of
from observability.sim.exporter import PROMETHEUS_TEXT

__all__ = ["CONTENT_TYPE", "RayHead", "RayServeStats", "ray_worker_exposition"]

# Ray's metrics agent exports through prometheus_client: the text format 0.0.4
CONTENT_TYPE = PROMETHEUS_TEXT

APPLICATION = "llm"  # Serve's application when none is given (a replica's default)
DEPLOYMENT = "LLMServer:llm"  # what build_openai_app names the model's deployment
ROUTE = "/v1/chat/completions"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: dict[str, str]) -> str:
    return ",".join(f'{k}="{_esc(v)}"' for k, v in pairs.items())


def global_tags(pod: str, ray_version: str, worker: bool = True) -> dict[str, str]:
    digest = hashlib.sha1(pod.encode()).hexdigest()
    return {
        "Component": "core_worker",
        "NodeAddress": f"10.0.{int(digest[:2], 16)}.{int(digest[2:4], 16)}",
        "SessionName": "session_2026-12-01_00-00-00_000000_1",
        "Version": ray_version,
        "WorkerId": (digest * 2)[:56] if worker else "",
    }


@dataclass
class RayServeStats:
    """What Serve records for one replica (worker side) and its proxy (head side)."""

    replica_id: str
    requests: dict[str, int] = field(default_factory=dict)  # status code -> count
    errors: int = 0
    ongoing: int = 0
    ray_version: str = CURRENT.ray  # the Ray release whose naming the node exports
    healthy: bool = True  # False while the replica's process is down (the head reports it)
    application: str = APPLICATION  # the Serve application (our render: the served name)

    @property
    def generation(self) -> RayGeneration:
        return generation_of(self.ray_version)

    def observe(self, status: int) -> None:
        code = str(status)
        self.requests[code] = self.requests.get(code, 0) + 1
        if status >= 500:
            self.errors += 1


def _family(out: list[str], name: str, kind: str, text: str) -> None:
    out.append(f"# HELP {name} {text}")
    out.append(f"# TYPE {name} {kind}")


def _rename_vllm(text: str, tags: dict[str, str], gen: RayGeneration) -> list[str]:
    """vLLM text exposition -> Ray's: the generation's names, global tags, counter twins
    (2.49), no _created. prometheus_client writes each family's samples right after its
    HELP/TYPE lines."""
    extra = _labels(tags)
    families: list[tuple[str, str, str, list[tuple[str, str, str]]]] = []
    helps: dict[str, str] = {}
    current: list[tuple[str, str, str]] | None = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            _, _, name, rest = line.split(" ", 3)
            helps[name] = rest
            current = None
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            current = [] if name.startswith("vllm:") else None
            if current is not None:
                families.append((name, kind, helps.get(name, ""), current))
        elif current is not None and line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            base = series.split("{", 1)[0]
            if base.endswith("_created"):
                continue
            labels = series[len(base) :].strip("{}")
            current.append((base, f"{labels},{extra}" if labels else extra, value))
    out: list[str] = []
    for name, kind, text_, rows in families:
        _family(out, gen.exposed(name), kind, text_)
        out += [f"{gen.exposed(b)}{{{m}}} {v}" for b, m, v in rows]
        if kind == "counter" and not gen.sanitized:
            bare = "ray_" + name.removesuffix("_total")
            _family(out, bare, "gauge", f"(DEPRECATED, use {bare}_total metric instead) {text_}")
            out += [f"{bare}{{{m}}} {v}" for b, m, v in rows if b.endswith("_total")]
    return out


def _counter(
    out: list[str], gen: RayGeneration, name: str, text: str, rows: list[tuple[str, float]]
) -> None:
    """A Serve counter, one sample per (rendered labels, value), as `<name>_total`; on 2.49
    also its deprecated gauge twin under the bare name (RAY_EXPORT_COUNTER_AS_GAUGE)."""
    _family(out, name, "counter", text)
    out.extend(f"{name}_total{{{lab}}} {float(n)}" for lab, n in rows)
    if not gen.sanitized:
        _family(out, name, "gauge", f"(DEPRECATED, use {name}_total metric instead) {text}")
        out.extend(f"{name}{{{lab}}} {float(n)}" for lab, n in rows)


def ray_worker_exposition(vllm_text: str, pod: str, stats: RayServeStats) -> bytes:
    gen = stats.generation
    tags = global_tags(pod, gen.ray)
    replica = {"ReplicaId": stats.replica_id} if gen.sanitized else {}
    out = _rename_vllm(vllm_text, {**replica, **tags}, gen)
    serve = {
        "deployment": DEPLOYMENT,
        "replica": stats.replica_id,
        "application": stats.application,
    }
    lab = _labels({"route": ROUTE, **serve, **tags})
    total = sum(stats.requests.values())
    for name, value, text in (
        ("ray_serve_deployment_request_counter", total, "The number of queries that have been processed in this replica."),
        ("ray_serve_deployment_error_counter", stats.errors, "The number of exceptions that have occurred in this replica."),
    ):  # fmt: skip
        _counter(out, gen, name, text, [(lab, value)])
    _family(out, "ray_serve_replica_processing_queries", "gauge", "The current number of queries being processed.")  # fmt: skip
    out.append(f"ray_serve_replica_processing_queries{{{_labels({**serve, **tags})}}} {float(stats.ongoing)}")  # fmt: skip
    return ("\n".join(out) + "\n").encode()


@dataclass
class RayHead:
    """The head pod of one model's RayService: Serve's proxy and controller (an
    `Exporter`, sim/exporter.py)."""

    pod: str
    namespace: str
    model_key: str
    port: int
    replicas: list[RayServeStats] = field(default_factory=list)
    ray_version: str = CURRENT.ray
    content_type: ClassVar[str] = CONTENT_TYPE

    def exposition(self) -> bytes:
        gen = generation_of(self.ray_version)
        tags = global_tags(self.pod, gen.ray)
        out: list[str] = []
        # (application, status code) -> responses; the proxy counts each at the end
        by_status: dict[tuple[str, str], int] = {}
        ongoing = 0
        for stats in self.replicas:
            for code, n in stats.requests.items():
                key = (stats.application, code)
                by_status[key] = by_status.get(key, 0) + n
            ongoing += stats.ongoing

        http = {"route": "/", "method": "POST"}
        _counter(
            out,
            gen,
            "ray_serve_num_http_requests",
            "The number of HTTP requests processed.",
            [
                (_labels({**http, "application": app, "status_code": code, **tags}), n)
                for (app, code), n in sorted(by_status.items())
            ],
        )
        # proxy.py: is_error = the status starts with 4 or 5; error_code = the status
        _counter(
            out,
            gen,
            "ray_serve_num_http_error_requests",
            "The number of errored HTTP responses.",
            [
                (_labels({**http, "error_code": code, "application": app, **tags}), n)
                for (app, code), n in sorted(by_status.items())
                if code.startswith(("4", "5"))
            ],
        )
        _family(out, "ray_serve_num_ongoing_http_requests", "gauge", "The number of ongoing requests in this HTTP proxy.")  # fmt: skip
        node = {"node_id": hashlib.sha1(self.pod.encode()).hexdigest()[:40], "node_ip_address": tags["NodeAddress"]}  # fmt: skip
        out.append(f"ray_serve_num_ongoing_http_requests{{{_labels({**node, **tags})}}} {float(ongoing)}")  # fmt: skip
        _family(out, "ray_serve_deployment_replica_healthy", "gauge", "Tracks whether this deployment replica is healthy. 1 means healthy, 0 means unhealthy.")  # fmt: skip
        for stats in self.replicas:
            up = 1.0 if stats.healthy else 0.0
            lab = {
                "deployment": DEPLOYMENT,
                "replica": stats.replica_id,
                "application": stats.application,
            }
            out.append(f"ray_serve_deployment_replica_healthy{{{_labels({**lab, **tags})}}} {up}")
        return ("\n".join(out) + "\n").encode()
