"""Named fault scenarios with measured alert timing, run against a running local stack.

Each scenario states the alerts it expects, injects one fault through the simulator's
admin API while the stack's load runs, and measures per alert: the time from injection to
`firing` in Prometheus (polling /api/v1/alerts), the time to the first webhook
notification, and the theoretical minimum computed from the loaded rule
(scenarios/minimum.py):

    scrape interval + rule window need + budget + evaluation interval + `for` + group_wait

It fails when an expected alert did not page, paged later than 1.2x its minimum or has no
computable minimum, or an alert outside `expected` + `tolerated` (Watchdog aside) fired.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from observability.httppool import shared_client
from observability.load.burst import Burst
from observability.local.state import StackState
from observability.local.webhook import fetch_notifications
from observability.promapi import PromError, Prometheus
from observability.scenarios.catalog import REAL_FAULTS, Scenario
from observability.scenarios.minimum import (
    Clock,
    Minimum,
    Rule,
    Target,
    max_range_s,
    minimum,
    rules_from_api,
    too_late,
)

__all__ = [
    "AlertTiming",
    "ScenarioResult",
    "active_alerts",
    "clear_faults",
    "fault_targets",
    "format_result",
    "max_range_s",
    "minimums",
    "run_scenario",
]

WATCHDOG = "Watchdog"


@dataclass
class AlertTiming:
    alert: str
    expected: bool
    fired: bool
    prometheus_s: float | None  # fault -> firing in Prometheus
    webhook_s: float | None  # fault -> first notification at the webhook
    theoretical_min_s: float | None
    ratio: float | None  # webhook_s / theoretical_min_s
    # "namespace/model_name" of every firing instance seen (those carrying model_name)
    models: list[str] = field(default_factory=list)
    # label sets of its firing instances as the webhook received them: what a receiver
    # routes on, external labels (the cluster) included
    delivered: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ScenarioResult:
    scenario: str
    fault: str | None
    targets: list[str]
    expected: list[str]
    alerts: list[AlertTiming]
    unexpected: list[str]
    ok: bool
    duration_s: float
    notes: list[str] = field(default_factory=list)
    target_model: str | None = None  # "namespace/model_name" when the fault hits one model

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- HTTP helpers ----------------------------------------------------------------------
def _request(url: str, method: str = "GET", body: Any = None, timeout: float = 5.0) -> Any:
    """The simulator's admin API (JSON in, JSON out)."""
    resp = shared_client().request(method, url, json=body, timeout=timeout)
    resp.raise_for_status()
    return resp.json() if resp.content else None


def active_alerts(prom_url: str) -> list[dict[str, Any]]:
    with Prometheus(prom_url, timeout=5.0) as prom:
        return prom.alerts()


def loaded_rules(prom_url: str) -> list[Rule]:
    """The rules as Prometheus loaded them (what the minimums are computed from)."""
    with Prometheus(prom_url, timeout=5.0) as prom:
        return rules_from_api(prom.rule_groups())


def target_of(scenario: Scenario, stack: StackState, targets: list[str]) -> Target | None:
    """The faulted pods' namespace and model key (None for a node or EPP fault)."""
    if scenario.target == "node" or scenario.needs_pool:
        return None
    r = next((r for r in stack.replicas if r.pod in targets), None)
    return Target(r.namespace, r.model_key) if r is not None else None


def minimums(
    scenario: Scenario, stack: StackState, rules: list[Rule], target: Target | None
) -> dict[str, Minimum | None]:
    """Each expected alert's theoretical minimum on this stack (None: not computable)."""
    clock = Clock(stack.scrape_interval_s, stack.evaluation_interval_s, stack.group_wait_s)
    return {
        a: minimum(a, rules, clock, scenario.window_fraction, target) for a in scenario.expected
    }


def _burst(scenario: Scenario, stack: StackState, targets: list[str]) -> Burst:
    urls = [(r.url, r.model) for r in stack.replicas if r.pod in targets]
    users = scenario.burst_users if urls else 0
    return Burst(urls, users, max_tokens=scenario.burst_max_tokens).__enter__()


# -- targets -----------------------------------------------------------------------------
MODEL_TARGETS = ("model", "second-model", "last-model")


def _target_key(scenario: Scenario, stack: StackState) -> str | None:
    """The model key a model-level scenario faults (the stack's first, second or last)."""
    if scenario.fault is None or scenario.target not in MODEL_TARGETS:
        return None
    models = list(dict.fromkeys(r.model_key for r in stack.replicas))
    if scenario.target == "last-model":
        return models[-1]
    return models[1] if scenario.target == "second-model" and len(models) > 1 else models[0]


def target_model(scenario: Scenario, stack: StackState) -> str | None:
    """ "namespace/model_name" of the model a model-level scenario faults, else None."""
    key = _target_key(scenario, stack)
    r = next((r for r in stack.replicas if r.model_key == key), None)
    return f"{r.namespace}/{r.model}" if r is not None else None


def fault_targets(scenario: Scenario, stack: StackState) -> list[str]:
    if scenario.fault is None:
        return []
    if scenario.target == "node":
        return [stack.nodes[0].node]
    if scenario.needs_pool:  # the pool's endpoint picker (none: the pool is off)
        return [e.pod for e in stack.epps]
    if scenario.target.startswith("runtime:"):  # every replica of a model on that runtime
        runtime = scenario.target.removeprefix("runtime:")
        return [r.pod for r in stack.replicas if r.runtime == runtime]
    if scenario.target == "replica":
        return [stack.replicas[0].pod]
    if scenario.target == "real":  # the first real vLLM this stack started
        return [r.pod for r in stack.replicas if r.engine == "vllm-cpu"][:1]
    key = _target_key(scenario, stack)
    return [r.pod for r in stack.replicas if r.model_key == key]


def _model_of(labels: dict[str, str]) -> str | None:
    if "model_name" not in labels:
        return None
    return f"{labels.get('namespace', '')}/{labels['model_name']}"


def _inject(
    scenario: Scenario, stack: StackState, target: str, kill: Callable[[str], None] | None
) -> None:
    """A simulator fault through its admin API; a real engine's through `kill` (pressure
    is the burst alone)."""
    if scenario.fault == "kill":
        if kill is None:
            raise RuntimeError(f"scenario {scenario.name} needs a way to kill {target}")
        kill(target)
    elif scenario.fault not in REAL_FAULTS:
        _request(
            f"{stack.sim_admin_url}/faults",
            method="POST",
            body={"fault": scenario.fault, "target": target, "params": scenario.params},
        )


def clear_faults(stack: StackState) -> None:
    _request(f"{stack.sim_admin_url}/faults", method="DELETE")


def _firing(alerts: list[dict[str, Any]], state: str = "firing") -> set[str]:
    return {a["labels"]["alertname"] for a in alerts if a["state"] == state} - {WATCHDOG}


def _note_models(where: dict[str, set[str]], alerts: list[dict[str, Any]]) -> None:
    """Record the model of each firing alert instance (alert name -> namespace/model)."""
    for a in alerts:
        labels = a.get("labels", {})
        model = _model_of(labels)
        if model is not None and a.get("state", a.get("status")) == "firing":
            where.setdefault(labels.get("alertname", ""), set()).add(model)


def wait_quiet(
    stack: StackState,
    timeout: float,
    say: Callable[[str], None],
    short: frozenset[str] = frozenset(),
) -> set[str]:
    """Wait until nothing but the Watchdog fires, and none of the `short` alerts (a `for`
    that ends within `timeout`) is pending: such an alert fires during the scenario
    without the fault (a fresh stack's first slow requests set the fast SLO burn pending).
    Return what is left. (Pending alerts with an hour-long `for`, such as
    GPUUnderutilized, would never clear in time.)"""
    end = time.monotonic() + timeout
    left: set[str] = set()
    while time.monotonic() < end:
        try:
            alerts = active_alerts(stack.prometheus_url)
        except PromError:  # one slow answer on a loaded machine: the next poll retries
            time.sleep(0.5)
            continue
        left = _firing(alerts) | (_firing(alerts, "pending") & short)
        if not left:
            return set()
        time.sleep(0.5)
    say(f"still active before injection: {', '.join(sorted(left))}")
    return left


def wait_traffic(stack: StackState, pods: list[str], timeout: float = 30.0) -> None:
    """Wait until each targeted replica produced tokens in the last 10 s, so the fault
    hits a replica in steady state (on a fresh stack the load needs a few seconds; a
    replica that never had traffic would make "no tokens in the window" true at once)."""
    wanted = {r.pod for r in stack.replicas} & set(pods)
    expr = "sum by (pod) (increase(vllm:generation_tokens_total[10s])) > 0"
    end = time.monotonic() + timeout
    while wanted and time.monotonic() < end:
        try:
            with Prometheus(stack.prometheus_url, timeout=5.0) as prom:
                res = prom.query(expr)
        except PromError:  # as in wait_quiet: retry on the next poll
            time.sleep(0.5)
            continue
        if wanted <= {r["metric"].get("pod") for r in res}:
            return
        time.sleep(0.5)


def run_scenario(
    scenario: Scenario,
    stack: StackState,
    timeout_s: float | None = None,
    settle_s: float = 60.0,
    say: Callable[[str], None] = lambda _m: None,
    kill: Callable[[str], None] | None = None,
) -> ScenarioResult:
    """`kill(pod)` kills a real engine (the real scenarios' target-down)."""
    if scenario.needs_pool and not stack.epps:
        return ScenarioResult(
            scenario=scenario.name,
            fault=scenario.fault,
            targets=[],
            expected=list(scenario.expected),
            alerts=[],
            unexpected=[],
            ok=False,
            duration_s=0.0,
            notes=["the stack runs no inference pool (obsctl demo --inference-pool)"],
        )
    rules = loaded_rules(stack.prometheus_url)
    missing = [a for a in scenario.expected if not any(r.name == a for r in rules)]
    clear_faults(stack)
    short = frozenset(r.name for r in rules if r.alerting and r.for_s <= settle_s)
    preexisting = wait_quiet(stack, settle_s, say, short)
    targets = fault_targets(scenario, stack)
    victim = target_model(scenario, stack)
    computed = minimums(scenario, stack, rules, target_of(scenario, stack, targets))
    mins = {a: m.total_s if m is not None else None for a, m in computed.items()}
    # expected alerts must arrive within 1.2x their minimum: give up at 1.25x + 15 s
    budget = timeout_s or max([1.25 * (m or 0) for m in mins.values()] + [30.0]) + 15
    if scenario.fault not in REAL_FAULTS:  # a real engine's pressure is its own traffic
        wait_traffic(stack, targets)
        # the traffic may have just started (a fresh stack): quiet again before the fault
        preexisting |= wait_quiet(stack, settle_s, say, short)
    t0 = time.time()
    for target in targets:
        say(f"injecting {scenario.fault} on {target}")
        _inject(scenario, stack, target, kill)
    # after the fault: shrinking a cache that 128 sequences already share would start
    # with a wave of preemptions instead of the cache filling up
    burst = _burst(scenario, stack, targets)
    seen_prom: dict[str, float] = {}
    seen_hook: dict[str, float] = {}
    where: dict[str, set[str]] = {}  # alert -> namespace/model of its firing instances
    delivered: dict[str, set[tuple[tuple[str, str], ...]]] = {}  # alert -> label sets
    # benign scenarios watch for false positives; lifecycle ones past the `for` of the
    # symptoms their cause must mute
    observe = scenario.observe_s
    grace_until: float | None = None
    try:
        while True:
            now = time.time()
            try:
                alerts = active_alerts(stack.prometheus_url)
            except PromError:  # one slow answer on a loaded machine: the next poll retries
                alerts = []
            _note_models(where, alerts)
            for name in _firing(alerts):
                seen_prom.setdefault(name, now - t0)
            for n in fetch_notifications(stack.webhook_url, since=t0):
                if n.receiver == "null":  # severity none: delivered to nobody, not a page
                    continue
                _note_models(where, n.alerts)
                for a in n.alerts:
                    if a.get("status") == "firing":
                        labels = a.get("labels", {})
                        delivered.setdefault(labels.get("alertname", ""), set()).add(
                            tuple(sorted(labels.items()))
                        )
                for name in n.alertnames() - {WATCHDOG}:
                    seen_hook.setdefault(name, n.received_at - t0)
            done = all(a in seen_hook for a in scenario.expected)
            if done and grace_until is None:
                # keep watching a little for alerts the fault should not cause
                grace_until = now + stack.evaluation_interval_s * 2 + stack.group_wait_s + 1
            elapsed = now - t0
            if (grace_until and now >= grace_until and elapsed >= observe) or elapsed > max(
                budget, observe
            ):
                break
            time.sleep(0.25)
    finally:
        clear_faults(stack)
        burst.__exit__(None, None, None)
    duration = time.time() - t0

    timings = []
    allowed = set(scenario.expected) | set(scenario.tolerated) | preexisting
    # an inhibited alert may fire in Prometheus, but a notification of it is a failure
    unexpected = sorted(
        (set(seen_prom) - allowed - set(scenario.inhibited)) | (set(seen_hook) - allowed)
    )
    if victim is not None:  # a fault on one model alerts for that model only
        unexpected += sorted(
            f"{a} for {m}" for a in scenario.expected for m in where.get(a, set()) - {victim}
        )
    for name in sorted(set(scenario.expected) | set(seen_prom) | set(seen_hook)):
        m = mins.get(name) if name in scenario.expected else None
        hook = seen_hook.get(name)
        timings.append(
            AlertTiming(
                alert=name,
                expected=name in scenario.expected,
                fired=name in seen_prom or name in seen_hook,
                prometheus_s=seen_prom.get(name),
                webhook_s=hook,
                theoretical_min_s=m,
                ratio=(hook / m) if hook is not None and m else None,
                models=sorted(where.get(name, set())),
                delivered=[dict(ls) for ls in sorted(delivered.get(name, set()))],
            )
        )
    notes = [f"no alert rule named {a} is loaded" for a in missing]
    late = [
        f"{t.alert}: {why}"
        for t in timings
        if t.expected and t.webhook_s is not None
        for why in [too_late(t.webhook_s, computed.get(t.alert))]
        if why
    ]
    notes += late
    if preexisting:
        notes.append(f"already active before the fault: {', '.join(sorted(preexisting))}")
    muted = sorted(set(scenario.inhibited) & set(seen_prom) - set(seen_hook))
    if muted:
        notes.append(f"fired in Prometheus, muted by Alertmanager: {', '.join(muted)}")
    ok = (
        all(t.fired and t.webhook_s is not None for t in timings if t.expected)
        and not unexpected
        and not late
    )
    return ScenarioResult(
        scenario=scenario.name,
        fault=scenario.fault,
        targets=targets,
        expected=list(scenario.expected),
        alerts=timings,
        unexpected=unexpected,
        ok=ok and not missing,
        duration_s=duration,
        notes=notes,
        target_model=victim,
    )


def format_result(res: ScenarioResult) -> list[str]:
    def s(v: float | None) -> str:
        return f"{v:6.1f}s" if v is not None else "     -"

    head = "PASS" if res.ok else "FAIL"
    out = [f"{head} {res.scenario} ({res.fault or 'no fault'} on {', '.join(res.targets) or '-'})"]
    out.append(
        f"  {'alert':<28} {'expected':<8} {'fired':<5} {'prom':>7} {'webhook':>7} {'min':>7} {'ratio':>6}"
    )
    for t in res.alerts:
        ratio = f"{t.ratio:5.2f}x" if t.ratio is not None else "     -"
        out.append(
            f"  {t.alert:<28} {'yes' if t.expected else 'NO':<8} {'yes' if t.fired else 'no':<5} "
            f"{s(t.prometheus_s)} {s(t.webhook_s)} {s(t.theoretical_min_s)} {ratio}"
        )
    if not res.alerts:
        out.append("  (no alert besides the Watchdog)")
    if res.target_model:
        out += [
            f"  {t.alert} fired for {', '.join(t.models)}"
            for t in res.alerts
            if t.expected and t.models
        ]
    out += [f"  unexpected: {', '.join(res.unexpected)}"] if res.unexpected else []
    out += [f"  note: {n}" for n in res.notes]
    return out
