"""The theoretical minimum of every scenario's expected alerts, computed from the rules the
shipped bundle.yaml renders under the `fast` profile on the demo's models (what `obsctl
scenario run --profile fast` and bench/scenarios.py load), with the demo stack's clock: no
stack runs. A minimum that leaves out the rule's `for`, a scrape and an evaluation, or the
model's load budget (slow-start once printed 3.0 s against a 61.1 s page) fails here. The
router scenarios (target `epp`) read the rules of the same bundle with the inference pool on,
as their stacks run it (local/router.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from observability.alerting.timing import FAST, scaled_seconds
from observability.config import duration_seconds, load_config
from observability.local import alertmanager as am
from observability.local.models import demo_config, demo_models
from observability.local.router import with_inference_pool
from observability.local.rules import groups_for
from observability.local.stack import FAST as FAST_STACK
from observability.scenarios import SCENARIOS, Scenario
from observability.scenarios.catalog import REAL_SCENARIOS
from observability.scenarios.minimum import (
    RATIO_LIMIT,
    Clock,
    Rule,
    Target,
    budget_s,
    minimum,
    rules_from_api,
    rules_from_groups,
    too_late,
)
from observability.scenarios.stack import stack_for

ROOT = Path(__file__).resolve().parent.parent
CFG0 = load_config(ROOT / "bundle.yaml")
MODELS = demo_models(CFG0)  # ((model key, namespace), ...)
CFG = demo_config(CFG0, MODELS)
GROUPS = groups_for(CFG, "fast")
RULES = rules_from_groups(GROUPS)
POOL_GROUPS = groups_for(demo_config(with_inference_pool(CFG0, MODELS), MODELS), "fast")
POOL_RULES = rules_from_groups(POOL_GROUPS)
# a scenario's `needs` (scenarios/stack.py): nixl = a disaggregated pool with NIXL replicas
NIXL_GROUPS = groups_for(demo_config(stack_for(CFG0, MODELS, ("nixl",))[0], MODELS), "fast")
NIXL_RULES = rules_from_groups(NIXL_GROUPS)
CLOCK = Clock(
    scrape_s=duration_seconds(FAST_STACK["scrape_interval"]),
    evaluation_s=duration_seconds(FAST_STACK["evaluation_interval"]),
    group_wait_s=am.group_wait_s(am.local_config(CFG, "http://127.0.0.1:1", "fast")),
)

# The scenario -> its expected alerts' minimum in seconds on the fast profile, by hand from
# the rendered rules (1 s scrape, 1 s evaluation, 1 s group_wait):
PINNED = {
    "kv-saturation": {"VLLMKVCacheSaturated": 3 + 5 + 60},  # half the 10s median window
    "latency-degradation": {
        "VLLMHighInterTokenLatency": 3 + 3 + 60,  # 1% of the 5m rate window
        "VLLMHighTimeToFirstToken": 3 + 3 + 60,
    },
    "error-storm": {"VLLMHighErrorRate": 3 + 60},
    "replica-crash": {"VLLMTargetDown": 3 + 60},
    "engine-hang": {"VLLMEngineStalled": 3 + 60 + 60},  # the whole 1m window, then `for`
    "metrics-disabled": {"VLLMMetricsAbsent": 3 + 60},
    "gpu-xid": {"GPUXidErrors": 3},
    "gpu-overheat": {"GPUHighTemperature": 3 + 60},
    "pod-pending-gpu": {"VLLMPodUnschedulable": 3 + 60},
    "crash-loop": {"VLLMPodCrashLooping": 3 + 30},
    "oom-crash-loop": {"VLLMPodOOMKilled": 3},
    "slow-start": {"VLLMPodNotReady": 3 + 60},  # expected_load_time 10m / 10, no `for`
    # the router's: `up`, a gauge and a rate over 0 cross at the first failing scrape; half
    # the attempts failing cross a 0.05 ratio of 5m rates after a tenth of the window
    "epp-crash": {"InferencePoolEPPDown": 3 + 60},
    "pool-unready": {"InferencePoolNoReadyEndpoints": 3 + 60},
    "scheduling-failures": {"InferencePoolSchedulingFailures": 3 + 30 + 60},
    "datalayer-errors": {"InferencePoolDatalayerPollErrors": 3 + 60},
    # a counter's rate > 0, `for` 1m, on the stack its `needs` give (a P/D inference pool)
    "nixl-transfer-failures": {"VLLMNixlTransferFailures": 3 + 60},
}


def rules_for(s: Scenario) -> list[Rule]:
    """The rules its stack loads: the router's scenarios run with the pool on."""
    if "nixl" in s.needs:
        return NIXL_RULES
    return POOL_RULES if s.needs_pool else RULES


def target(s: Scenario) -> Target | None:
    """The model run_scenario faults: a replica's and "model" are the stack's first."""
    if s.target == "node" or s.needs_pool:
        return None
    key, namespace = MODELS[-1] if s.target == "last-model" else MODELS[0]
    return Target(namespace, key)


def rules_named(alert: str, rules: list[Rule] = RULES) -> list[Rule]:
    return [r for r in rules if r.alerting and r.name == alert]


def test_the_clock_is_the_fast_stacks() -> None:
    assert (CLOCK.scrape_s, CLOCK.evaluation_s, CLOCK.group_wait_s) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_expected_alert_has_a_minimum_covering_its_rule(name: str) -> None:
    s = SCENARIOS[name]
    rules = rules_for(s)
    got = {a: minimum(a, rules, CLOCK, s.window_fraction, target(s)) for a in s.expected}
    assert {a: m.total_s if m else None for a, m in got.items()} == PINNED.get(name, {})
    for alert, m in got.items():
        assert m is not None and m.total_s > 0, (name, alert)
        # no rule of the alert can page sooner than its `for` plus a scrape and an evaluation
        shortest_for = min(r.for_s for r in rules_named(alert, rules))
        assert m.total_s >= shortest_for + CLOCK.scrape_s + CLOCK.evaluation_s, (name, m)
        assert m.for_s == shortest_for


def test_every_scenario_is_pinned() -> None:
    assert set(PINNED) == {n for n, s in SCENARIOS.items() if s.expected}


def test_the_router_scenarios_need_the_pool() -> None:
    """Without the pool the bundle renders no router alert: no minimum, the scenario fails."""
    routed = [s for s in SCENARIOS.values() if s.needs_pool]
    assert {s.name for s in routed} == {
        "epp-crash",
        "pool-unready",
        "scheduling-failures",
        "datalayer-errors",
    }
    for s in routed:
        assert all(minimum(a, RULES, CLOCK, s.window_fraction, None) is None for a in s.expected)


# `obsctl scenario run --engine vllm-cpu`: the real replica serves the first model
REAL_PINNED = {
    "kv-saturation": {"VLLMKVCacheSaturated": 3 + 5 + 60},
    "queue-backlog": {"VLLMQueueBacklog": 3 + 60},  # the waiting count: a gauge, no window
    "target-down": {"VLLMTargetDown": 3 + 60},
}


@pytest.mark.parametrize("name", list(REAL_SCENARIOS))
def test_real_engine_scenarios_have_their_minimums(name: str) -> None:
    s = REAL_SCENARIOS[name]
    got = {a: minimum(a, RULES, CLOCK, s.window_fraction, target(s)) for a in s.expected}
    assert {a: m.total_s if m else None for a, m in got.items()} == REAL_PINNED[name]
    assert set(REAL_PINNED) == set(REAL_SCENARIOS)


def test_the_nixl_alert_exists_only_on_the_stack_the_scenario_needs() -> None:
    """VLLMNixlTransferFailures renders with a disaggregated inference pool only: on the
    shipped demo stack, or with a plain pool, the NIXL scenario would have no minimum."""
    s = SCENARIOS["nixl-transfer-failures"]
    assert s.needs == ("nixl",) and not s.needs_pool
    for rules in (RULES, POOL_RULES):
        assert minimum("VLLMNixlTransferFailures", rules, CLOCK, 0.0, target(s)) is None
    cfg, flags = stack_for(CFG0, MODELS, s.needs)
    assert flags.nixl and cfg.pool.enabled and cfg.pool.disaggregation


def test_slow_start_includes_the_models_load_budget() -> None:
    s = SCENARIOS["slow-start"]
    key, namespace = MODELS[0]
    m = minimum("VLLMPodNotReady", RULES, CLOCK, s.window_fraction, Target(namespace, key))
    assert m is not None
    load = scaled_seconds(FAST, CFG.models[key].expected_load_time)
    assert load == 60
    assert m.budget_s == load
    assert m.total_s == CLOCK.scrape_s + load + CLOCK.evaluation_s + CLOCK.group_wait_s


def test_the_budget_follows_the_faulted_model() -> None:
    """Each model's budget is its own expected_load_time: a model with 15m waits 90 s."""
    data = CFG.model_dump(mode="json")
    key, namespace = MODELS[1]
    data["models"][key]["expected_load_time"] = "15m"
    cfg = type(CFG).model_validate(data)
    rules = rules_from_groups(groups_for(cfg, "fast"))
    slow = minimum("VLLMPodNotReady", rules, CLOCK, 0.0, Target(namespace, key))
    other = minimum("VLLMPodNotReady", rules, CLOCK, 0.0, Target(MODELS[0][1], MODELS[0][0]))
    assert slow is not None and other is not None
    assert (slow.budget_s, other.budget_s) == (90, 60)


def test_a_budget_that_cannot_be_read_gives_no_minimum() -> None:
    """A pod of no known model: the recorded budget has no value for it, so the minimum is
    None and the scenario fails instead of passing against a minimum without the budget."""
    assert minimum("VLLMPodNotReady", RULES, CLOCK, 0.0, Target("elsewhere", "nobody")) is None
    assert minimum("VLLMPodNotReady", RULES, CLOCK, 0.0, None) is None
    assert minimum("NoSuchAlert", RULES, CLOCK, 0.0, None) is None


def test_age_comparisons_against_numbers_and_recordings() -> None:
    rec = {"ns_pod:budget:seconds": ["vector(42)"], "lit:seconds": ["120"]}
    assert budget_s("time() - x > 30", rec, None) == 30
    assert budget_s("(time() - x) > on (pod) group_left lit:seconds", rec, None) == 120
    assert budget_s("time() - x > ns_pod:budget:seconds", rec, None) is None  # not read
    assert budget_s("rate(x[5m]) > 3", rec, None) == 0  # a threshold, not an age


def _api(groups: list[dict]) -> list[dict]:
    return [
        {
            "name": g["name"],
            "interval": duration_seconds(g.get("interval", "1s")),
            "rules": [
                {
                    "type": "alerting" if "alert" in r else "recording",
                    "name": r.get("alert", r.get("record")),
                    "query": r["expr"],
                    "duration": duration_seconds(r["for"]) if r.get("for") else 0,
                }
                for r in g["rules"]
            ],
        }
        for g in groups
    ]


def test_prometheus_api_rules_give_the_same_minimums() -> None:
    """run_scenario reads the rules Prometheus loaded (/api/v1/rules): shaped as it serves
    them (seconds, `query`, `duration`), they give the same minimums as the rule file."""
    plain, pooled = rules_from_api(_api(GROUPS)), rules_from_api(_api(POOL_GROUPS))
    nixl = rules_from_api(_api(NIXL_GROUPS))
    for name, s in SCENARIOS.items():
        rules = nixl if "nixl" in s.needs else pooled if s.needs_pool else plain
        for a in s.expected:
            m = minimum(a, rules, CLOCK, s.window_fraction, target(s))
            assert m is not None and m.total_s == PINNED[name][a], (name, a)


def test_a_page_later_than_the_ratio_limit_fails() -> None:
    """slow-start paged at 61.1 s: in time against its 63 s minimum, 20x late against the
    3.0 s the bench printed when the budget was left out; no minimum fails too."""
    s = SCENARIOS["slow-start"]
    m = minimum("VLLMPodNotReady", RULES, CLOCK, s.window_fraction, target(s))
    assert m is not None and RATIO_LIMIT == 1.2
    assert too_late(61.1, m) is None
    assert too_late(RATIO_LIMIT * m.total_s, m) is None
    late = too_late(RATIO_LIMIT * m.total_s + 0.1, m)
    assert late is not None and "60s budget" in late
    without_budget = dataclasses.replace(m, budget_s=0.0)
    assert without_budget.total_s == 3.0
    assert "20.37x" in (too_late(61.1, without_budget) or "")
    assert too_late(1.0, None) == "no theoretical minimum could be computed from its rule"
