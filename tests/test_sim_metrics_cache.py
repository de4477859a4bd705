"""The simulator's cached exposition is byte for byte what prometheus_client renders.

`ReplicaMetrics` re-renders only the families changed since the last scrape. Any update
that bypassed the change tracking would leave a stale family in the cached text; these
sequences of engine events, HTTP requests and scrapes catch that on every vLLM version.
"""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import exposition

from observability.metrics.catalog import vllm_catalog
from observability.sim.engine import Request, StepStats
from observability.sim.latency import load_profile
from observability.sim.metrics import ReplicaMetrics

VERSIONS = ("0.7.3", "0.10.1", "0.33.0")
seconds = st.floats(min_value=0.0, max_value=30.0, allow_nan=False)


def _request(d: st.DataObject) -> Request:
    out = d.draw(st.integers(0, 40))
    prompt = d.draw(st.integers(1, 300))
    req = Request(
        rid="cmpl-x",
        prompt_ids=[1] * prompt,
        max_tokens=64,
        target_len=out,
        n_param=d.draw(st.integers(1, 3)),
        max_tokens_param=d.draw(st.none() | st.integers(1, 64)),
        arrival=0.0,
        output=[7] * out,
        itl=d.draw(st.lists(seconds, max_size=3)),
        preemptions=d.draw(st.integers(0, 2)),
        cached_tokens=d.draw(st.integers(0, prompt)),
        finished_reason=d.draw(st.sampled_from(["stop", "length", "abort", None])),
    )
    if d.draw(st.booleans()):
        req.scheduled, req.first_token, req.last_token = 0.1, 0.2, 0.2 + out * 0.01
        req.finished = req.last_token
    return req


def _event(m: ReplicaMetrics, d: st.DataObject) -> None:
    kind = d.draw(st.sampled_from(["step", "finished", "gauges", "http", "failed", "itl"]))
    if kind == "step":
        done = d.draw(st.lists(st.builds(lambda: None), max_size=2))
        m.step(
            SimpleNamespace(profile=load_profile()),  # type: ignore[arg-type]  # reads profile and stats
            StepStats(
                prefill_tokens=d.draw(st.integers(0, 512)),
                decode_tokens=d.draw(st.integers(0, 64)),
                preemptions=d.draw(st.integers(0, 2)),
                prompt_done=[_request(d) for _ in done],
                prefix_queries=d.draw(st.integers(0, 100)),
                prefix_hits=d.draw(st.integers(0, 50)),
                itl=d.draw(st.lists(seconds, max_size=4)),
            ),
        )
    elif kind == "finished":
        m.finished(None, _request(d))  # type: ignore[arg-type]
    elif kind == "gauges":
        m.gauges_from(d.draw(st.integers(0, 9)), d.draw(st.integers(0, 9)), d.draw(st.floats(0, 1)))
    elif kind == "http":
        path = d.draw(st.sampled_from(["/v1/completions", "/v1/chat/completions", "/v1/models"]))
        m.http(path, "POST", d.draw(st.sampled_from([200, 400, 500])), 0.05, 120, 900)
    elif kind == "failed":
        m.failed()
    else:
        m.token_latency(d.draw(seconds))


@settings(deadline=None)
@given(version=st.sampled_from(VERSIONS), data=st.data())
def test_cached_exposition_is_what_prometheus_client_renders(
    version: str, data: st.DataObject
) -> None:
    m = ReplicaMetrics(vllm_catalog(version), "org/model", {"block_size": "16"})
    for _ in range(data.draw(st.integers(1, 12))):
        for _ in range(data.draw(st.integers(0, 4))):  # several events between scrapes
            _event(m, data)
        assert m.exposition() == exposition.generate_latest(m.registry)


def test_a_changed_family_shows_at_the_next_scrape_and_idle_ones_cost_nothing() -> None:
    m = ReplicaMetrics(vllm_catalog("0.33.0"), "org/model", {})
    before = m.exposition()
    assert m.exposition() is before  # nothing changed: the same bytes, not re-rendered
    m.gauges_from(3, 1, 0.5)
    after = m.exposition()
    assert b'vllm:num_requests_running{engine="0",model_name="org/model"} 3.0' in after
    assert after == exposition.generate_latest(m.registry)
