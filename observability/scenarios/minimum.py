"""The theoretical minimum time from a scenario's fault to its expected alert's first page,
computed from the rule as rendered (or as Prometheus loaded it):

    scrape interval + window need + budget + evaluation interval + `for` + group_wait

- window need: `window_fraction` (catalog) of the largest range window the expression
  reads, following the recording rules it uses (0 for gauges and `up`, the whole window
  for "no tokens in the window");
- budget: seconds the expression waits out by itself, the right side of an age
  comparison `time() - <start> > <budget>` (a number, or a recording rule read for the
  faulted model: the lifecycle rules' `namespace_pod:vllm_load_budget:seconds`, the
  model's expected_load_time under the profile);
- evaluation interval: the rule group's own, else the global one.

An alert with several rules (critical and warning, one per model) takes the rule with the
smallest minimum. `None` when the alert has no rule or its budget cannot be read for the
target: the scenario then fails, as it does when the first page arrives later than
`RATIO_LIMIT` times the minimum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

from observability.config import duration_seconds
from observability.metrics.promql_ast import metric_names, nodes, parse, ranges_s, unwrap

__all__ = [
    "RATIO_LIMIT",
    "Clock",
    "Minimum",
    "Rule",
    "Target",
    "budget_s",
    "max_range_s",
    "minimum",
    "rules_from_api",
    "rules_from_groups",
    "too_late",
]

RATIO_LIMIT = 1.2  # a scenario fails when an expected alert pages later than this x minimum
# kube-state-metrics' prefix of pod labels: a model's pods are named by one whose value is
# the model key (`app.kubernetes.io/instance`, or the runtime's: Runtime.model_pod_label)
KSM_LABEL_PREFIX = "label_"
_AGE_COMPARISONS = (">", ">=")


@dataclass(frozen=True)
class Clock:
    scrape_s: float
    evaluation_s: float  # the global evaluation interval (a group may set its own)
    group_wait_s: float


@dataclass(frozen=True)
class Rule:
    name: str  # alert or recording name
    expr: str
    for_s: float = 0.0
    interval_s: float | None = None  # the group's evaluation interval, None = global
    alerting: bool = True


@dataclass(frozen=True)
class Target:
    """The faulted model's pods: their namespace and model key (None for a node fault)."""

    namespace: str
    model_key: str


@dataclass(frozen=True)
class Minimum:
    alert: str
    scrape_s: float
    window_s: float
    budget_s: float
    evaluation_s: float
    for_s: float
    group_wait_s: float

    @property
    def total_s(self) -> float:
        return (
            self.scrape_s
            + self.window_s
            + self.budget_s
            + self.evaluation_s
            + self.for_s
            + self.group_wait_s
        )

    def describe(self) -> str:
        parts = (
            ("scrape", self.scrape_s),
            ("window", self.window_s),
            ("budget", self.budget_s),
            ("evaluation", self.evaluation_s),
            ("for", self.for_s),
            ("group_wait", self.group_wait_s),
        )
        return " + ".join(f"{v:g}s {k}" for k, v in parts) + f" = {self.total_s:g}s"


def rules_from_groups(groups: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Rules of a rendered rule file's groups (`alert`/`record`, `expr`, `for`)."""
    out = []
    for g in groups:
        interval = duration_seconds(g["interval"]) if g.get("interval") else None
        for r in g["rules"]:
            alerting = "alert" in r
            out.append(
                Rule(
                    name=r["alert"] if alerting else r["record"],
                    expr=str(r["expr"]),
                    for_s=duration_seconds(r["for"]) if r.get("for") else 0.0,
                    interval_s=interval,
                    alerting=alerting,
                )
            )
    return out


def rules_from_api(groups: Iterable[Mapping[str, Any]]) -> list[Rule]:
    """Rules as Prometheus loaded them (`/api/v1/rules` groups)."""
    out = []
    for g in groups:
        interval = float(g["interval"]) if g.get("interval") else None
        for r in g["rules"]:
            out.append(
                Rule(
                    name=r["name"],
                    expr=r["query"],
                    for_s=float(r.get("duration") or 0.0),
                    interval_s=interval,
                    alerting=r["type"] == "alerting",
                )
            )
    return out


def _recording(rules: Iterable[Rule]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rules:
        if not r.alerting:
            out.setdefault(r.name, []).append(r.expr)
    return out


def max_range_s(query: str, recording: Mapping[str, list[str]], depth: int = 0) -> float:
    """Largest range window the query reads, following recording rules it uses."""
    found = ranges_s(query)
    if depth < 4:
        for name in metric_names(query):
            if name in recording:
                found.append(max(max_range_s(q, recording, depth + 1) for q in recording[name]))
    return max(found, default=0.0)


def _reads_time(node: pp.Expr) -> bool:
    return any(isinstance(n, pp.Call) and n.func.name == "time" for n in nodes(node))


def _recorded_value(exprs: list[str], target: Target | None) -> float | None:
    """The value a recording rule holds for the target's pods: a number literal it
    multiplies a selector of those pods by (`group by (...) (kube_pod_labels{namespace=
    "ns", <model key label>="key"}) * 60`), or a bare number."""
    for expr in exprs:
        root = unwrap(parse(expr))
        if isinstance(root, pp.NumberLiteral):
            return float(root.val)
        for n in nodes(root):
            if not (isinstance(n, pp.BinaryExpr) and str(n.op) == "*"):
                continue
            lhs, rhs = unwrap(n.lhs), unwrap(n.rhs)
            num, other = (rhs, lhs) if isinstance(rhs, pp.NumberLiteral) else (lhs, rhs)
            if not isinstance(num, pp.NumberLiteral) or target is None:
                continue
            for vs in (x for x in nodes(other) if isinstance(x, pp.VectorSelector)):
                eq = {
                    m.name: m.value
                    for m in vs.matchers.matchers
                    if str(m.op).removeprefix("MatchOp.") == "Equal"
                }
                # the model's pods: its namespace and a pod label naming its key (the
                # runtime's, Runtime.model_pod_label)
                if eq.get("namespace") == target.namespace and any(
                    k.startswith(KSM_LABEL_PREFIX) and v == target.model_key for k, v in eq.items()
                ):
                    return float(num.val)
    return None


def budget_s(expr: str, recording: Mapping[str, list[str]], target: Target | None) -> float | None:
    """Seconds the expression waits out by itself: the largest right side of an age
    comparison (`time() - ... > budget`), 0.0 without one, None when that budget is
    neither a number nor a recording rule with a value for the target."""
    found = 0.0
    for n in nodes(parse(expr)):
        if not (isinstance(n, pp.BinaryExpr) and str(n.op) in _AGE_COMPARISONS):
            continue
        if not _reads_time(n.lhs):
            continue
        rhs = unwrap(n.rhs)
        if isinstance(rhs, pp.NumberLiteral):
            value: float | None = float(rhs.val)
        elif isinstance(rhs, pp.VectorSelector) and rhs.name in recording:
            value = _recorded_value(recording[rhs.name], target)
        else:
            value = None
        if value is None:
            return None
        found = max(found, value)
    return found


def minimum(
    alert: str,
    rules: list[Rule],
    clock: Clock,
    window_fraction: float = 0.0,
    target: Target | None = None,
) -> Minimum | None:
    """The alert's theoretical minimum (smallest over its rules), None when it has no rule
    or a rule's budget cannot be read for the target."""
    recording = _recording(rules)
    best: Minimum | None = None
    for r in rules:
        if not (r.alerting and r.name == alert):
            continue
        budget = budget_s(r.expr, recording, target)
        if budget is None:
            return None
        m = Minimum(
            alert=alert,
            scrape_s=clock.scrape_s,
            window_s=window_fraction * max_range_s(r.expr, recording),
            budget_s=budget,
            evaluation_s=r.interval_s if r.interval_s is not None else clock.evaluation_s,
            for_s=r.for_s,
            group_wait_s=clock.group_wait_s,
        )
        if best is None or m.total_s < best.total_s:
            best = m
    return best


def too_late(webhook_s: float, m: Minimum | None) -> str | None:
    """Why a page `webhook_s` after the fault fails its scenario, or None when it is in time
    (within RATIO_LIMIT x the minimum)."""
    if m is None:
        return "no theoretical minimum could be computed from its rule"
    if webhook_s > RATIO_LIMIT * m.total_s:
        ratio = webhook_s / m.total_s
        return (
            f"paged at {webhook_s:.1f}s, {ratio:.2f}x its minimum, over {RATIO_LIMIT:g}x "
            f"({m.describe()})"
        )
    return None
