"""Per cataloged vLLM version, the simulator's engine gauges move with load: KV-cache
usage (0.7.3 `gpu_cache_usage_perc`, 0.10.1 both names, 0.33.0 `kv_cache_usage_perc`),
running and waiting rise under concurrent requests and return to 0 when they finish.
A gauge stuck at 0 (or never updated for one version's name) fails here.

Beyond those: every simulator gauge a dashboard panel reads moves with load, on every
cataloged vLLM version that exposes it. The gauges come from the panels themselves: every
target expression of the dashboards `obsctl render` builds, through the recording rules
they read, down to raw families; of those, the ones the version's catalog (and DCGM's)
types as gauges. Every series of each must rise above its idle value under more requests
than the engine runs at once (a series absent while idle counts as 0): a simulator that
stops updating e.g. `vllm:num_requests_waiting_by_reason{reason="capacity"}` (the demo's
"waiting by reason" panel stays at 0 while the queue grows) fails. Gauges that do not
follow load are listed with why (STEADY)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import MODEL, scrape, sim_config, value

from observability.config import load_config
from observability.dashboards import build_all
from observability.dashboards.reads import families_read, recorded_sources
from observability.metrics.catalog import available_vllm_versions, dcgm_catalog, vllm_catalog
from observability.sim import SimConfig, SimModel, SimThread

ROOT = Path(__file__).resolve().parent.parent

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


def _sim_config(version: str) -> SimConfig:
    model = SimModel(
        "deepseek-r1-distill-llama-8b", MODEL, max_model_len=8192, max_num_seqs=MAX_NUM_SEQS
    )
    return sim_config((model,), vllm_version=version, time_scale=0.05)


@pytest.mark.parametrize("version", sorted(KV_NAMES))
def test_engine_gauges_follow_load(version):
    cfg = _sim_config(version)
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


# Gauges panels read that do not follow load, and why.
STEADY = {
    "vllm:lora_requests_info": "an info gauge (its value a timestamp); the demo serves no LoRA",
    "vllm:engine_sleep_state": "follows /sleep and /wake_up, not load (tests/test_sim_faults.py)",
    "vllm:cache_config_info": "an info gauge (always 1): the engine's KV cache settings",
    "vllm:num_requests_kv_fetch_by_stage": "registered only with a KV connector "
    "(--kv-transfer-config); the simulator serves none",
    "DCGM_FI_DEV_FB_USED": "weights and KV cache are allocated when the engine starts",
    "DCGM_FI_DEV_FB_FREE": "weights and KV cache are allocated when the engine starts",
    "DCGM_FI_DEV_XID_ERRORS": "only the gpu-xid fault sets it",
}
# Series of load-following gauges that stay put, and why.
STEADY_SERIES = {
    ("vllm:num_requests_waiting_by_reason", "deferred"): "deferred requests wait on a LoRA "
    "slot or structured-output grammar; the simulator serves neither",
}

Series = tuple[str, tuple[tuple[str, str], ...]]


def panel_families() -> set[str]:
    """Raw families the dashboards' panels read, following recording rules."""
    recorded = recorded_sources()
    out: set[str] = set()

    def add(name: str, depth: int = 0) -> None:
        if name in recorded and depth < 5:
            for src in recorded[name]:
                add(src, depth + 1)
        else:
            out.add(name)

    def walk(panel: dict) -> None:
        for target in panel.get("targets") or []:
            for name in families_read(target.get("expr") or ""):
                add(name)
        for child in panel.get("panels") or []:
            walk(child)

    for dash in build_all(load_config(ROOT / "bundle.yaml")).values():
        for panel in dash.get("dashboard", dash)["panels"]:
            walk(panel)
    return out


PANEL_FAMILIES = panel_families()
DCGM_GAUGES = {
    n for n, f in dcgm_catalog().families.items() if f.type == "gauge" and n in PANEL_FAMILIES
}


def vllm_gauges(version: str) -> set[str]:
    fams = vllm_catalog(version).families
    return {n for n, f in fams.items() if f.type == "gauge" and n in PANEL_FAMILIES}


def gauge_series(text: str, names: set[str], pod_only: bool = False) -> dict[Series, float]:
    out: dict[Series, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name not in names:
            continue
        for s in fam.samples:
            if pod_only and "pod" not in s.labels:
                continue  # a GPU no replica runs on
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _steady(series: Series) -> bool:
    name, labels = series
    return name in STEADY or any((name, v) in STEADY_SERIES for _, v in labels)


def test_the_panels_read_the_gauges_this_test_drives():
    """The walk over the panels finds the engine gauges (it would pass vacuously if not)."""
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting_by_reason"):
        assert name in vllm_gauges("0.33.0")
    assert "vllm:gpu_prefix_cache_hit_rate" in vllm_gauges("0.7.3")
    assert "DCGM_FI_DEV_GPU_UTIL" in DCGM_GAUGES
    every = set().union(*(vllm_gauges(v) for v in available_vllm_versions())) | DCGM_GAUGES
    assert set(STEADY) <= every, set(STEADY) - every  # no stale exemption


@pytest.mark.parametrize("version", available_vllm_versions())
@pytest.mark.timeout(120)
def test_every_panel_gauge_rises_with_load(version):
    cfg = _sim_config(version)
    names = vllm_gauges(version)
    with SimThread(cfg) as sim:
        port = sim.manifest["replicas"][0]["port"]
        exposed = {f.name for f in text_string_to_metric_families(scrape(port))}
        # only a steady gauge may be left out (V1 registers lora_requests_info with LoRA)
        assert names - exposed <= set(STEADY), (version, names - exposed)
        names &= exposed

        def now() -> dict[Series, float]:
            return {
                **gauge_series(scrape(port), names),
                **gauge_series(
                    scrape(sim.manifest["nodes"][0]["dcgm_port"]), DCGM_GAUGES, pod_only=True
                ),
            }

        idle = now()
        stop = threading.Event()
        threads = [threading.Thread(target=_load, args=(port, stop)) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        peak: dict[Series, float] = {}
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                for key, v in now().items():
                    peak[key] = max(peak.get(key, v), v)
                wanted = {k for k in peak if not _steady(k)}
                if wanted and all(peak[k] > idle.get(k, 0.0) for k in wanted):
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
    families = {name for name, _ in peak}
    missing = sorted((names | DCGM_GAUGES) - families)
    assert not missing, f"{version}: panel gauges with no series under load: {missing}"
    flat = sorted(
        f"{name}{dict(labels)}: idle {idle.get((name, labels), 0.0):g}, peak {v:g}"
        for (name, labels), v in peak.items()
        if not _steady((name, labels)) and v <= idle.get((name, labels), 0.0)
    )
    assert not flat, f"{version}: panel gauges that did not rise with load: {flat}"
