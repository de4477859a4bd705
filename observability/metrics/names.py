"""Logical signals and the exposed series names that carry them in each vLLM generation.

This is the one place a `vllm:` or `DCGM_` name is typed. Rules, dashboards, simulators,
lint and tests import these constants. Names are the *exposed* family names: counters
carry `_total` (prometheus_client strips and re-adds it), histograms are the base name
(append `_bucket`/`_sum`/`_count`).

`V1` is the name in the newest vLLM release; `V0` is the name vLLM 0.7.3 exposes (the
seed deployments' version) when it differs. A query that must work on both uses the
newest name first and falls back with `or` (see promql.py).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DCGM", "SIGNALS", "VLLM", "Signal"]


@dataclass(frozen=True)
class Signal:
    """One thing we measure, with its exposed family name per vLLM generation."""

    key: str
    v1: str | None  # newest release; None = removed
    v0: str | None  # vLLM 0.7.3; None = not exposed there
    kind: str  # gauge | counter | histogram
    note: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every exposed family name, newest first, without duplicates."""
        out: list[str] = []
        for n in (self.v1, self.v0):
            if n and n not in out:
                out.append(n)
        return tuple(out)


class VLLM:
    """vLLM engine metric family names (exposed form)."""

    RUNNING = Signal("running", "vllm:num_requests_running", "vllm:num_requests_running", "gauge")
    WAITING = Signal("waiting", "vllm:num_requests_waiting", "vllm:num_requests_waiting", "gauge")
    KV_CACHE_USAGE = Signal(
        "kv_cache_usage",
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_cache_usage_perc",
        "gauge",
        "renamed in 0.9.2, old name removed in 0.12.0; ratio 0..1 despite the name",
    )
    PREEMPTIONS = Signal(
        "preemptions", "vllm:num_preemptions_total", "vllm:num_preemptions_total", "counter"
    )
    PROMPT_TOKENS = Signal(
        "prompt_tokens", "vllm:prompt_tokens_total", "vllm:prompt_tokens_total", "counter"
    )
    GENERATION_TOKENS = Signal(
        "generation_tokens",
        "vllm:generation_tokens_total",
        "vllm:generation_tokens_total",
        "counter",
    )
    REQUEST_SUCCESS = Signal(
        "request_success",
        "vllm:request_success_total",
        "vllm:request_success_total",
        "counter",
        "label finished_reason: stop|length|abort (+error from 0.16, +repetition from 0.20)",
    )
    PREFIX_CACHE_QUERIES = Signal(
        "prefix_cache_queries",
        "vllm:prefix_cache_queries_total",
        None,
        "counter",
        "0.7.3 has only the gpu_prefix_cache_hit_rate gauge",
    )
    PREFIX_CACHE_HITS = Signal("prefix_cache_hits", "vllm:prefix_cache_hits_total", None, "counter")
    PREFIX_CACHE_HIT_RATE_V0 = Signal(
        "prefix_cache_hit_rate", None, "vllm:gpu_prefix_cache_hit_rate", "gauge"
    )
    TTFT = Signal(
        "ttft", "vllm:time_to_first_token_seconds", "vllm:time_to_first_token_seconds", "histogram"
    )
    ITL = Signal(
        "itl",
        "vllm:inter_token_latency_seconds",
        "vllm:time_per_output_token_seconds",
        "histogram",
        "renamed in 0.10.2, old name removed in 0.15.0",
    )
    E2E = Signal(
        "e2e", "vllm:e2e_request_latency_seconds", "vllm:e2e_request_latency_seconds", "histogram"
    )
    QUEUE_TIME = Signal(
        "queue_time",
        "vllm:request_queue_time_seconds",
        "vllm:request_queue_time_seconds",
        "histogram",
    )
    PREFILL_TIME = Signal(
        "prefill_time",
        "vllm:request_prefill_time_seconds",
        "vllm:request_prefill_time_seconds",
        "histogram",
    )
    DECODE_TIME = Signal(
        "decode_time",
        "vllm:request_decode_time_seconds",
        "vllm:request_decode_time_seconds",
        "histogram",
    )
    INFERENCE_TIME = Signal(
        "inference_time",
        "vllm:request_inference_time_seconds",
        "vllm:request_inference_time_seconds",
        "histogram",
    )
    PROMPT_LEN = Signal(
        "prompt_len", "vllm:request_prompt_tokens", "vllm:request_prompt_tokens", "histogram"
    )
    GENERATION_LEN = Signal(
        "generation_len",
        "vllm:request_generation_tokens",
        "vllm:request_generation_tokens",
        "histogram",
    )
    REQUEST_TPOT = Signal(
        "request_tpot",
        "vllm:request_time_per_output_token_seconds",
        None,
        "histogram",
        "per-request mean time per output token (decode time / (output tokens - 1)), "
        "from 0.11; 0.7.3 and 0.10.1 have only the per-token time_per_output_token",
    )
    ITERATION_TOKENS = Signal(
        "iteration_tokens",
        "vllm:iteration_tokens_total",
        "vllm:iteration_tokens_total",
        "histogram",
        "tokens (prefill + decode) scheduled per engine step: the real batch size",
    )
    WAITING_BY_REASON = Signal(
        "waiting_by_reason",
        "vllm:num_requests_waiting_by_reason",
        None,
        "gauge",
        "label reason: capacity (no KV blocks) | deferred (e.g. waiting for a KV transfer)",
    )
    PROMPT_TOKENS_BY_SOURCE = Signal(
        "prompt_tokens_by_source",
        "vllm:prompt_tokens_by_source_total",
        None,
        "counter",
        "label source: local_compute | local_cache_hit | external_kv_transfer",
    )
    EXTERNAL_PREFIX_CACHE_QUERIES = Signal(
        "external_prefix_cache_queries",
        "vllm:external_prefix_cache_queries_total",
        None,
        "counter",
        "KV-connector (e.g. LMCache, offloading) lookups; stays 0 without --kv-transfer-config",
    )
    EXTERNAL_PREFIX_CACHE_HITS = Signal(
        "external_prefix_cache_hits", "vllm:external_prefix_cache_hits_total", None, "counter"
    )
    MM_CACHE_QUERIES = Signal(
        "mm_cache_queries",
        "vllm:mm_cache_queries_total",
        None,
        "counter",
        "multimodal processor cache lookups; stays 0 for text-only models",
    )
    MM_CACHE_HITS = Signal("mm_cache_hits", "vllm:mm_cache_hits_total", None, "counter")
    ENGINE_SLEEP_STATE = Signal(
        "engine_sleep_state",
        "vllm:engine_sleep_state",
        None,
        "gauge",
        "label sleep_state: awake (1 awake, 0 asleep) | weights_offloaded (level 1) | "
        "discard_all (level 2); set for every engine of a server at once; from 0.11",
    )
    MFU_FLOPS = Signal(
        "mfu_flops",
        "vllm:estimated_flops_per_gpu_total",
        None,
        "counter",
        "vllm/v1/metrics/perf.py PerfMetricsProm: registered from 0.26, counts only with "
        "--enable-mfu-metrics; rate() is FLOP/s per GPU",
    )
    MFU_READ_BYTES = Signal(
        "mfu_read_bytes", "vllm:estimated_read_bytes_per_gpu_total", None, "counter"
    )
    MFU_WRITE_BYTES = Signal(
        "mfu_write_bytes", "vllm:estimated_write_bytes_per_gpu_total", None, "counter"
    )
    LORA_INFO = Signal(
        "lora_info",
        "vllm:lora_requests_info",
        "vllm:lora_requests_info",
        "gauge",
        "labels running_lora_adapters, waiting_lora_adapters (comma-separated), max_lora; "
        "no model_name; V1 registers it only with --enable-lora",
    )
    SPEC_DRAFT_TOKENS = Signal(
        "spec_draft_tokens",
        "vllm:spec_decode_num_draft_tokens_total",
        "vllm:spec_decode_num_draft_tokens_total",
        "counter",
        "only with --speculative-config",
    )
    SPEC_ACCEPTED_TOKENS = Signal(
        "spec_accepted_tokens",
        "vllm:spec_decode_num_accepted_tokens_total",
        "vllm:spec_decode_num_accepted_tokens_total",
        "counter",
        "only with --speculative-config",
    )
    HTTP_DURATION = Signal(
        "http_duration",
        "http_request_duration_seconds",
        None,
        "histogram",
        "from prometheus-fastapi-instrumentator; labels method, handler; no model_name",
    )
    HTTP_REQUESTS = Signal(
        "http_requests",
        "http_requests_total",
        None,
        "counter",
        "from prometheus-fastapi-instrumentator; no model_name label; status=2xx|4xx|5xx",
    )


class DCGM:
    """dcgm-exporter default-counter field names (etc/default-counters.csv)."""

    GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"  # percent 0..100
    FB_USED = "DCGM_FI_DEV_FB_USED"  # MiB
    FB_FREE = "DCGM_FI_DEV_FB_FREE"  # MiB
    POWER_USAGE = "DCGM_FI_DEV_POWER_USAGE"  # W
    GPU_TEMP = "DCGM_FI_DEV_GPU_TEMP"  # C
    MEMORY_TEMP = "DCGM_FI_DEV_MEMORY_TEMP"  # C
    XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"  # gauge: value of the last XID
    SM_CLOCK = "DCGM_FI_DEV_SM_CLOCK"
    MEM_CLOCK = "DCGM_FI_DEV_MEM_CLOCK"
    TOTAL_ENERGY = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"  # mJ counter
    TENSOR_ACTIVE = "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"
    GR_ENGINE_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"


SIGNALS: dict[str, Signal] = {s.key: s for s in vars(VLLM).values() if isinstance(s, Signal)}
