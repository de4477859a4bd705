"""Each replica's exposition equals its vLLM version's catalog, family by family."""

from __future__ import annotations

import json
import math
from importlib import resources

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import MODEL, running_sim, scrape, value

from observability.httppool import shared_client
from observability.metrics.catalog import (
    available_vllm_versions,
    dcgm_catalog,
    process_catalog,
    vllm_catalog,
)
from observability.sim import SimModel

pytestmark = pytest.mark.timeout(60)


# V0 registers these always but records them only with --collect-detailed-traces or
# speculative decoding
_FEATURE_ONLY = ("model_forward_time", "model_execute_time", "spec_decode_")


def _default_families(version: str) -> set[str]:
    raw = json.loads(
        resources.files("observability.metrics")
        .joinpath("data", f"vllm-{version}.json")
        .read_text()
    )
    return {f["name"] for f in raw["families"] if f["default"]}


def test_catalogs_committed_for_old_intermediate_and_newest():
    versions = available_vllm_versions()
    assert {"0.7.3", "0.33.0"} <= set(versions) and len(versions) >= 3
    mid = vllm_catalog("0.10.1").families
    assert "vllm:gpu_cache_usage_perc" in mid and "vllm:kv_cache_usage_perc" in mid
    assert vllm_catalog("latest").version == versions[-1]


@pytest.mark.parametrize("version", ["0.7.3", "0.10.1", "0.33.0"])
def test_exposition_matches_catalog(version):
    catalog = vllm_catalog(version)
    with running_sim(version) as sim:
        port = sim.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}/v1/completions"
        for _ in range(2):  # observations so every histogram has labelled samples
            shared_client().post(url, json={"model": MODEL, "prompt": "a b c", "max_tokens": 4})
        text = scrape(port)
    exposed = {}
    process = process_catalog().families  # the API server's process collector, every version
    for fam in text_string_to_metric_families(text):
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        if name in process:
            assert fam.type == process[name].type and fam.samples, name
            continue
        if name.endswith("_created") and name not in catalog.families:
            continue  # V1 keeps prometheus_client's _created series; the 0.0.4 parser splits them
        exposed[name] = fam
    assert set(exposed) == _default_families(version)
    for name, fam in exposed.items():
        want = catalog.families[name]
        assert fam.type == want.type, name
        assert fam.documentation == want.help.rstrip(), name  # the parser strips the end
        assert f" {want.help}\n" in text, name  # exact, trailing spaces included
        series = [s for s in fam.samples if not s.name.endswith("_created")]
        if not series:  # registered but only observed with a feature on, as in vLLM
            assert any(k in name for k in _FEATURE_ONLY), f"{name} has no samples"
            continue
        labels = {k for s in series for k in s.labels if k not in ("le", "quantile")}
        assert labels == set(want.labels), name
        if want.type == "histogram":
            les = sorted({float(s.labels["le"]) for s in series if s.name.endswith("_bucket")})
            assert les == [*map(float, want.buckets), math.inf], name


def test_created_series_follow_engine_generation():
    with running_sim("0.7.3") as sim:
        assert "_created" not in scrape(sim.manifest["replicas"][0]["port"])
    with running_sim("latest") as sim:
        assert "vllm:prompt_tokens_created" in scrape(sim.manifest["replicas"][0]["port"])


def test_dcgm_exposition_matches_default_counters():
    catalog = dcgm_catalog()
    with running_sim("latest", replicas=1, gpus_per_node=2) as sim:
        node = sim.manifest["nodes"][0]
        text = scrape(node["dcgm_port"])
        uuid = sim.manifest["replicas"][0]["gpus"][0]["uuid"]
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    names = {ln.split("{", 1)[0] for ln in lines}
    assert names == set(catalog.families)
    helps = {
        ln.split(" ", 3)[2]: ln.split(" ", 3)[3]
        for ln in text.splitlines()
        if ln.startswith("# HELP")
    }
    types = {
        ln.split(" ")[2]: ln.split(" ")[3] for ln in text.splitlines() if ln.startswith("# TYPE")
    }
    for fam in catalog.families.values():
        assert helps[fam.name] == fam.help and types[fam.name] == fam.type
    used = [ln for ln in lines if f'UUID="{uuid}"' in ln]
    idle = [ln for ln in lines if f'UUID="{uuid}"' not in ln]
    assert len(used) == len(idle) == len(catalog.families)
    assert all(
        'pod="' in ln and 'namespace="vllm"' in ln and 'container="vllm"' in ln for ln in used
    )
    assert not any("pod=" in ln for ln in idle)
    first = used[0].split("{", 1)[1].split("}")[0]
    keys = [kv.split("=")[0] for kv in first.split(",")]
    assert keys == [
        "gpu",
        "UUID",
        "pci_bus_id",
        "device",
        "modelName",
        "Hostname",
        "DCGM_FI_DRIVER_VERSION",
        "container",
        "namespace",
        "pod",
    ]
    fb = next(ln for ln in used if ln.startswith("DCGM_FI_DEV_FB_USED"))
    assert float(fb.rsplit(" ", 1)[1]) > 0.85 * 81559  # vLLM preallocates


def test_mfu_counters_count_each_steps_work():
    """The simulated MFU counters (vllm/v1/metrics/perf.py): 2 FLOPs per parameter per
    scheduled token (parameters = the profile's 15 GiB of bf16 weights / 2), every weight
    read once per step, each token's KV (128 KiB) written once."""
    with running_sim("0.33.0") as sim:
        port = sim.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}/v1/completions"
        for _ in range(2):
            shared_client().post(url, json={"model": MODEL, "prompt": "a b c", "max_tokens": 4})
        samples = {
            s.name: s.value
            for fam in text_string_to_metric_families(scrape(port))
            for s in fam.samples
        }
    # the step's scheduled tokens: V1's iteration tokens less each request's first token,
    # which its prefill step produced (2 requests)
    tokens = samples["vllm:iteration_tokens_total_sum"] - 2
    assert tokens > 0
    assert samples["vllm:estimated_flops_per_gpu_total"] == 15 * 1024**3 * tokens
    assert samples["vllm:estimated_write_bytes_per_gpu_total"] == 131072 * tokens
    steps = samples["vllm:iteration_tokens_total_count"]
    read = 15 * 1024**3 * steps + 131072 * tokens
    assert samples["vllm:estimated_read_bytes_per_gpu_total"] == read


def test_a_replica_serving_a_short_context_reads_as_vllm_does():
    """One replica at --max-model-len 512 (as the real vLLM 0.32 it was checked against),
    awake, after one request of 4 tokens: the token-count histograms are the 1-2-5 series
    capped at 500, the per-output-token time is the decode time over the 3 tokens after the
    first, the sleep state says awake only, and the API server holds its base descriptors."""
    model = SimModel("deepseek-r1-distill-llama-8b", MODEL, max_model_len=512)
    with running_sim("0.33.0", models=(model,)) as sim:
        port = sim.manifest["replicas"][0]["port"]
        idle = scrape(port)
        r = shared_client().post(
            f"http://127.0.0.1:{port}/v1/completions",
            json={"model": MODEL, "prompt": "a b c", "max_tokens": 4, "ignore_eos": True},
        )
        assert r.status_code == 200, r.text
        text = scrape(port)
    les = sorted(
        float(s.labels["le"])
        for fam in text_string_to_metric_families(text)
        if fam.name == "vllm:request_prompt_tokens"
        for s in fam.samples
        if s.name.endswith("_bucket")
    )
    assert les == [1, 2, 5, 10, 20, 50, 100, 200, 500, math.inf]
    assert value(text, "vllm:request_generation_tokens_sum") == 4
    decode = value(text, "vllm:request_decode_time_seconds_sum")
    tpot = value(text, "vllm:request_time_per_output_token_seconds_sum")
    assert decode > 0 and tpot == pytest.approx(decode / 3)
    states = {
        s.labels["sleep_state"]: s.value
        for fam in text_string_to_metric_families(idle)
        if fam.name == "vllm:engine_sleep_state"
        for s in fam.samples
    }
    assert states == {"awake": 1, "weights_offloaded": 0, "discard_all": 0}
    # ~40 base descriptors (+1 per request held): the fd-usage panel's numerator
    assert value(idle, "process_open_fds") == 40


@pytest.mark.parametrize("version", ["0.7.3", "0.33.0"])
def test_phase_times_and_token_totals_add_up_as_vllm_records_them(version):
    """Per request, vLLM records prefill (scheduled -> first token) + decode (first -> last
    token) = inference; V0's `tokens_total` is each step's prompt plus generation tokens,
    so it equals the two counters' sum (generated mutants: `first_token - scheduled` ->
    `/`, and `prompt + decode` -> `*` in tokens_total, both survived)."""
    with running_sim(version) as sim:
        port = sim.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}/v1/completions"
        for n in (3, 5, 8):
            body = {"model": MODEL, "prompt": "a b c d e f", "max_tokens": n, "ignore_eos": True}
            shared_client().post(url, json=body).raise_for_status()
        text = scrape(port)
    samples = {s.name: s.value for fam in text_string_to_metric_families(text) for s in fam.samples}
    prefill, decode, inference = (
        samples[f"vllm:request_{p}_time_seconds_sum"] for p in ("prefill", "decode", "inference")
    )
    assert prefill > 0 and decode > 0
    assert prefill + decode == pytest.approx(inference)
    if "vllm:tokens_total" in samples:
        prompt, gen = samples["vllm:prompt_tokens_total"], samples["vllm:generation_tokens_total"]
        assert gen == 3 + 5 + 8 and prompt > 0
        assert samples["vllm:tokens_total"] == prompt + gen
    else:
        assert version != "0.7.3", "V0 exposes vllm:tokens_total"


def test_the_api_server_process_reads_as_its_model_says():
    """An idle replica's API server process, as `ReplicaMetrics._process` models it: 1.5 GiB
    resident (the instance drill-down's memory panel and VLLMProcessMemoryNearLimit read it),
    inside a larger address space, 40 descriptors under a 1 Mi limit (generated mutants:
    `2**30` -> `2**31` in the resident base and `12 * 2**30` -> `12 ^ 2**30`, a virtual size
    below the resident one, both survived)."""
    with running_sim("0.33.0") as sim:
        text = scrape(sim.manifest["replicas"][0]["port"])
    s = {x.name: x.value for fam in text_string_to_metric_families(text) for x in fam.samples}
    assert s["process_resident_memory_bytes"] == 1.5 * 2**30
    assert s["process_resident_memory_bytes"] < s["process_virtual_memory_bytes"]
    assert s["process_open_fds"] == 40 < s["process_max_fds"]
