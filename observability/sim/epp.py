"""The inference pool's endpoint picker (EPP) as Prometheus scrapes it: llm-d-router
v0.10.0, which writes every canonical `llm_d_epp_*` family *and* its deprecated twin
(dual emission, catalog llm-d-router-0.10.0.json), behind a bearer token (its /metrics
answers 401 without `Authorization: Bearer <token>`, as the chart's
`monitoring.prometheus.auth.enabled: true` makes it).

It is fed by the simulated replicas of the pool: every request a replica answers is
counted (model, status, and router-side TTFT as llm-d-router's handlers/response.go takes
it: at a stream's first body chunk, or with a whole response's body), and the pool gauges are computed at scrape time from
the replicas themselves (ready = not crashed; KV-cache usage and waiting queue averaged
over the ready ones), so the router's averages agree with the engines'.

Faults on the EPP's pod: `crash` (the port closes), `pool-unready` (the EPP sees no
ready endpoint), `scheduling-failures` (a share of scheduling attempts fail),
`datalayer-errors` (its polls of the endpoints fail).

`generation` (SimConfig.epp_generation) serves an older router's names instead, each alone
as that router wrote them: `main-2026-06` (llm-d-router main of June 2026,
`llm_d_router_epp_*`, catalog llm-d-router-main-2026-06.json) or `gie-1.0.0` (Gateway API
Inference Extension v1.0.0: `inference_model_*` and `inference_pool_*`, catalog
gateway-api-inference-extension-1.0.0.json). The normalised `epp:*` recordings read every
one of them; a family a generation lacks (router TTFT, data-layer errors; in GIE 1.0.0
also scheduling attempts) is absent, as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from observability.metrics.router import TTFT_EDGES
from observability.sim.exporter import PROMETHEUS_TEXT

__all__ = [
    "CONTENT_TYPE",
    "GENERATIONS",
    "POLL_SOURCE",
    "EndpointPicker",
    "endpoint_pickers",
    "manifest_entry",
]

CONTENT_TYPE = PROMETHEUS_TEXT  # a Go binary (client_golang promhttp): text 0.0.4
POLL_SOURCE = "metrics-data-source"
_HTTP_CODE = {429: "ResourceExhausted", 503: "ServiceUnavailable", 400: "BadRequest",
              404: "NotFound"}  # fmt: skip


CURRENT = "0.10.0"


@dataclass(frozen=True)
class _Older:
    """An older router's names: requests, pool gauges, ready count, scheduler attempts."""

    requests: str  # prefix of request_total / request_error_total
    pool: str  # prefix of the pool gauges
    ready: str  # the ready-endpoints gauge's own name after `pool`
    request_labels: dict[str, str]  # labels beside model_name/target_model_name
    attempts: str | None  # scheduler attempts family, None when the generation has none


_OLDER = {
    "main-2026-06": _Older("llm_d_router_epp", "llm_d_router_epp", "ready_endpoints",
                           {"priority": "0"}, "llm_d_router_epp_scheduler_attempts_total"),
    "gie-1.0.0": _Older("inference_model", "inference_pool", "ready_pods", {}, None),
}  # fmt: skip
GENERATIONS = (CURRENT, *_OLDER)


def _le(edge: float) -> str:
    return "+Inf" if edge == float("inf") else f"{edge:g}"  # Go's strconv 'g'


def _labels(pairs: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in pairs.items())


@dataclass
class EndpointPicker:
    """One EPP pod's metrics endpoint (an `Exporter`, sim/exporter.py)."""

    pool: str
    pod: str
    namespace: str
    port: int
    token: str  # required bearer token; "" serves without auth
    endpoints: Callable[[], list[tuple[bool, float, int]]]  # per endpoint (ready, kv, waiting)
    content_type: ClassVar[str] = CONTENT_TYPE
    requests: dict[str, int] = field(default_factory=dict)  # model -> count
    errors: dict[tuple[str, str], int] = field(default_factory=dict)  # (model, code) -> n
    ttft: dict[str, list[int]] = field(default_factory=dict)  # model -> bucket counts
    ttft_sum: dict[str, float] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=lambda: {"success": 0, "failure": 0})
    polls: int = 0
    poll_errors: int = 0
    unready: bool = False  # fault pool-unready
    failure_ratio: float = 0.0  # fault scheduling-failures
    datalayer_errors: bool = False  # fault datalayer-errors
    generation: str = CURRENT  # GENERATIONS: whose names it serves
    _carry: float = 0.0

    @classmethod
    def make(
        cls,
        pool: str,
        namespace: str,
        port: int,
        token: str,
        endpoints: Callable[[], list[tuple[bool, float, int]]],
        seed: int,
    ) -> EndpointPicker:
        digest = hashlib.sha1(f"{pool}/{seed}".encode()).hexdigest()
        pod = f"{pool}-epp-{digest[:10]}-{digest[10:15]}"
        return cls(pool, pod, namespace, port, token, endpoints)

    def authorised(self, header: str | None) -> bool:
        return not self.token or header == f"Bearer {self.token}"

    def observe(self, model: str, status: int, seconds: float) -> None:
        """A request the pool answered: scheduled (or not), counted, timed."""
        self._carry += self.failure_ratio
        if self._carry >= 1.0:  # deterministic share of failed attempts
            self._carry -= 1.0
            self.attempts["failure"] += 1
        self.attempts["success"] += 1
        self.requests[model] = self.requests.get(model, 0) + 1
        if status >= 400:
            code = _HTTP_CODE.get(status, "ModelServerError")
            self.errors[(model, code)] = self.errors.get((model, code), 0) + 1
            return
        counts = self.ttft.setdefault(model, [0] * (len(TTFT_EDGES) + 1))
        for i, edge in enumerate((*TTFT_EDGES, float("inf"))):
            if seconds <= edge:
                counts[i] += 1
        self.ttft_sum[model] = self.ttft_sum.get(model, 0.0) + seconds

    def _gauges(self) -> tuple[int, float, float]:
        self.polls += 1
        if self.datalayer_errors:
            self.poll_errors += 1
        ready = [] if self.unready else [e for e in self.endpoints() if e[0]]
        if not ready:
            return 0, 0.0, 0.0
        kv = sum(e[1] for e in ready) / len(ready)
        queue = sum(e[2] for e in ready) / len(ready)
        return len(ready), kv, queue

    def exposition(self) -> bytes:
        n_ready, kv, queue = self._gauges()
        out: list[str] = []

        def family(name: str, kind: str, help_: str, samples: list[str]) -> None:
            out.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *samples])

        older = _OLDER.get(self.generation)
        if older is not None:
            self._older(older, family, n_ready, kv, queue)
            return ("\n".join(out) + "\n").encode()

        pool = {"name": self.pool}
        for prefix, ready_name in (
            ("llm_d_epp", "ready_endpoints"),
            ("inference_pool", "ready_pods"),
        ):
            family(
                f"{prefix}_average_kv_cache_utilization",
                "gauge",
                "Mean KV-cache utilization",
                [f"{prefix}_average_kv_cache_utilization{{{_labels(pool)}}} {kv}"],
            )
            family(
                f"{prefix}_average_queue_size",
                "gauge",
                "Mean queue depth",
                [f"{prefix}_average_queue_size{{{_labels(pool)}}} {queue}"],
            )
            family(f"{prefix}_{ready_name}", "gauge", "Ready endpoints",
                   [f"{prefix}_{ready_name}{{{_labels(pool)}}} {n_ready}"])  # fmt: skip
        for model in sorted(self.requests):
            base = {"model_name": model, "target_model_name": model}
            new = {**base, "fairness_id": "", "priority": "0"}
            family(
                "llm_d_epp_request_total",
                "counter",
                "Requests",
                [f"llm_d_epp_request_total{{{_labels(new)}}} {self.requests[model]}"],
            )
            family("inference_objective_request_total", "counter",
                   "[Deprecated: Use llm_d_epp_request_total] Requests",
                   [f"inference_objective_request_total{{{_labels({**base, 'priority': '0'})}}} "
                    f"{self.requests[model]}"])  # fmt: skip
        errs = sorted(self.errors.items())
        for name, extra in (("llm_d_epp_request_error_total", {"fairness_id": "", "priority": "0"}),
                            ("inference_objective_request_error_total", {})):  # fmt: skip
            family(name, "counter", "Errored requests", [
                f"{name}{{{_labels({'model_name': m, 'target_model_name': m, **extra, 'error_code': c})}}} {n}"
                for (m, c), n in errs
            ])  # fmt: skip
        samples: list[str] = []
        for model, counts in sorted(self.ttft.items()):
            lab = {"model_name": model, "target_model_name": model, "fairness_id": "",
                   "priority": "0", "streaming": "false"}  # fmt: skip
            for edge, c in zip((*TTFT_EDGES, float("inf")), counts, strict=True):
                samples.append(
                    f"llm_d_epp_request_ttft_seconds_bucket{{{_labels({**lab, 'le': _le(edge)})}}} {c}"
                )
            samples.append(
                f"llm_d_epp_request_ttft_seconds_sum{{{_labels(lab)}}} {self.ttft_sum[model]}"
            )
            samples.append(f"llm_d_epp_request_ttft_seconds_count{{{_labels(lab)}}} {counts[-1]}")
        family("llm_d_epp_request_ttft_seconds", "histogram", "Time to first token", samples)
        for name, ep in (("llm_d_epp_scheduler_attempts_total", "endpoint_name"),
                         ("inference_extension_scheduler_attempts_total", "pod_name")):  # fmt: skip
            family(name, "counter", "Scheduling attempts", [
                f"{name}{{{_labels({'status': s, 'target_model_name': '', ep: '', 'namespace': '', 'port': ''})}}} {n}"
                for s, n in sorted(self.attempts.items())
            ])  # fmt: skip
        for name in ("llm_d_epp_datalayer_poll_errors_total",
                     "llm_d_inference_scheduler_datalayer_poll_errors_total"):  # fmt: skip
            family(
                name,
                "counter",
                "Data-source poll errors",
                [f'{name}{{source_type="{POLL_SOURCE}"}} {self.poll_errors}'],
            )
        family("llm_d_epp_info", "gauge", "Build info",
               ['llm_d_epp_info{build_ref="v0.10.0",commit="71f4f0999f95"} 1'])  # fmt: skip
        return ("\n".join(out) + "\n").encode()

    def _older(self, g: _Older, family: Callable[..., None], n_ready: int, kv: float,
               queue: float) -> None:  # fmt: skip
        """An older generation's families, each under its own name only."""
        pool = _labels({"name": self.pool})
        family(f"{g.pool}_average_kv_cache_utilization", "gauge", "Mean KV-cache utilization",
               [f"{g.pool}_average_kv_cache_utilization{{{pool}}} {kv}"])  # fmt: skip
        family(f"{g.pool}_average_queue_size", "gauge", "Mean queue depth",
               [f"{g.pool}_average_queue_size{{{pool}}} {queue}"])  # fmt: skip
        family(f"{g.pool}_{g.ready}", "gauge", "Ready endpoints",
               [f"{g.pool}_{g.ready}{{{pool}}} {n_ready}"])  # fmt: skip
        req = f"{g.requests}_request_total"
        family(req, "counter", "Requests", [
            f"{req}{{{_labels({'model_name': m, 'target_model_name': m, **g.request_labels})}}} {n}"
            for m, n in sorted(self.requests.items())
        ])  # fmt: skip
        err = f"{g.requests}_request_error_total"
        family(err, "counter", "Errored requests", [
            f"{err}{{{_labels({'model_name': m, 'target_model_name': m, 'error_code': c})}}} {n}"
            for (m, c), n in sorted(self.errors.items())
        ])  # fmt: skip
        if g.attempts:
            family(g.attempts, "counter", "Scheduling attempts", [
                f"{g.attempts}{{{_labels({'status': s, 'target_model_name': '', 'endpoint_name': '', 'namespace': '', 'port': ''})}}} {n}"
                for s, n in sorted(self.attempts.items())
            ])  # fmt: skip


def endpoint_pickers(
    cfg: Any, members: list[Any], ready: Callable[[Any], bool]
) -> list[EndpointPicker]:
    """The pool's EPP when `cfg.epp_port` (a SimConfig) is set, routing to the replicas
    `members` (each a Replica; `ready(r)`: not crashed); it counts what they answer."""
    if not cfg.epp_port:
        return []
    if cfg.epp_generation not in GENERATIONS:
        raise ValueError(f"epp_generation {cfg.epp_generation!r}: one of {', '.join(GENERATIONS)}")

    def endpoints() -> list[tuple[bool, float, int]]:
        return [(ready(r), r.engine.kv.usage(), len(r.engine.waiting)) for r in members]

    epp = EndpointPicker.make(
        cfg.epp_pool, cfg.epp_namespace, cfg.epp_port, cfg.epp_token, endpoints, cfg.seed
    )
    epp.generation = cfg.epp_generation
    for r in members:
        r.epp = epp
    return [epp]


def manifest_entry(cfg: Any, e: EndpointPicker) -> dict[str, Any]:
    """The EPP in the simulator's manifest: what service discovery reports for it."""
    return {
        "pool": e.pool,
        "pod": e.pod,
        "namespace": e.namespace,
        "port": e.port,
        "service": cfg.epp_service or f"{e.pool}-epp",
        "port_name": cfg.epp_port_name,
    }
