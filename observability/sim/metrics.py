"""vLLM metrics for one replica: the only module touching prometheus_client objects.

Every family of the selected catalog that vLLM registers with default serve flags is
created with its exact name, help, label names and buckets in a private registry, and
updated from engine events the way vLLM updates it. Exposition is text format 0.0.4
(`generate_latest`), which keeps `vllm:` names for Prometheus 2.x.

Cost: a replica that has served traffic exposes ~560 lines, and `generate_latest` over all
of them took ~2.4 ms, the sim's whole budget per replica at a 1 s scrape. Every update goes
through `_l`/`http` here, which mark their family changed; exposition re-renders only the
changed families (with `generate_latest` itself) and reuses the rest, so an idle replica
costs a join and a busy one the few families a second of tokens touched. The result is
byte-identical to rendering the whole registry (tests/test_sim_metrics_cache.py).
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

from observability.metrics.catalog import Catalog, process_catalog
from observability.metrics.names import VLLM
from observability.sim.flags import FlagEvents, SimFlags, flag_families

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

# A request whose client disconnects is aborted by the API server, and no cataloged vLLM
# counts it: no request_success_total{finished_reason="abort"}, no per-request histogram
# (its inter-token latencies and tokens were recorded step by step). Read per release:
CLIENT_ABORTS = {
    "0.7.3": "uncounted: vllm/core/scheduler.py Scheduler.abort_seq_group takes the group "
    "out of the waiting/running/swapped queues, and vllm/engine/llm_engine.py "
    "LLMEngine._get_stats records finished requests only among the scheduled groups",
    **{
        v: "uncounted: vllm/v1/engine/async_llm.py AsyncLLM.abort calls "
        "vllm/v1/engine/output_processor.py OutputProcessor.abort_requests, which drops the "
        "request's state without recording it; process_outputs then ignores the engine "
        "core's output for it ('Ignore output for already-aborted request')"
        for v in ("0.10.1", "0.26.0", "0.33.0")
    },
}
# What `abort` does count: 0.7.3 and 0.10.1 nothing; from 0.26 the requests the engine
# aborts itself (vllm/v1/engine/core.py _send_abort_outputs: /pause or /sleep in their
# default mode "abort", a shutdown without drain), which keep their state and are recorded.

MFU_FLOPS = VLLM.MFU_FLOPS.v1 or ""
MFU_READ = VLLM.MFU_READ_BYTES.v1 or ""
MFU_WRITE = VLLM.MFU_WRITE_BYTES.v1 or ""


def set_created_series(enabled: bool) -> None:
    """V0 disables `_created` series (process-wide in prometheus_client); V1 keeps them."""
    _pc_metrics._use_created = enabled


def _one_two_five(max_value: float) -> list[float]:
    """1, 2, 5, 10, 20, 50, ... up to `max_value` (vLLM's build_1_2_5_buckets)."""
    out: list[float] = []
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale > max_value:
                return out
            out.append(float(m * scale))
        scale *= 10


def token_buckets(
    fam_name: str, buckets: tuple[float, ...], max_model_len: int | None
) -> list[float]:
    """A histogram's edges as vLLM builds them for this replica: the token-count families
    (request prompt/generation/max tokens, prefill KV computed tokens) are a 1-2-5 series
    capped at --max-model-len (checked against a real vLLM 0.32 serving with
    --max-model-len 512: edges 1..500); the catalog records them for max_model_len 8192
    (1..5000). Every other family keeps the catalog's edges."""
    edges = [float(b) for b in buckets]
    if (
        max_model_len is None
        or "tokens" not in fam_name
        or not edges
        or edges != _one_two_five(edges[-1])
    ):
        return edges
    return _one_two_five(max_model_len)


class ReplicaMetrics:
    def __init__(
        self,
        catalog: Catalog,
        model_name: str,
        labels: dict[str, str],
        max_model_len: int | None = None,
        flags: SimFlags | None = None,
        role: str = "",
        kv_geometry: tuple[int, int, int] = (16, 131072, 1024),
    ) -> None:
        """`flags` (sim/flags.py): the serve flags and KV connectors this replica runs
        with, `role` its NIXL prefill/decode role, `kv_geometry` (block size, KV bytes per
        token, GPU blocks) what its offload and transfer sizes follow."""
        self.catalog = catalog
        self.v0 = catalog.version.startswith("0.7.")
        self._by_source = "vllm:prompt_tokens_by_source_total" in catalog.families
        self.registry = CollectorRegistry(auto_describe=False)
        self.m: dict[str, Any] = {}
        self.model_name = model_name
        self.base = (
            {"model_name": model_name} if self.v0 else {"model_name": model_name, "engine": "0"}
        )
        self.info_labels = labels
        self._children: dict[tuple[Any, ...], Any] = {}  # (family, *extra labels) -> child
        self._gauge_values: dict[tuple[Any, ...], float] = {}  # last value `_set` wrote
        self._changed: set[str] = set()  # families updated since their text was rendered
        self._text: dict[str, str] = {}  # family -> its rendered exposition
        self._body: bytes | None = None  # the whole exposition while nothing changed
        defaults = _defaults(catalog.version)
        flags = flags or SimFlags()
        extra = {f.name: f for f in flag_families(catalog, flags, role)}  # ValueError: not here
        for fam in [*catalog.families.values(), *extra.values()]:
            if fam.name not in defaults and fam.name not in extra:
                continue
            if fam.name in self.m:
                continue
            kwargs: dict[str, Any] = {"registry": self.registry}
            if fam.type == "histogram":
                kwargs["buckets"] = token_buckets(fam.name, fam.buckets or (), max_model_len)
            name = fam.name.removesuffix("_total") if fam.type == "counter" else fam.name
            self.m[fam.name] = _CLS[fam.type](name, fam.help, list(fam.labels), **kwargs)
        # The API server's process collector (prometheus_client's, on vLLM's default
        # registry): unlabelled, modelled per replica (see `_process`).
        self._started = time.time()
        self._cpu_s = 0.0
        for fam in process_catalog().families.values():
            name = fam.name.removesuffix("_total") if fam.type == "counter" else fam.name
            self.m[fam.name] = _CLS[fam.type](name, fam.help, [], registry=self.registry)
        self._changed.update(self.m)
        self.flagged = FlagEvents(self, flags, role, *kv_geometry) if flags.any else None
        self._precreate()
        if self.flagged is not None:
            self.flagged.precreate()

    # --- helpers -------------------------------------------------------------------------
    def _l(self, name: str, **extra: str) -> Any | None:
        """The child to update (cached: `labels()` costs more than the update itself)."""
        key = (name, *extra.items())
        child = self._children.get(key)
        if child is None:
            metric = self.m.get(name)
            if metric is None:
                return None
            child = self._children[key] = metric.labels(**self.base, **extra)
        self._changed.add(name)
        return child

    def _inc(self, name: str, value: float = 1.0, **extra: str) -> None:
        if not value:
            return  # adding 0 changes nothing: the family's text stays cached
        child = self._l(name, **extra)
        if child is not None:
            child.inc(value)

    def _set(self, name: str, value: float, **extra: str) -> None:
        key = (name, *extra.items())
        if self._gauge_values.get(key) == value:
            return  # the engine re-sets its gauges every step, mostly to the same value
        child = self._l(name, **extra)
        if child is not None:
            child.set(value)
            self._gauge_values[key] = value

    def _obs(self, name: str, value: float, **extra: str) -> None:
        child = self._l(name, **extra)
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
            MFU_FLOPS,
            MFU_READ,
            MFU_WRITE,
        ):
            self._l(name)
        self.gauges_from(0, 0, 0.0)

    def sleep_level(self, level: int) -> bool:
        """vLLM's record_sleep_state: 0 awake; 1 weights offloaded; 2 everything discarded
        (set for every engine of the server at once). True when this puts an awake engine
        to sleep on a version whose /sleep aborts the requests in flight: from 0.26
        AsyncLLM.sleep pauses in its default mode "abort", and the engine core sends each
        an abort output that is counted (CLIENT_ABORTS' note); 0.10.1 does not pause."""
        awake = self._gauge_values.get(("vllm:engine_sleep_state", ("sleep_state", "awake")), 1)
        for state, value in (
            ("awake", int(level == 0)),
            ("weights_offloaded", int(level == 1)),
            ("discard_all", int(level == 2)),
        ):
            self._set("vllm:engine_sleep_state", value, sleep_state=state)
        return bool(level) and awake == 1 and _vtuple(self.catalog.version) >= (0, 26)

    # --- engine events ----------------------------------------------------------------------
    def gauges(self, engine: Engine) -> None:
        self.gauges_from(len(engine.running), len(engine.waiting), engine.kv.usage())

    def _process(self, running: int, waiting: int) -> None:
        """A replica's API server process: ~1.5 GiB resident plus ~2 MiB per request it
        holds, one socket per request beside ~40 base descriptors, CPU time from `step`."""
        values = {
            "process_resident_memory_bytes": 1.5 * 2**30 + 2 * 2**20 * (running + waiting),
            "process_virtual_memory_bytes": 12 * 2**30,
            "process_open_fds": 40.0 + running + waiting,
            "process_max_fds": 1048576.0,
            "process_start_time_seconds": round(self._started, 2),
        }
        for name, value in values.items():
            if self._gauge_values.get((name,)) != value:
                self.m[name].set(value)
                self._gauge_values[(name,)] = value
                self._changed.add(name)

    def gauges_from(self, running: int, waiting: int, usage: float) -> None:
        self._process(running, waiting)
        self._set("vllm:num_requests_running", running)
        self._set("vllm:num_requests_waiting", waiting)
        self._set("vllm:num_requests_waiting_by_reason", waiting, reason="capacity")
        self._set("vllm:kv_cache_usage_perc", usage)
        self._set("vllm:gpu_cache_usage_perc", usage)
        if self.flagged is not None:
            self.flagged.waiting(waiting)
        if self.v0:
            self._set("vllm:num_requests_swapped", 0)
            self._set("vllm:cpu_cache_usage_perc", 0)
            self._set("vllm:cpu_prefix_cache_hit_rate", -1)  # vLLM reports -1 without CPU cache

    def step(self, engine: Engine, s: StepStats) -> None:
        # tokenizing and detokenizing: ~20 us of API-server CPU per token
        cpu = 2e-5 * (s.prefill_tokens + s.decode_tokens)
        if cpu:
            self.m["process_cpu_seconds_total"].inc(cpu)
            self._changed.add("process_cpu_seconds_total")
        self._inc("vllm:num_preemptions_total", s.preemptions)
        self._inc("vllm:generation_tokens_total", s.decode_tokens + len(s.prompt_done))
        prompt = sum(len(r.prompt_ids) for r in s.prompt_done)
        cached = sum(r.cached_tokens for r in s.prompt_done)
        external = 0  # prompt tokens a decode worker pulled over NIXL
        if self.flagged is not None:
            self.flagged.decode_step(s.decode_tokens)
            external = sum(self.flagged.prompt_done(r) for r in s.prompt_done)
        self._inc("vllm:prompt_tokens_total", prompt)
        self._inc(
            "vllm:prompt_tokens_by_source_total",
            prompt - cached - external,
            source="local_compute",
        )
        self._inc("vllm:prompt_tokens_by_source_total", external, source="external_kv_transfer")
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
        self._obs("vllm:iteration_tokens_total", self._iteration_tokens(s, prompt, cached))
        self._mfu(engine, s.prefill_tokens + s.decode_tokens)
        for itl in s.itl:
            self.token_latency(itl)
        for req in s.prompt_done:
            if req.first_token is not None and len(req.output) <= 1:
                self._obs("vllm:time_to_first_token_seconds", req.first_token - req.arrival)

    def _iteration_tokens(self, s: StepStats, prompt: int, cached: int) -> int:
        """A step's vllm:iteration_tokens_total observation. V1 (v1/metrics/loggers.py)
        counts what its counters count: each prompt once, when its prefill ends (not per
        chunk, not again after a preemption), plus every generated token, a request's first
        included; from the prompt-source split (0.32 and the 0.33 catalog) only the
        computed prompt tokens, the cached ones left out. The recorded real exposition
        (tests/fixtures/real-engine) holds sum = prompt - cached + generation exactly. V0
        counts the tokens the step computed."""
        if self.v0:
            return s.prefill_tokens + s.decode_tokens
        computed = prompt - cached if self._by_source else prompt
        return computed + s.decode_tokens + len(s.prompt_done)

    def _mfu(self, engine: Engine, tokens: int) -> None:
        """vLLM's MFU counters (vllm/v1/metrics/perf.py, registered from 0.26), to first
        order: a dense model does 2 FLOPs per parameter per token (parameters = bf16
        weight bytes / 2), a step reads every weight once plus each token's KV and
        writes each token's KV."""
        if not tokens or MFU_FLOPS not in self.m:
            return
        weights = engine.profile.weights_gib * 1024**3
        kv = engine.profile.kv_bytes_per_token * tokens
        self._inc(MFU_FLOPS, weights * tokens)
        self._inc(MFU_READ, weights + kv)
        self._inc(MFU_WRITE, kv)

    def token_latency(self, itl: float) -> None:
        self._obs("vllm:time_per_output_token_seconds", itl)
        self._obs("vllm:inter_token_latency_seconds", itl)

    def finished(self, engine: Engine, r: Request) -> None:
        for itl in r.itl:
            self.token_latency(itl)
        r.itl.clear()
        if r.client_gone:
            return  # CLIENT_ABORTS: vLLM records nothing more of it
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
        self._changed.update(_HTTP_FAMILIES)
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
    def _render(self) -> bytes:
        if self._changed or self._body is None:
            for name in self._changed:
                self._text[name] = _exposition.generate_latest(_One(self.m[name])).decode()
            self._changed.clear()
            self._body = "".join(self._text[name] for name in self.m).encode()
        return self._body

    def exposition(self, *, vllm_disabled: bool = False, underscore: bool = False) -> bytes:
        body = self._render()
        if not (vllm_disabled or underscore):
            return body
        out = []
        for line in body.decode().splitlines():
            if line.startswith("#"):
                if vllm_disabled and line.split(" ", 3)[2].startswith("vllm:"):
                    continue
            elif line.startswith("vllm:"):
                if vllm_disabled:
                    continue
                line = "vllm_" + line[5:]  # client_python#1177: samples only
            out.append(line)
        return ("\n".join(out) + "\n").encode()


_HTTP_FAMILIES = (
    "http_requests_total",
    "http_request_size_bytes",
    "http_response_size_bytes",
    "http_request_duration_highr_seconds",
    "http_request_duration_seconds",
)


class _One:
    """One family as a collector, for `generate_latest` (its registration order is kept)."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> Any:
        return self.metric.collect()


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
