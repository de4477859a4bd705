"""Per cataloged vLLM version, the simulator's engine gauges move with load: KV-cache
usage (0.7.3 `gpu_cache_usage_perc`, 0.10.1 both names, 0.33.0 `kv_cache_usage_perc`),
running and waiting rise under concurrent requests and return to 0 when they finish.
A gauge stuck at 0 (or never updated for one version's name) fails here."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sim_helpers import MODEL, free_range, scrape, value

from observability.sim import SimConfig, SimModel, SimThread

# Literal per version: the KV names each release exposes by default (vendored sources).
KV_NAMES = {
    "0.7.3": ("vllm:gpu_cache_usage_perc",),
    "0.10.1": ("vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"),
    "0.33.0": ("vllm:kv_cache_usage_perc",),
}
MAX_NUM_SEQS = 4
CLIENTS = 10  # more than MAX_NUM_SEQS, so some wait


def _load(port: int, stop: threading.Event) -> None:
    body = {
        "model": MODEL,
        "prompt": "tell me a long story " * 40,
        "max_tokens": 400,
        "ignore_eos": True,
    }
    with httpx.Client(timeout=30) as c:
        while not stop.is_set():
            c.post(f"http://127.0.0.1:{port}/v1/completions", json=body)


@pytest.mark.parametrize("version", sorted(KV_NAMES))
def test_engine_gauges_follow_load(version):
    base = free_range(3)
    cfg = SimConfig(
        models=(
            SimModel(
                "deepseek-r1-distill-llama-8b", MODEL, max_model_len=8192, max_num_seqs=MAX_NUM_SEQS
            ),
        ),
        replicas=1,
        port=base,
        dcgm_port=base + 1,
        admin_port=base + 2,
        vllm_version=version,
        time_scale=0.05,
    )
    names = (*KV_NAMES[version], "vllm:num_requests_running", "vllm:num_requests_waiting")
    with SimThread(cfg) as sim:
        port = sim.manifest["replicas"][0]["port"]
        idle = scrape(port)
        assert [value(idle, n) for n in names] == [0.0] * len(names)
        stop = threading.Event()
        threads = [threading.Thread(target=_load, args=(port, stop)) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        peak = dict.fromkeys(names, 0.0)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not all(peak[n] > 0 for n in names):
                text = scrape(port)
                for n in names:
                    peak[n] = max(peak[n], value(text, n))
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert all(peak[n] > 0 for n in names), (version, peak)
        assert peak["vllm:num_requests_running"] <= MAX_NUM_SEQS
        for n in KV_NAMES[version]:
            assert 0 < peak[n] <= 1, (n, peak[n])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = [value(scrape(port), n) for n in names]
            if after == [0.0] * len(names):
                break
            time.sleep(0.1)
        assert after == [0.0] * len(names), (version, after)
