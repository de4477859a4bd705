"""The inference pool end to end on the local stack (fast profile: 1 s scrapes, `for` 1m):
the simulated endpoint picker scraped through the rendered ServiceMonitor with its bearer
token (verify's router.epp_scrape PASS), the mapped pool gauges agreeing with the replicas,
and the catalog's router scenarios (observability/scenarios/catalog.py, target `epp`) run
by `run_scenario` as `obsctl scenario run` and bench/scenarios.py run them. Four stacks of
one model run side by side, one scenario each (a crashed EPP mutes its pool's other
alerts, and no ready endpoint mutes scheduling failures, so they cannot share a pool):

- epp-crash: the EPP's port closes -> InferencePoolEPPDown
- pool-unready: no ready endpoint -> InferencePoolNoReadyEndpoints
- datalayer-errors: its polls fail -> InferencePoolDatalayerPollErrors
- scheduling-failures (half the attempts) -> InferencePoolSchedulingFailures; this stack's
  pool is disaggregated and its replica runs NIXL (`--nixl`, the catalog scenario
  nixl-transfer-failures' `needs`), and that scenario's fault is injected on its targets
  once the EPP fault is in: VLLMNixlTransferFailures must page within RATIO_LIMIT of its
  minimum (63 s) while scheduling-failures' run_scenario, tolerating only that alert,
  checks that nothing else fires: the NIXL scenario proven without a stack of its own

Each result must be ok: the expected alert at the webhook within RATIO_LIMIT (1.2x) of its
theoretical minimum, computed by scenarios/minimum.py from the rules Prometheus loaded
(scrape + window need + evaluation + `for` + group_wait: 63 s, 93 s for the ratio of 5m
rates of scheduling-failures), and nothing else firing."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from observability.config import BundleConfig
from observability.local.models import demo_models
from observability.local.router import with_inference_pool
from observability.local.stack import LocalStack, StackOptions
from observability.local.webhook import fetch_notifications
from observability.metrics.router import EPP_JOB
from observability.promapi import Prometheus
from observability.scenarios import SCENARIOS, format_result, run_scenario
from observability.scenarios.minimum import RATIO_LIMIT, Clock, minimum
from observability.scenarios.run import fault_targets, loaded_rules
from observability.scenarios.stack import stack_for
from observability.verify import Options, Status
from observability.verify.checks_router import CHECKS
from observability.verify.context import VerifyContext

ROUTER = tuple(n for n, s in SCENARIOS.items() if s.needs_pool)
# Two stacks' EPPs serve an older router's names (sim/epp.py GENERATIONS), so the epp:*
# recordings must read them for the ready count, the request count and the alert: GIE
# v1.0.0's inference_pool_ready_pods / inference_model_request_total, and llm-d-router
# main of June 2026's llm_d_router_epp_*; the others serve v0.10.0's (with dual emission).
GENERATION = {"epp-crash": "gie-1.0.0", "pool-unready": "main-2026-06"}


# the catalog scenario that shares a router stack (its `needs` on that stack)
NIXL = SCENARIOS["nixl-transfer-failures"]
WITH_NIXL = "scheduling-failures"


def _nixl_alongside(stack: LocalStack, out: dict) -> None:
    """Once WITH_NIXL's fault is in (run_scenario clears faults first), inject the NIXL
    scenario's fault on its targets and time its alert at the webhook."""
    st = stack.running
    clock = Clock(st.scrape_interval_s, st.evaluation_interval_s, st.group_wait_s)
    (alert,) = NIXL.expected
    out["nixl:minimum"] = minimum(
        alert, loaded_rules(stack.prometheus_url), clock, NIXL.window_fraction
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        active = httpx.get(f"{stack.admin_url}/faults", timeout=5).json()["active"]
        if any(f["fault"] == SCENARIOS[WITH_NIXL].fault for f in active):
            break
        time.sleep(0.5)
    targets = fault_targets(NIXL, st)
    out["nixl:targets"] = targets
    t0 = time.time()
    for target in targets:
        body = {"fault": NIXL.fault, "target": target, "params": NIXL.params}
        httpx.post(f"{stack.admin_url}/faults", json=body, timeout=5).raise_for_status()
    while time.time() - t0 < 110:
        for n in fetch_notifications(st.webhook_url, since=t0):
            if alert in n.alertnames():
                out["nixl:paged_s"] = n.received_at - t0
                return
        time.sleep(0.5)


def _scenario(cfg: BundleConfig, repo_root: Path, tmp: Path, name: str, out: dict) -> None:
    nixl = name == WITH_NIXL
    if nixl:
        cfg, flags = stack_for(cfg, demo_models(cfg, 1), NIXL.needs)
    opts = StackOptions(
        cfg=cfg,
        repo_root=repo_root,
        profile="fast",
        replicas=1,
        models=demo_models(cfg, 1),
        # the demo's load per replica (6 users at 3/s over its two models' replicas): on
        # one replica the whole of it queues, and router-side TTFT (the whole non-streamed
        # reply) crossed 2 s, paging InferencePoolHighTimeToFirstToken
        users=3,
        rate=1.5,
        state_file=tmp / f"{name}.json",
        epp_generation=GENERATION.get(name, "0.10.0"),
        **({"sim_flags": flags} if nixl else {}),
    )
    stack = LocalStack(opts)
    try:
        stack.start()
        with Prometheus(stack.prometheus_url) as prom:
            deadline = time.monotonic() + 20
            wanted = ("epp:ready_endpoints", "sum(increase(epp:request_total[1m])) > 0")
            while time.monotonic() < deadline and not all(prom.query(q) for q in wanted):
                time.sleep(0.5)
            ready = prom.query("sum(epp:ready_endpoints)")
            out[name + ":requests"] = bool(prom.query(wanted[1]))
            members = set(stack.cfg.pool_models)
            pods = sum(1 for r in stack.running.replicas if r.model_key in members)
            out[name + ":ready"] = (float(ready[0]["value"][1]) if ready else None, pods)
        check = next(c for c in CHECKS if c.id == "router.epp_scrape")
        local = Options(prometheus_url=stack.prometheus_url, local=True)
        out[name + ":verify"] = check.run(VerifyContext(stack.cfg, None, local))
        scenario = SCENARIOS[name]
        if nixl:
            why = "the nixl-transfer-failures fault injected on the same stack"
            scenario = dataclasses.replace(
                scenario, tolerated={**scenario.tolerated, **dict.fromkeys(NIXL.expected, why)}
            )
            side = threading.Thread(target=_nixl_alongside, args=(stack, out), daemon=True)
            side.start()
        out[name] = run_scenario(scenario, stack.running, settle_s=20)
        if nixl:
            side.join(30)
    except Exception as err:  # reported by the test body
        out[name] = err
    finally:
        stack.stop()


def test_the_router_scenarios_are_these() -> None:
    assert ROUTER == ("epp-crash", "pool-unready", "datalayer-errors", "scheduling-failures")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_router_scenarios_page_side_by_side(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    cfg = with_inference_pool(bundle, demo_models(bundle, 1))
    out: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_scenario, args=(cfg, repo_root, tmp_path, name, out))
        for name in ROUTER
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(230)
    lines = [f"{len(ROUTER)} stacks side by side in {time.monotonic() - t0:.0f} s"]
    for name in ROUTER:
        result = out.get(name)
        assert not isinstance(result, Exception) and result is not None, (name, result)
        ready, pods = out[name + ":ready"]
        assert ready == pods, f"{name}: epp:ready_endpoints {ready} for {pods} pool replicas"
        assert out[name + ":requests"], f"{name}: no epp:request_total ({GENERATION.get(name)})"
        verify = out[name + ":verify"]
        assert verify.status == Status.PASS and "authorised" in verify.evidence, verify
        lines += format_result(result)
        assert result.targets and all("-epp-" in t for t in result.targets), result
        assert result.ok, "\n".join(format_result(result))
        for t in result.alerts:
            if name == WITH_NIXL and t.alert in NIXL.expected:
                continue  # the NIXL scenario's, timed below
            assert t.expected and t.ratio is not None and t.ratio <= RATIO_LIMIT, t
    least, paged = out.get("nixl:minimum"), out.get("nixl:paged_s")
    assert out.get("nixl:targets"), "the NIXL scenario found no target"
    assert least is not None and paged is not None, (least, paged)
    ratio = paged / least.total_s
    lines.append(f"nixl-transfer-failures: paged {paged:.1f}s, {ratio:.2f}x ({least.describe()})")
    assert ratio <= RATIO_LIMIT, lines[-1]
    print("\n".join(lines))
    assert EPP_JOB  # the job the monitor sets is the one verify reads
