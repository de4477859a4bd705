"""The simulator feeds the request-shape, phase, scheduler and cache panels from its engine
model, per vLLM version: the families' numbers agree with each other the way vLLM's do."""

from __future__ import annotations

import pytest
from sim_helpers import MODEL, running_sim, scrape, value

from observability.httppool import shared_client

pytestmark = pytest.mark.timeout(90)

PROMPTS = ("one two three four five", "a much longer prompt " * 12)
MAX_TOKENS = (8, 40)


def _load(port: int) -> tuple[int, int]:
    """Sends every prompt with every max_tokens; returns (requests, generated tokens)."""
    url = f"http://127.0.0.1:{port}/v1/completions"
    n = gen = 0
    for prompt in PROMPTS:
        for max_tokens in MAX_TOKENS:
            body = {"model": MODEL, "prompt": prompt, "max_tokens": max_tokens}
            usage = shared_client().post(url, json=body, timeout=30).json()["usage"]
            n += 1
            gen += usage["completion_tokens"]
    return n, gen


@pytest.mark.parametrize("version", ["0.7.3", "0.10.1", "0.33.0"])
def test_lengths_phases_and_step_tokens_follow_the_engine(version):
    with running_sim(version) as sim:
        port = sim.manifest["replicas"][0]["port"]
        n, gen = _load(port)
        text = scrape(port)

    def v(name: str, **labels: str) -> float:
        return value(text, name, **labels)

    # prompt/output length histograms count each finished request once, with its tokens
    assert v("vllm:request_prompt_tokens_count") == n
    assert v("vllm:request_prompt_tokens_sum") == v("vllm:prompt_tokens_total")
    assert v("vllm:request_generation_tokens_count") == n
    assert v("vllm:request_generation_tokens_sum") == gen == v("vllm:generation_tokens_total")
    # phases: prefill (scheduled -> first token) + decode (first -> last) = inference
    prefill = v("vllm:request_prefill_time_seconds_sum")
    decode = v("vllm:request_decode_time_seconds_sum")
    assert prefill > 0 and decode > prefill  # decode steps outnumber prefill steps here
    assert prefill + decode == pytest.approx(v("vllm:request_inference_time_seconds_sum"))
    # tokens per engine step: V0 counts the tokens each step computed (a request's first
    # output token comes out of its prefill step); V1 counts each prompt once when its
    # prefill ends plus every generated token, the first included (the real engine's
    # recorded exposition: tests/test_sim_calibration.py)
    steps = v("vllm:iteration_tokens_total_count")
    assert steps >= gen - n
    generated = gen - n if version == "0.7.3" else gen
    computed_prompt = v("vllm:iteration_tokens_total_sum") - generated
    assert 0 < computed_prompt <= v("vllm:prompt_tokens_total")
    if version == "0.33.0":
        local = v("vllm:prompt_tokens_by_source_total", source="local_compute")
        hit = v("vllm:prompt_tokens_by_source_total", source="local_cache_hit")
        assert local + hit == v("vllm:prompt_tokens_total")
        assert local == computed_prompt
        assert v("vllm:prompt_tokens_by_source_total", source="external_kv_transfer") == 0
        # per-request time per output token: decode / (output tokens - 1), once per request
        assert v("vllm:request_time_per_output_token_seconds_count") == n
        tpot_sum = v("vllm:request_time_per_output_token_seconds_sum")
        assert decode / (gen - n) <= tpot_sum <= decode
        # idle now: nobody waits for any reason; both reasons are exposed at 0
        assert v("vllm:num_requests_waiting_by_reason", reason="capacity") == 0
        assert ("reason", "deferred") in _label_pairs(text, "vllm:num_requests_waiting_by_reason")
        # no KV connector and a text-only model: the lookups stay 0 (panels say why)
        assert v("vllm:external_prefix_cache_queries_total") == 0
        assert v("vllm:mm_cache_queries_total") == 0
    if version == "0.7.3":
        # V0 registers lora_requests_info always (max_lora 0 without --enable-lora)
        assert ("max_lora", "0") in _label_pairs(text, "vllm:lora_requests_info")
    else:
        assert "vllm:lora_requests_info" not in text  # V1: only with --enable-lora


def _label_pairs(text: str, name: str) -> set[tuple[str, str]]:
    from sim_helpers import samples

    return {pair for (n, lbls), _ in samples(text).items() if n == name for pair in lbls}
