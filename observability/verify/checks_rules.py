"""Rules layer: the bundle's groups are loaded, evaluate without errors; what fires now."""

from __future__ import annotations

from typing import Any

from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome
from observability.verify.selectors import explain_mismatch, fmt_selector

__all__ = ["CHECKS"]

WATCHDOG = "Watchdog"


def _loaded_groups(ctx: VerifyContext) -> list[dict[str, Any]]:
    return ctx.once("p.rules", lambda: ctx.prometheus().rule_groups())


def _why_not_loaded(ctx: VerifyContext, source: dict[str, Any]) -> str:
    """Explain a missing PrometheusRule with the Prometheus CR's ruleSelector."""
    if ctx.cluster is None:
        return ""
    prom = ctx.prometheus_cr()
    ns = source.get("namespace") or ctx.ns.monitoring
    name = source.get("name", "")
    live = ctx.need_cluster().custom("monitoring.coreos.com", "v1", ns, "prometheusrules", name)
    if live is None:
        return f"PrometheusRule {ns}/{name} does not exist (sync the monitoring-config Application)"
    if prom is not None:
        sel = (prom.get("spec") or {}).get("ruleSelector")
        why = explain_mismatch(sel, (live.get("metadata") or {}).get("labels") or {})
        if why:
            return (
                f"PrometheusRule {ns}/{name} not selected: ruleSelector {fmt_selector(sel)} but "
                f"{'; '.join(why)} (set ruleSelectorNilUsesHelmValues: false)"
            )
    return f"PrometheusRule {ns}/{name} exists: check the operator logs for rejected rules"


def _loaded(ctx: VerifyContext) -> Outcome:
    want = ctx.expected_rule_groups()
    if not want:
        return Outcome.warn("the bundle renders no rule groups", "run `obsctl render`")
    groups = {g.get("name"): g for g in _loaded_groups(ctx)}
    missing = [w for w in want if w["name"] not in groups]
    unhealthy: list[str] = []
    for w in want:
        g = groups.get(w["name"])
        for r in (g or {}).get("rules") or []:
            if r.get("health") not in ("ok", "unknown", None):
                unhealthy.append(
                    f"{w['name']}/{r.get('name')}: {r.get('lastError', r.get('health'))}"
                )
    if missing:
        reasons = list(dict.fromkeys(_why_not_loaded(ctx, w["source"]) for w in missing))
        return Outcome.fail(
            f"{len(missing)}/{len(want)} bundle rule groups not loaded: "
            + ", ".join(w["name"] for w in missing[:6]),
            "; ".join(r for r in reasons if r)
            or "load the rendered rule files (alerts/) into this Prometheus",
        )
    if unhealthy:
        return Outcome.fail(
            "rules unhealthy: " + "; ".join(unhealthy[:5]),
            "fix the expression (promtool check rules alerts/) and re-render",
        )
    n_rules = sum(len(w["rules"]) for w in want)
    return Outcome.ok(f"{len(want)} bundle groups loaded ({n_rules} rules), health ok")


def _errors(ctx: VerifyContext) -> Outcome:
    bad: list[str] = []
    for g in _loaded_groups(ctx):
        for r in g.get("rules") or []:
            if r.get("health") == "err" or r.get("lastError"):
                bad.append(f"{g.get('name')}/{r.get('name')}: {r.get('lastError', 'health err')}")
    if bad:
        return Outcome.fail(
            f"{len(bad)} rules fail to evaluate: " + "; ".join(bad[:5]),
            "a rule errors at evaluation (e.g. many-to-many matching, or a duplicate series "
            "after label changes): fix its expression; promtool test rules alerts/tests/*",
        )
    n = sum(len(g.get("rules") or []) for g in _loaded_groups(ctx))
    return Outcome.ok(f"{n} rules in {len(_loaded_groups(ctx))} groups evaluate without errors")


def _firing(ctx: VerifyContext) -> Outcome:
    alerts = ctx.once("p.alerts", lambda: ctx.prometheus().alerts())
    bundle_alerts = {
        r.get("alert") for w in ctx.expected_rule_groups() for r in w["rules"] if r.get("alert")
    }
    firing = [
        a for a in alerts if a.get("state") == "firing" and a["labels"].get("alertname") != WATCHDOG
    ]
    ours = [a for a in firing if a["labels"].get("alertname") in bundle_alerts]

    def fmt(a: dict[str, Any]) -> str:
        lab = a.get("labels") or {}
        where = (
            lab.get("pod") or lab.get("model_name") or lab.get("Hostname") or lab.get("instance")
        )
        return f"{lab.get('alertname')}[{lab.get('severity', '?')}]" + (
            f" {where}" if where else ""
        )

    if ours:
        return Outcome.warn(
            f"{len(ours)} bundle alerts firing: " + ", ".join(fmt(a) for a in ours[:8]),
            "follow each alert's runbook_url (docs/runbooks/<alert>.md)",
        )
    others = f" ({len(firing)} other alerts firing)" if firing else ""
    return Outcome.ok(f"no bundle alerts firing{others}")


P = ("prometheus.ready",)
CHECKS = [
    Check("rules.loaded", "rules", "bundle rule groups loaded", _loaded, P, local=True),
    Check("rules.errors", "rules", "no rule evaluation errors", _errors, P, local=True),
    Check("alerts.firing", "rules", "alerts firing now", _firing, P, local=True),
]
