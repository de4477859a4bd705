"""End to end on real Prometheus + Alertmanager + simulators + Locust load.

1. kv-saturation and replica-crash in the fast profile: the expected alerts reach the
   webhook, nothing else does (Watchdog aside), then the stack stops leaving no process
   and no port behind.
2. Client-side TTFT/ITL percentiles agree with the server-side histogram percentiles that
   the dashboard computes (same bucket, or the next one up for the client's HTTP overhead).
"""

from __future__ import annotations

import bisect
import os
import time
from pathlib import Path

import psutil
import pytest

from observability.config import BundleConfig
from observability.load.runner import LoadSpec, Target, run_load
from observability.local.ports import port_is_open
from observability.local.stack import LocalStack, StackOptions
from observability.local.summary import query
from observability.local.webhook import fetch_notifications
from observability.metrics.names import VLLM
from observability.metrics.promql import Promql
from observability.scenarios import SCENARIOS, run_scenario

pytestmark = pytest.mark.e2e

TTFT_EDGES = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
ITL_EDGES = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5]


def _descendants() -> set[int]:
    return {
        p.pid
        for p in psutil.Process(os.getpid()).children(recursive=True)
        if p.status() != "zombie"
    }


def _stack(bundle: BundleConfig, repo_root: Path, tmp_path: Path, **kw: object) -> LocalStack:
    opts = StackOptions(
        cfg=bundle,
        repo_root=repo_root,
        profile="fast",
        state_file=tmp_path / "state.json",
        **kw,  # type: ignore[arg-type]
    )
    return LocalStack(opts)


# Budget: start (~10 s) + two scenarios, each bounded by run_scenario at 1.25x its
# theoretical minimum (63 s in the fast profile) + 15 s, plus settling and stop.
@pytest.mark.timeout(300)
def test_fault_scenarios_page_exactly_the_expected_alerts(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    before = _descendants()
    stack = _stack(bundle, repo_root, tmp_path)
    started = time.time()
    names_run = ("replica-crash", "kv-saturation")
    try:
        stack.start()
        assert (tmp_path / "state.json").is_file()
        handle = stack.running
        results = [run_scenario(SCENARIOS[n], handle, settle_s=30) for n in names_run]
        for res in results:
            expected = set(res.expected)
            fired = {t.alert for t in res.alerts if t.webhook_s is not None}
            assert expected <= fired, res
            assert not res.unexpected, res
            assert res.ok, res
        names = {
            a
            for n in fetch_notifications(stack.running.webhook_url, since=started)
            for a in n.alertnames()
        }
        # only the expected alerts and the follow-ons each scenario names with a reason
        allowed = {"Watchdog"}
        for n in names_run:
            allowed |= set(SCENARIOS[n].expected) | set(SCENARIOS[n].tolerated)
        assert names <= allowed, names
        assert {"VLLMKVCacheSaturated", "VLLMTargetDown"} <= names
        ports = [*stack.ports.ports, stack.webhook.port]  # type: ignore[union-attr]
    finally:
        stack.stop()
    assert _descendants() - before == set(), "processes left behind"
    assert not [p for p in ports if port_is_open(p)], "ports left open"
    assert not (tmp_path / "state.json").exists()


def _bucket(edges: list[float], v: float) -> int:
    return bisect.bisect_left(edges, v)


@pytest.mark.timeout(240)
def test_client_percentiles_match_server_histograms(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    stack = _stack(bundle, repo_root, tmp_path, load=False, replicas=1)
    try:
        stack.start()
        targets = tuple(Target(r.url, r.model) for r in stack.running.replicas)
        report = run_load(LoadSpec(targets, users=6, rate=4.0, duration_s=20))
        assert report.requests >= 20 and report.errors == 0, report
        time.sleep(3)  # a few more scrapes so the last requests are in Prometheus
        fleet = Promql(by=())
        for signal, client, edges in (
            (VLLM.TTFT, report.ttft_s, TTFT_EDGES),
            (VLLM.ITL, report.itl_s, ITL_EDGES),
        ):
            for q in (0.5, 0.95, 0.99):
                res = query(stack.prometheus_url, fleet.quantile(q, signal, "5m"))
                server = float(res[0]["value"][1])
                mine = client[f"p{round(q * 100)}"]
                assert mine is not None
                diff = _bucket(edges, mine) - _bucket(edges, server)
                assert diff in (0, 1), (signal.key, q, mine, server)
    finally:
        stack.stop()
