"""The inference pool end to end on the local stack (fast profile: 1 s scrapes, `for` 1m):
the simulated endpoint picker scraped through the rendered ServiceMonitor with its bearer
token (verify's router.epp_scrape PASS), the mapped pool gauges agreeing with the replicas,
and the router faults paging at the webhook with nothing else paging. Three stacks run
side by side, one fault set each (a crashed EPP mutes its pool's other alerts, and no ready
endpoint mutes scheduling failures, so they cannot share a pool):

- crash: the EPP's port closes -> InferencePoolEPPDown
- pool-unready + datalayer-errors -> InferencePoolNoReadyEndpoints, InferencePoolDatalayerPollErrors
- scheduling-failures (half the attempts) -> InferencePoolSchedulingFailures

Each detection (fault injected to the notification received) must be within RATIO_LIMIT
(1.2x) of its theoretical minimum, computed by scenarios/minimum.py from the rules
Prometheus loaded (scrape + evaluation + `for` + group_wait: 63 s here)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from observability.config import BundleConfig
from observability.local.router import with_inference_pool
from observability.local.stack import LocalStack, StackOptions
from observability.local.webhook import fetch_notifications
from observability.metrics.router import EPP_JOB
from observability.promapi import Prometheus
from observability.scenarios.minimum import RATIO_LIMIT, Clock, minimum
from observability.scenarios.run import loaded_rules
from observability.verify import Options, Status
from observability.verify.checks_router import CHECKS
from observability.verify.context import VerifyContext

SETS: dict[str, tuple[tuple[tuple[str, dict[str, Any]], ...], tuple[str, ...]]] = {
    "epp-crash": ((("crash", {}),), ("InferencePoolEPPDown",)),
    "pool-unready": (
        (("pool-unready", {}), ("datalayer-errors", {})),
        ("InferencePoolNoReadyEndpoints", "InferencePoolDatalayerPollErrors"),
    ),
    "scheduling-failures": (
        (("scheduling-failures", {"ratio": 0.5}),),
        ("InferencePoolSchedulingFailures",),
    ),
}


def _scenario(cfg: BundleConfig, repo_root: Path, tmp: Path, name: str, out: dict) -> None:
    faults, expected = SETS[name]
    opts = StackOptions(
        cfg=cfg, repo_root=repo_root, profile="fast", replicas=1, state_file=tmp / f"{name}.json"
    )
    stack = LocalStack(opts)
    try:
        stack.start()
        epp = stack.manifest["epp"][0]["pod"]
        with Prometheus(stack.prometheus_url) as prom:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not prom.query("epp:ready_endpoints"):
                time.sleep(0.5)
            ready = prom.query("sum(epp:ready_endpoints)")
            members = set(stack.cfg.pool_models)
            pods = sum(1 for r in stack.running.replicas if r.model_key in members)
            out[name + ":ready"] = (float(ready[0]["value"][1]) if ready else None, pods)
        check = next(c for c in CHECKS if c.id == "router.epp_scrape")
        local = Options(prometheus_url=stack.prometheus_url, local=True)
        out[name + ":verify"] = check.run(VerifyContext(stack.cfg, None, local))
        st = stack.running
        clock = Clock(st.scrape_interval_s, st.evaluation_interval_s, st.group_wait_s)
        rules = loaded_rules(stack.prometheus_url)
        out[name + ":minimum"] = {a: minimum(a, rules, clock) for a in expected}
        t0 = time.time()
        for fault, params in faults:
            httpx.post(
                f"{stack.admin_url}/faults",
                json={"fault": fault, "target": epp, "params": params},
                timeout=5,
            ).raise_for_status()
        detected: dict[str, float] = {}
        paged: set[str] = set()
        while set(expected) - set(detected) and time.time() - t0 < 110:
            time.sleep(0.5)
            for n in fetch_notifications(stack.running.webhook_url, since=t0):
                for alert in n.alertnames():
                    paged.add(alert)
                    if alert in expected and alert not in detected:
                        detected[alert] = n.received_at - t0
        out[name] = (detected, paged)
    except Exception as err:  # reported by the test body
        out[name] = err
    finally:
        stack.stop()


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_router_faults_page_side_by_side(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    cfg = with_inference_pool(bundle)
    out: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_scenario, args=(cfg, repo_root, tmp_path, name, out))
        for name in SETS
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(230)
    lines = []
    for name, (_faults, expected) in SETS.items():
        result = out.get(name)
        assert not isinstance(result, Exception) and result is not None, (name, result)
        ready, pods = out[name + ":ready"]
        assert ready == pods, f"{name}: epp:ready_endpoints {ready} for {pods} pool replicas"
        verify = out[name + ":verify"]
        assert verify.status == Status.PASS and "authorised" in verify.evidence, verify
        detected, paged = result
        assert set(detected) == set(expected), (name, detected, paged)
        others = paged - set(expected) - {"Watchdog"}
        assert not others, f"{name}: also paged {sorted(others)}"
        for alert, seconds in detected.items():
            least = out[name + ":minimum"][alert]
            assert least is not None, f"{name}: no theoretical minimum for {alert}"
            ratio = seconds / least.total_s
            lines.append(
                f"{name}: {alert} {seconds:.1f}s, minimum {least.total_s:.0f}s ({ratio:.2f}x)"
            )
            assert ratio <= RATIO_LIMIT, lines[-1]
    print("\n".join(lines))
    assert EPP_JOB  # the job the monitor sets is the one verify reads
