"""Real Prometheus keeps `vllm:` names; each fault changes what it should and nothing else."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from sim_helpers import MODEL, free_port, scrape, sim_config, value

from observability.httppool import shared_client
from observability.process import http_ok

pytestmark = pytest.mark.timeout(60)


def _fault(sim, fault: str, target: str = "all", **params) -> httpx.Response:
    admin = f"http://127.0.0.1:{sim.cfg.admin_port}"
    return shared_client().post(
        f"{admin}/faults", json={"fault": fault, "target": target, "params": params}
    )


def _clear(sim) -> None:
    httpx.delete(f"http://127.0.0.1:{sim.cfg.admin_port}/faults")


def _complete(port: int, max_tokens: int = 8, **extra) -> httpx.Response:
    body = {"model": MODEL, "prompt": "tell me about alerts", "max_tokens": max_tokens, **extra}
    return shared_client().post(f"http://127.0.0.1:{port}/v1/completions", json=body, timeout=10)


@pytest.fixture(scope="module")
def sim(make_sim):
    return make_sim(sim_config(replicas=2, vllm_version="latest", time_scale=0.02))


@pytest.fixture(scope="module")
def prometheus(sim):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary not installed (apt install prometheus)")
    port = free_port()
    reps = sim.manifest["replicas"]
    targets = ", ".join(f"'127.0.0.1:{r['port']}'" for r in reps)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp, "prometheus.yml")
        cfg.write_text(
            "global: {scrape_interval: 1s}\n"
            f"scrape_configs:\n- job_name: vllm\n  static_configs: [{{targets: [{targets}]}}]\n"
        )
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--storage.tsdb.path={tmp}/data",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            # ready before the first query (on a busy machine it was not, and the first
            # /api/v1/series was refused)
            deadline = time.monotonic() + 30
            while not http_ok(f"{url}/-/ready") and time.monotonic() < deadline:
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


def _names(prom: str, instance: str) -> set[str]:
    resp = shared_client().get(
        f"{prom}/api/v1/series", params={"match[]": f'{{instance="{instance}"}}'}
    )
    return {s["__name__"] for s in resp.json().get("data", [])}


def test_prometheus_scrape_keeps_colons_and_escaping_fault_rewrites(sim, prometheus):
    a, b = sim.manifest["replicas"]
    _fault(sim, "underscore-escaping", b["pod"])
    try:
        _complete(a["port"])
        deadline = time.time() + 20
        names_a: set[str] = set()
        names_b: set[str] = set()
        while time.time() < deadline:
            names_a = _names(prometheus, f"127.0.0.1:{a['port']}")
            names_b = _names(prometheus, f"127.0.0.1:{b['port']}")
            if "vllm:num_requests_running" in names_a and names_b - {"up"}:
                break
            time.sleep(0.5)
        assert "vllm:num_requests_running" in names_a
        assert "vllm:request_success_total" in names_a
        assert not any(n.startswith("vllm_") for n in names_a)
        assert "vllm_num_requests_running" in names_b
        assert not any(n.startswith("vllm:") for n in names_b)
    finally:
        _clear(sim)


def test_admin_rejects_unknown_fault_and_target(sim):
    assert _fault(sim, "meteor").status_code == 400
    resp = _fault(sim, "slow-gpu", "no-such-pod")
    assert resp.status_code == 400 and "no-such-pod" in resp.json()["error"]
    assert (
        shared_client().get(f"http://127.0.0.1:{sim.cfg.admin_port}/replicas").json()
        == sim.manifest
    )


def _vllm_families(text: str) -> set[str]:
    return {ln.split(" ")[2] for ln in text.splitlines() if ln.startswith("# TYPE")}


def test_metrics_disabled_hides_only_vllm_families(sim):
    a, b = sim.manifest["replicas"]
    _fault(sim, "metrics-disabled", a["pod"])
    try:
        off, other = scrape(a["port"]), scrape(b["port"])
        assert not any(f.startswith("vllm:") for f in _vllm_families(off))
        assert "http_requests_total" in off
        assert "vllm:num_requests_running" in _vllm_families(other)
        assert _complete(a["port"]).status_code == 200  # serving goes on
    finally:
        _clear(sim)


def test_slow_gpu_slows_only_its_replica(sim):
    a, b = sim.manifest["replicas"]
    itl = "vllm:inter_token_latency_seconds"

    def mean_itl(port: int) -> float:
        before = scrape(port)
        _complete(port, 20)
        after = scrape(port)
        d_sum = value(after, itl + "_sum") - value(before, itl + "_sum")
        return d_sum / (value(after, itl + "_count") - value(before, itl + "_count"))

    base_a, base_b = mean_itl(a["port"]), mean_itl(b["port"])
    _fault(sim, "slow-gpu", a["pod"], factor=4)
    try:
        assert mean_itl(a["port"]) > 3 * base_a
        assert mean_itl(b["port"]) < 1.5 * base_b
    finally:
        _clear(sim)


def test_error_storm_fails_requests_like_vllm(sim):
    a, b = sim.manifest["replicas"]
    _fault(sim, "error-storm", a["pod"], ratio=1.0)
    try:
        resp = _complete(a["port"])
        assert resp.status_code == 500 and resp.json()["error"]["type"] == "InternalServerError"
        text = scrape(a["port"])
        assert value(text, "http_requests_total", status="5xx") >= 1
        assert value(text, "vllm:request_success_total", finished_reason="error") >= 1
        assert _complete(b["port"]).status_code == 200
    finally:
        _clear(sim)


def test_kv_pressure_holds_the_cache_full_and_preempts(sim):
    """Under pressure the scheduler admits until the shrunken pool is full, so usage of the
    usable pool sits near 1 while demand lasts; sequences that cannot grow are preempted."""
    import concurrent.futures as cf

    a, b = sim.manifest["replicas"]
    _fault(sim, "kv-pressure", a["pod"], block_fraction=0.002)  # ~55 usable blocks
    try:
        before = value(scrape(a["port"]), "vllm:num_preemptions_total")
        body = {"prompt": "lorem ipsum " * 20, "ignore_eos": True}
        usage: list[float] = []
        with cf.ThreadPoolExecutor(12) as pool:
            jobs = [pool.submit(_complete, a["port"], 200, **body) for _ in range(36)]
            while not all(j.done() for j in jobs):
                usage.append(value(scrape(a["port"]), "vllm:kv_cache_usage_perc"))
            assert all(j.result().status_code == 200 for j in jobs)
        text = scrape(a["port"])
        busy = sorted(usage[2:-2])
        assert busy and busy[len(busy) // 2] > 0.9, usage  # median while loaded
        assert value(text, "vllm:num_preemptions_total") > before
        assert value(text, "vllm:kv_cache_usage_perc") == 0
        assert value(scrape(b["port"]), "vllm:num_preemptions_total") == 0
    finally:
        _clear(sim)


def test_engine_hang_accepts_but_produces_nothing(sim):
    a, _ = sim.manifest["replicas"]
    _fault(sim, "engine-hang", a["pod"])
    try:
        before = value(scrape(a["port"]), "vllm:generation_tokens_total")
        with pytest.raises(httpx.ReadTimeout):
            shared_client().post(
                f"http://127.0.0.1:{a['port']}/v1/completions",
                json={"model": MODEL, "prompt": "x", "max_tokens": 3},
                timeout=0.5,
            )
        text = scrape(a["port"])
        assert value(text, "vllm:generation_tokens_total") == before
        assert shared_client().get(f"http://127.0.0.1:{a['port']}/health").status_code == 200
    finally:
        _clear(sim)
    deadline = time.time() + 5
    while value(scrape(a["port"]), "vllm:num_requests_running") and time.time() < deadline:
        time.sleep(0.05)
    assert value(scrape(a["port"]), "vllm:num_requests_running") == 0


def test_crash_closes_only_that_port_and_delete_reopens(sim):
    a, b = sim.manifest["replicas"]
    # a keep-alive connection opened before the crash (as Prometheus's scrape connection)
    keep = httpx.Client(base_url=f"http://127.0.0.1:{a['port']}", timeout=2)
    assert keep.get("/metrics").status_code == 200
    _fault(sim, "crash", a["pod"])
    time.sleep(0.2)
    try:
        with pytest.raises(httpx.TransportError):
            keep.get("/metrics")
    finally:
        keep.close()
    with pytest.raises(httpx.ConnectError):
        shared_client().get(f"http://127.0.0.1:{a['port']}/health", timeout=2)
    assert shared_client().get(f"http://127.0.0.1:{b['port']}/health").status_code == 200
    _clear(sim)
    time.sleep(0.2)
    assert shared_client().get(f"http://127.0.0.1:{a['port']}/health").status_code == 200


def test_gpu_faults_change_only_dcgm_fields(sim):
    node = sim.manifest["nodes"][0]
    port = node["dcgm_port"]
    before = scrape(port)
    _fault(sim, "gpu-xid", node["node"], xid=79)
    _fault(sim, "gpu-overheat", node["node"], celsius=97)
    try:
        hot = scrape(port)
        assert value(hot, "DCGM_FI_DEV_XID_ERRORS") == 79 * 4  # every GPU of the node
        assert min(v for (n, _), v in _dcgm(hot).items() if n == "DCGM_FI_DEV_GPU_TEMP") == 97
        assert value(before, "DCGM_FI_DEV_XID_ERRORS") == 0
        assert value(hot, "DCGM_FI_DEV_FB_USED") == value(before, "DCGM_FI_DEV_FB_USED")
        rep = sim.manifest["replicas"][0]
        assert "vllm:" in scrape(rep["port"])  # vLLM side untouched
    finally:
        _clear(sim)


def _dcgm(text: str) -> dict:
    from sim_helpers import samples

    return samples(text)


@pytest.mark.parametrize(("level", "offloaded", "discarded"), [(1, 1.0, 0.0), (2, 0.0, 1.0)])
def test_sleep_sets_the_sleep_state_and_holds_requests(sim, level, offloaded, discarded):
    a, b = sim.manifest["replicas"]
    _fault(sim, "sleep", a["pod"], level=level)
    try:
        text = scrape(a["port"])
        assert value(text, "vllm:engine_sleep_state", sleep_state="awake") == 0.0
        assert value(text, "vllm:engine_sleep_state", sleep_state="weights_offloaded") == offloaded
        assert value(text, "vllm:engine_sleep_state", sleep_state="discard_all") == discarded
        assert value(scrape(b["port"]), "vllm:engine_sleep_state", sleep_state="awake") == 1.0
        with pytest.raises(httpx.ReadTimeout):  # no tokens until woken
            shared_client().post(
                f"http://127.0.0.1:{a['port']}/v1/completions",
                json={"model": MODEL, "prompt": "x", "max_tokens": 3},
                timeout=0.5,
            )
    finally:
        _clear(sim)
    text = scrape(a["port"])
    assert value(text, "vllm:engine_sleep_state", sleep_state="awake") == 1.0
    assert value(text, "vllm:engine_sleep_state", sleep_state="weights_offloaded") == 0.0
