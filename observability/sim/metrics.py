"""vLLM metrics for one replica: the only module touching prometheus_client objects.

Every family of the selected catalog that vLLM registers with default serve flags is
created with its exact name, help, label names and buckets in a private registry, and
updated from engine events the way vLLM updates it. Exposition is text format 0.0.4
(`generate_latest`), which keeps `vllm:` names for Prometheus 2.x.
"""

from __future__ import annotations

import json
import time
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client import exposition as _exposition
from prometheus_client import metrics as _pc_metrics

from observability.metrics.catalog import Catalog

if TYPE_CHECKING:
    from observability.sim.engine import Engine, Request, StepStats

__all__ = ["CONTENT_TYPE", "ReplicaMetrics", "set_created_series"]

CONTENT_TYPE = _exposition.CONTENT_TYPE_LATEST  # text/plain; version=0.0.4
_CLS = {"gauge": Gauge, "counter": Counter, "histogram": Histogram, "summary": Summary}
# label values vLLM pre-creates so series exist at 0 (0.33 names; filtered by catalog)
_FINISH_REASONS = {
    "0.7": ("stop", "length", "abort"),
    "default": ("stop", "length", "abort", "error", "repetition"),
}


def set_created_series(enabled: bool) -> None:
    """V0 disables `_created` series (process-wide in prometheus_client); V1 keeps them."""
    _pc_metrics._use_created = enabled


class ReplicaMetrics:
    def __init__(self, catalog: Catalog, model_name: str, labels: dict[str, str]) -> None:
        self.catalog = catalog
        self.v0 = catalog.version.startswith("0.7.")
        self.registry = CollectorRegistry(auto_describe=False)
        self.m: dict[str, Any] = {}
        self.model_name = model_name
        self.base = (
            {"model_name": model_name} if self.v0 else {"model_name": model_name, "engine": "0"}
        )
        self.info_labels = labels
        defaults = _defaults(catalog.version)
        for fam in catalog.families.values():
            if fam.name not in defaults:
                continue
            kwargs: dict[str, Any] = {"registry": self.registry}
            if fam.type == "histogram":
                kwargs["buckets"] = list(fam.buckets or ())
            name = fam.name.removesuffix("_total") if fam.type == "counter" else fam.name
            self.m[fam.name] = _CLS[fam.type](name, fam.help, list(fam.labels), **kwargs)
        self._precreate()

    # --- helpers -------------------------------------------------------------------------
    def _l(self, name: str, **extra: str) -> Any | None:
        metric = self.m.get(name)
        return metric.labels(**self.base, **extra) if metric is not None else None

    def _inc(self, name: str, value: float = 1.0, **extra: str) -> None:
        child = self._l(name, **extra)
        if child is not None and value:
            child.inc(value)

    def _set(self, name: str, value: float, **extra: str) -> None:
        child = self._l(name, **extra)
        if child is not None:
            child.set(value)

    def _obs(self, name: str, value: float) -> None:
        child = self._l(name)
        if child is not None:
            child.observe(max(0.0, value))  # clock lag absorption can cross 0

    def _precreate(self) -> None:
        reasons = _FINISH_REASONS["0.7" if self.v0 else "default"]
        if _vtuple(self.catalog.version) < (0, 16):
            reasons = reasons[:3]  # error (0.16) and repetition (0.20) came later
        if _vtuple(self.catalog.version) < (0, 20):
            reasons = reasons[:4]
        if not self.v0:
            for reason in reasons:
                self._l("vllm:request_success_total", finished_reason=reason)
            for reason in ("capacity", "deferred"):
                self._set("vllm:num_requests_waiting_by_reason", 0, reason=reason)
            for state, value in (("awake", 1), ("weights_offloaded", 0), ("discard_all", 0)):
                self._set("vllm:engine_sleep_state", value, sleep_state=state)
            for src in ("local_compute", "local_cache_hit", "external_kv_transfer"):
                self._l("vllm:prompt_tokens_by_source_total", source=src)
            for src in ("device", "host", "p2p", "disk", "external_unspecified"):
                self._l("vllm:prompt_tokens_cached_by_source_total", source=src)
            rej = self.m.get("vllm:admission_rejections_total")
            if rej is not None:
                for reason in ("max_num_queued_reqs", "max_num_queued_tokens"):
                    rej.labels(model_name=self.model_name, reason=reason)
        else:
            lora = self.m.get("vllm:lora_requests_info")
            if lora is not None:
                lora.labels(running_lora_adapters="", max_lora="0", waiting_lora_adapters="")
                lora.labels(running_lora_adapters="", max_lora="0", waiting_lora_adapters="").set(
                    time.time()
                )
        info = self.m.get("vllm:cache_config_info")
        if info is not None:
            fam = self.catalog.families["vllm:cache_config_info"]
            values = {k: self.info_labels.get(k, "None") for k in fam.labels}
            if "engine" in values:
                values["engine"] = "0"
            info.labels(**values).set(1)
        for name in (
            "vllm:num_preemptions_total",
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:tokens_total",
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_hits_total",
            "vllm:gpu_prefix_cache_queries_total",
            "vllm:gpu_prefix_cache_hits_total",
            "vllm:prompt_tokens_cached_total",
            "vllm:external_prefix_cache_queries_total",
            "vllm:external_prefix_cache_hits_total",
            "vllm:mm_cache_queries_total",
            "vllm:mm_cache_hits_total",
        ):
            self._l(name)
        self.gauges_from(0, 0, 0.0)

    # --- engine events ----------------------------------------------------------------------
    def gauges(self, engine: Engine) -> None:
        self.gauges_from(len(engine.running), len(engine.waiting), engine.kv.usage())

    def gauges_from(self, running: int, waiting: int, usage: float) -> None:
        self._set("vllm:num_requests_running", running)
        self._set("vllm:num_requests_waiting", waiting)
        self._set("vllm:num_requests_waiting_by_reason", waiting, reason="capacity")
        self._set("vllm:kv_cache_usage_perc", usage)
        self._set("vllm:gpu_cache_usage_perc", usage)
        if self.v0:
            self._set("vllm:num_requests_swapped", 0)
            self._set("vllm:cpu_cache_usage_perc", 0)
            self._set("vllm:cpu_prefix_cache_hit_rate", -1)  # vLLM reports -1 without CPU cache

    def step(self, engine: Engine, s: StepStats) -> None:
        self._inc("vllm:num_preemptions_total", s.preemptions)
        self._inc("vllm:generation_tokens_total", s.decode_tokens + len(s.prompt_done))
        prompt = sum(len(r.prompt_ids) for r in s.prompt_done)
        cached = sum(r.cached_tokens for r in s.prompt_done)
        self._inc("vllm:prompt_tokens_total", prompt)
        self._inc("vllm:prompt_tokens_by_source_total", prompt - cached, source="local_compute")
        self._inc("vllm:prompt_tokens_by_source_total", cached, source="local_cache_hit")
        self._inc("vllm:prompt_tokens_cached_total", cached)
        self._inc("vllm:prompt_tokens_cached_by_source_total", cached, source="device")
        self._inc("vllm:tokens_total", prompt + s.decode_tokens + len(s.prompt_done))
        for name in ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"):
            self._inc(name, s.prefix_queries)
        for name in ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"):
            self._inc(name, s.prefix_hits)
        if s.prefix_queries and self.v0:
            self._set("vllm:gpu_prefix_cache_hit_rate", s.prefix_hits / s.prefix_queries)
        self._obs("vllm:iteration_tokens_total", s.prefill_tokens + s.decode_tokens)
        for itl in s.itl:
            self.token_latency(itl)
        for req in s.prompt_done:
            if req.first_token is not None and len(req.output) <= 1:
                self._obs("vllm:time_to_first_token_seconds", req.first_token - req.arrival)

    def token_latency(self, itl: float) -> None:
        self._obs("vllm:time_per_output_token_seconds", itl)
        self._obs("vllm:inter_token_latency_seconds", itl)

    def finished(self, engine: Engine, r: Request) -> None:
        for itl in r.itl:
            self.token_latency(itl)
        r.itl.clear()
        reason = r.finished_reason or "abort"
        self._inc("vllm:request_success_total", 1, finished_reason=reason)
        if reason == "abort" and self.v0:
            return  # V0 drops aborted requests from the latency histograms
        end = r.finished if r.finished is not None else r.arrival
        queued_until = r.scheduled if r.scheduled is not None else end
        self._obs("vllm:e2e_request_latency_seconds", end - r.arrival)
        self._obs("vllm:request_queue_time_seconds", queued_until - r.arrival)
        self._obs("vllm:time_in_queue_requests", queued_until - r.arrival)
        if r.first_token is not None and r.scheduled is not None and r.last_token is not None:
            self._obs("vllm:request_prefill_time_seconds", r.first_token - r.scheduled)
            self._obs("vllm:request_decode_time_seconds", r.last_token - r.first_token)
            self._obs("vllm:request_inference_time_seconds", r.last_token - r.scheduled)
            if len(r.output) > 1:
                tpot = (r.last_token - r.first_token) / (len(r.output) - 1)
                self._obs("vllm:request_time_per_output_token_seconds", tpot)
        self._obs("vllm:request_prompt_tokens", len(r.prompt_ids))
        self._obs("vllm:request_generation_tokens", len(r.output))
        self._obs("vllm:request_prefill_kv_computed_tokens", len(r.prompt_ids) - r.cached_tokens)
        self._obs("vllm:request_params_n", r.n_param)
        self._obs("vllm:request_max_num_generation_tokens", r.max_tokens)
        if r.max_tokens_param is not None:
            self._obs("vllm:request_params_max_tokens", r.max_tokens_param)
        self._obs("vllm:request_num_preemptions", r.preemptions)

    def failed(self) -> None:
        """A request the engine failed (error storm): V1 >= 0.16 counts finished_reason=error."""
        if _vtuple(self.catalog.version) >= (0, 16):
            self._inc("vllm:request_success_total", 1, finished_reason="error")

    # --- HTTP (prometheus-fastapi-instrumentator defaults) -----------------------------------
    def http(
        self, handler: str, method: str, status: int, seconds: float, size_in: int, size_out: int
    ) -> None:
        if "http_requests_total" not in self.m:
            return
        self.m["http_requests_total"].labels(
            method=method, status=f"{status // 100}xx", handler=handler
        ).inc()
        self.m["http_request_size_bytes"].labels(handler=handler).observe(size_in)
        self.m["http_response_size_bytes"].labels(handler=handler).observe(size_out)
        self.m["http_request_duration_highr_seconds"].observe(seconds)
        self.m["http_request_duration_seconds"].labels(method=method, handler=handler).observe(
            seconds
        )

    # --- exposition ----------------------------------------------------------------------------
    def exposition(self, *, vllm_disabled: bool = False, underscore: bool = False) -> bytes:
        text = _exposition.generate_latest(self.registry).decode()
        if vllm_disabled or underscore:
            out = []
            for line in text.splitlines():
                if line.startswith("#"):
                    if vllm_disabled and line.split(" ", 3)[2].startswith("vllm:"):
                        continue
                elif line.startswith("vllm:"):
                    if vllm_disabled:
                        continue
                    line = "vllm_" + line[5:]  # client_python#1177: samples only
                out.append(line)
            text = "\n".join(out) + "\n"
        return text.encode()


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".") if x.isdigit())


@cache
def _defaults(version: str) -> set[str]:
    """Families vLLM registers with default `vllm serve` flags (data key `default`)."""
    raw = json.loads(
        resources.files("observability.metrics")
        .joinpath("data", f"vllm-{version}.json")
        .read_text()
    )
    return {f["name"] for f in raw["families"] if f.get("default", True)}
