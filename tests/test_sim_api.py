"""The replica's OpenAI API as the official client sees it, errors, and engine accounting."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from sim_helpers import MODEL, running_sim, scrape, sim_config, value

from observability.httppool import shared_client
from observability.metrics.catalog import available_vllm_versions
from observability.sim.metrics import CLIENT_ABORTS

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def sim(make_sim):
    return make_sim(sim_config(vllm_version="latest", time_scale=0.02))


def _client(sim) -> openai.OpenAI:
    port = sim.manifest["replicas"][0]["port"]
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)


def test_models_health_version(sim):
    c = _client(sim)
    assert [m.id for m in c.models.list()] == [MODEL]
    port = sim.manifest["replicas"][0]["port"]
    assert shared_client().get(f"http://127.0.0.1:{port}/health").status_code == 200
    assert shared_client().get(f"http://127.0.0.1:{port}/version").json() == {"version": "0.33.0"}


def test_chat_and_completions_stream_and_not(sim):
    c = _client(sim)
    msgs = [{"role": "user", "content": "Explain KV cache preemption in one line."}]
    chat = c.chat.completions.create(model=MODEL, messages=msgs, max_tokens=12)
    assert chat.usage.completion_tokens == 12 and chat.choices[0].finish_reason == "length"
    assert chat.choices[0].message.role == "assistant" and chat.choices[0].message.content
    comp = c.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=5, n=2)
    assert len(comp.choices) == 2 and comp.usage.completion_tokens == 10
    assert comp.usage.prompt_tokens == 4

    chunks = list(
        c.chat.completions.create(
            model=MODEL,
            messages=msgs,
            max_tokens=7,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert len(text.split()) == 7
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 7
    finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
    assert finish[-1] == "length" and set(finish[:-1]) == {None}

    stream = c.completions.create(model=MODEL, prompt="hi", max_tokens=3, stream=True)
    assert "".join(ch.choices[0].text for ch in stream).count(" ") == 3

    port = sim.manifest["replicas"][0]["port"]
    raw = (
        shared_client()
        .post(
            f"http://127.0.0.1:{port}/v1/completions",
            json={"model": MODEL, "prompt": "x", "max_tokens": 2, "stream": True},
        )
        .text
    )
    assert raw.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("body", "status", "etype"),
    [
        (b"{not json", 400, "BadRequestError"),
        ({"model": "no-such-model", "prompt": "x"}, 404, "NotFoundError"),
        ({"model": MODEL}, 400, "BadRequestError"),  # prompt missing
        ({"model": MODEL, "prompt": "x", "max_tokens": -1}, 400, "BadRequestError"),
        ({"model": MODEL, "prompt": "word " * 9000}, 400, "BadRequestError"),
    ],
)
@pytest.mark.parametrize("version", ["0.7.3", "latest"])
def test_errors_have_vllm_shape_and_replica_survives(version, body, status, etype):
    with running_sim(version) as s:
        port = s.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}/v1/completions"
        resp = (
            shared_client().post(url, content=body)
            if isinstance(body, bytes)
            else shared_client().post(url, json=body)
        )
        assert resp.status_code == status
        data = resp.json()
        err = data if version == "0.7.3" else data["error"]
        if version == "0.7.3":
            assert data["object"] == "error"
        assert err["type"] == etype and err["code"] == status and "param" in err
        assert err["message"]
        ok = shared_client().post(url, json={"model": MODEL, "prompt": "x", "max_tokens": 1})
        assert ok.status_code == 200


def test_openai_client_raises_not_found(sim):
    with pytest.raises(openai.NotFoundError):
        _client(sim).completions.create(model="nope", prompt="x", max_tokens=1)


def test_counters_follow_traffic(sim):
    port = sim.manifest["replicas"][0]["port"]
    before = scrape(port)
    c = _client(sim)
    usages = [
        c.completions.create(model=MODEL, prompt=f"request {i}", max_tokens=3 + i).usage
        for i in range(6)
    ]
    after = scrape(port)
    ok = value(after, "vllm:request_success_total") - value(before, "vllm:request_success_total")
    gen = value(after, "vllm:generation_tokens_total") - value(
        before, "vllm:generation_tokens_total"
    )
    prompt = value(after, "vllm:prompt_tokens_total") - value(before, "vllm:prompt_tokens_total")
    assert ok == 6
    assert gen == sum(u.completion_tokens for u in usages)
    assert prompt == sum(u.prompt_tokens for u in usages)
    e2e = "vllm:e2e_request_latency_seconds_count"
    assert value(after, e2e) - value(before, e2e) == 6
    http_ok = value(after, "http_requests_total", handler="/v1/completions", status="2xx")
    assert (
        http_ok - value(before, "http_requests_total", handler="/v1/completions", status="2xx") == 6
    )


def test_cancelled_streams_free_everything(sim):
    port = sim.manifest["replicas"][0]["port"]
    url = f"http://127.0.0.1:{port}/v1/completions"
    before = scrape(port)
    body = {
        "model": MODEL,
        "prompt": "long story " * 50,
        "max_tokens": 4000,
        "stream": True,
        "ignore_eos": True,
    }
    for _ in range(3):
        with httpx.stream("POST", url, json=body, timeout=10) as resp:
            for i, _line in enumerate(resp.iter_lines()):
                if i == 2:  # mid-stream, the request holds a slot and KV blocks
                    text = scrape(port)
                    assert value(text, "vllm:num_requests_running") >= 1
                    assert value(text, "vllm:kv_cache_usage_perc") > 0
                if i > 3:
                    break  # client goes away mid-stream
    deadline = time.time() + 5
    while time.time() < deadline:
        text = scrape(port)
        gauges = [
            value(text, n)
            for n in (
                "vllm:num_requests_running",
                "vllm:num_requests_waiting",
                "vllm:kv_cache_usage_perc",
            )
        ]
        if gauges == [0, 0, 0]:
            break
        time.sleep(0.05)
    assert gauges == [0, 0, 0]
    # vLLM counts no client abort (sim/metrics.py CLIENT_ABORTS): not as a finished request,
    # not in a per-request histogram; the tokens they got were counted as generated
    for name in ("vllm:request_success_total", "vllm:e2e_request_latency_seconds_count"):
        assert value(text, name) == value(before, name), name
    gen = "vllm:generation_tokens_total"
    assert value(text, gen) - value(before, gen) >= 3 * 4


@pytest.mark.parametrize("version", available_vllm_versions())
def test_no_version_counts_a_client_abort(version):
    """Every cataloged vLLM drops a disconnected client's request uncounted (read from each
    release's source: CLIENT_ABORTS); the simulator of each version does the same."""
    assert CLIENT_ABORTS[version].startswith("uncounted: vllm/"), version
    body = {"model": MODEL, "prompt": "long story", "max_tokens": 4000, "stream": True}
    with running_sim(version) as sim:
        port = sim.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}/v1/completions"
        for _ in range(2):
            with httpx.stream("POST", url, json={**body, "ignore_eos": True}, timeout=10) as r:
                for i, _line in enumerate(r.iter_lines()):
                    if i > 3:
                        break  # client goes away mid-stream
        httpx.post(url, json={**body, "max_tokens": 4, "stream": False}, timeout=10)
        deadline = time.time() + 5
        while value(text := scrape(port), "vllm:num_requests_running") and time.time() < deadline:
            time.sleep(0.05)
    assert value(text, "vllm:num_requests_running") == 0
    # only the request that finished: the abort series stays 0 (0.7.3 never creates it)
    assert value(text, "vllm:request_success_total") == 1
    assert value(text, "vllm:request_success_total", finished_reason="abort") == 0
    assert value(text, "vllm:e2e_request_latency_seconds_count") == 1


@pytest.mark.parametrize("version", available_vllm_versions())
def test_sleep_aborts_what_runs_from_0_26(version):
    """/sleep pauses in its default mode "abort" from vLLM 0.26 (AsyncLLM.sleep): the engine
    aborts the requests in flight and counts them as abort. Before it, a sleeping engine
    holds them (no abort counted)."""
    aborts = version not in ("0.7.3", "0.10.1")
    body = {"model": MODEL, "prompt": "hold", "max_tokens": 4000, "ignore_eos": True}
    with running_sim(version, time_scale=1.0) as sim:
        port = sim.manifest["replicas"][0]["port"]
        url = f"http://127.0.0.1:{port}/v1/completions"
        with httpx.stream("POST", url, json={**body, "stream": True}, timeout=10) as r:
            lines = r.iter_lines()
            next(lines)  # a first token: it runs
            admin = f"http://127.0.0.1:{sim.cfg.admin_port}/faults"
            fault = {"fault": "sleep", "target": "all", "params": {"level": 1}}
            shared_client().post(admin, json=fault).raise_for_status()
            if aborts:
                rest = "".join(lines)
                assert '"finish_reason": "abort"' in rest, rest[-300:]
        text = scrape(port)
    reasons = ("abort", "stop", "length")
    got = {k: value(text, "vllm:request_success_total", finished_reason=k) for k in reasons}
    assert got == {"abort": float(aborts), "stop": 0.0, "length": 0.0}
