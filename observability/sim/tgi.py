"""TGI's exposition for a simulated replica of a `runtime: tgi` model.

The same engine serves the requests; this sink records them the way TGI 3.3.7's router
does (router/src/server.rs): per finished request `tgi_request_success` and the
`tgi_request_*duration` histograms (inference = first scheduled to last token, mean time
per token = inference / generated tokens), `tgi_request_generated_tokens` and
`tgi_request_input_length`; per failure `tgi_request_failure{err}`; the queue and
current batch as gauges. Written like metrics-exporter-prometheus 0.15.1: counters keep
their names (no `_total`), bucket bounds in shortest round-trip form, no model label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from observability.metrics.catalog import runtime_catalog
from observability.runtimes.tgi import CATALOG_FILE

if TYPE_CHECKING:
    from observability.sim.engine import Engine, Request, StepStats

__all__ = ["TgiMetrics"]

_VALIDATION_S = 0.0004  # tokenization + validation of a short prompt


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


class _Hist:
    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        for i, b in enumerate(self.bounds):
            if v <= b:
                self.counts[i] += 1
        self.sum += v
        self.count += 1

    def lines(self, name: str) -> list[str]:
        out = [
            f'{name}_bucket{{le="{_fmt(b)}"}} {c}'
            for b, c in zip(self.bounds, self.counts, strict=True)
        ]
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out += [f"{name}_sum {_fmt(self.sum)}", f"{name}_count {self.count}"]
        return out


class TgiMetrics:
    """A Sink for the engine plus the replica hooks (`failed`, `http`, `exposition`)."""

    def __init__(self, max_total_tokens: int, max_input_tokens: int) -> None:
        cat = runtime_catalog(CATALOG_FILE)
        self.help = {n: f.help for n, f in cat.families.items()}
        self.types = {n: f.type for n, f in cat.families.items()}
        dur = cat.families["tgi_request_duration"].buckets or ()
        self.hist = {
            n: _Hist(dur)
            for n, f in cat.families.items()
            if f.type == "histogram" and n.endswith("duration")
        }
        self.hist["tgi_request_generated_tokens"] = _Hist(
            tuple(max_total_tokens / 100 * (x + 1) for x in range(100))
        )
        self.hist["tgi_request_input_length"] = _Hist(
            tuple(max_input_tokens / 100 * (x + 1) for x in range(100))
        )
        self.counters: dict[str, float] = {"tgi_request_count": 0, "tgi_request_success": 0}
        self.failures: dict[str, float] = {}
        self.gauges_: dict[str, float] = {
            "tgi_queue_size": 0,
            "tgi_batch_current_size": 0,
            "tgi_batch_current_max_tokens": 0,
        }

    # -- engine events ---------------------------------------------------------------------
    def gauges(self, engine: Engine) -> None:
        self.gauges_["tgi_queue_size"] = len(engine.waiting)
        self.gauges_["tgi_batch_current_size"] = len(engine.running)
        self.gauges_["tgi_batch_current_max_tokens"] = sum(
            len(r.prompt_ids) + r.max_tokens for r in engine.running
        )

    def gauges_from(self, running: int, waiting: int, usage: float) -> None:
        self.gauges_["tgi_queue_size"] = waiting
        self.gauges_["tgi_batch_current_size"] = running

    def step(self, engine: Engine, s: StepStats) -> None:
        """TGI records per request, not per step."""

    def finished(self, engine: Engine, r: Request) -> None:
        self.counters["tgi_request_count"] += 1
        if (r.finished_reason or "abort") == "abort":
            self.failures["incomplete"] = self.failures.get("incomplete", 0) + 1
            return
        end = r.finished if r.finished is not None else r.arrival
        start = r.scheduled if r.scheduled is not None else end
        last = r.last_token if r.last_token is not None else end
        inference = max(last - start, 0.0)
        tokens = max(len(r.output), 1)
        self.counters["tgi_request_success"] += 1
        self.hist["tgi_request_duration"].observe(end - r.arrival + _VALIDATION_S)
        self.hist["tgi_request_validation_duration"].observe(_VALIDATION_S)
        self.hist["tgi_request_queue_duration"].observe(max(start - r.arrival, 0.0))
        self.hist["tgi_request_inference_duration"].observe(inference)
        self.hist["tgi_request_mean_time_per_token_duration"].observe(inference / tokens)
        self.hist["tgi_request_generated_tokens"].observe(len(r.output))
        self.hist["tgi_request_input_length"].observe(len(r.prompt_ids))

    def failed(self) -> None:
        """A request the backend failed (error storm): TGI counts err="generation"."""
        self.counters["tgi_request_count"] += 1
        self.failures["generation"] = self.failures.get("generation", 0) + 1

    def http(self, *_args: object) -> None:
        """TGI exports no per-handler HTTP metrics."""

    # -- exposition ------------------------------------------------------------------------
    def exposition(self, *, vllm_disabled: bool = False, underscore: bool = False) -> bytes:
        if vllm_disabled:  # the `metrics-disabled` fault: no engine metrics at all
            return b"\n"
        lines: list[str] = []

        def head(name: str) -> None:
            lines.extend((f"# HELP {name} {self.help[name]}", f"# TYPE {name} {self.types[name]}"))

        for name, v in self.counters.items():
            head(name)
            lines.append(f"{name} {_fmt(v)}")
        if self.failures:
            head("tgi_request_failure")
            lines += [
                f'tgi_request_failure{{err="{e}"}} {_fmt(v)}' for e, v in self.failures.items()
            ]
        for name, v in self.gauges_.items():
            head(name)
            lines.append(f"{name} {_fmt(v)}")
        for name, h in self.hist.items():
            if h.count:
                head(name)
                lines += h.lines(name)
        return ("\n".join(lines) + "\n").encode()
