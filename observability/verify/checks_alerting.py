"""Alerting path: Watchdog fires in Prometheus and reaches Alertmanager; Alertmanager's
config is loaded with receivers that can notify someone."""

from __future__ import annotations

from typing import Any

import yaml

from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS"]

WATCHDOG = "Watchdog"


def _watchdog(ctx: VerifyContext) -> Outcome:
    prom = ctx.prometheus()
    alerts = ctx.once("p.alerts", lambda: prom.alerts())
    in_prom = [
        a
        for a in alerts
        if a.get("labels", {}).get("alertname") == WATCHDOG and a.get("state") == "firing"
    ]
    if not in_prom:
        return Outcome.fail(
            f"{WATCHDOG} is not firing in Prometheus ({prom.label})",
            "the always-firing Watchdog rule (expr vector(1)) is missing: keep "
            "defaultRules.create (group `general.rules`) or the bundle's Watchdog rule; see "
            "rules.loaded",
        )
    am = ctx.alertmanager()
    in_am = am.alerts(WATCHDOG)
    if not in_am:
        try:
            ams = prom.alertmanagers()
        except Exception:  # evidence only; the main finding stands
            ams = []
        urls = ", ".join(a.get("url", "?") for a in ams) or "none"
        return Outcome.fail(
            f"{WATCHDOG} fires in Prometheus but is not in Alertmanager ({am.label}); "
            f"Prometheus sends to: {urls}",
            "Prometheus does not deliver alerts to this Alertmanager: check "
            "prometheusSpec.alerting.alertmanagers (KPS sets it), NetworkPolicies between "
            "them, and the Prometheus log for 'Error sending alert'",
        )
    return Outcome.ok(
        f"{WATCHDOG} firing in Prometheus and present in Alertmanager "
        f"(receivers {sorted({r.get('name') for a in in_am for r in a.get('receivers') or []})})"
    )


def _receivers_in(route: dict[str, Any]) -> set[str]:
    out = {route["receiver"]} if route.get("receiver") else set()
    for child in route.get("routes") or []:
        out |= _receivers_in(child)
    return out


def _config(ctx: VerifyContext) -> Outcome:
    am = ctx.alertmanager()
    status = am.status()
    text = (status.get("config") or {}).get("original") or ""
    version = (status.get("versionInfo") or {}).get("version", "?")
    try:
        conf = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        return Outcome.fail(f"Alertmanager config does not parse: {err}", "fix alertmanager.yaml")
    receivers = {r.get("name"): r for r in conf.get("receivers") or []}
    routed = _receivers_in(conf.get("route") or {})
    undefined = sorted(r for r in routed if r not in receivers)
    if undefined:
        return Outcome.fail(
            f"route names undefined receivers {undefined}", "define them under receivers:"
        )
    real = sorted(
        name
        for name, r in receivers.items()
        if any(k.endswith("_configs") and v for k, v in r.items())
    )
    if not real:
        return Outcome.fail(
            f"Alertmanager {version} loaded, but none of its receivers {sorted(receivers)} has "
            "an integration (no *_configs): every alert is dropped",
            "configure receivers in the bundle (alerting) and create the "
            f"{ctx.cfg.secrets.alert_receivers.name} Secret in {ctx.ns.monitoring}",
        )
    quiet = sorted(r for r in routed if r in receivers and r not in real and r != "null")
    ev = f"Alertmanager {version}: config loaded; receivers with integrations: {', '.join(real)}"
    if quiet:
        return Outcome.warn(
            ev + f"; routed receivers without integrations: {', '.join(quiet)}",
            "alerts routed there are dropped: give them a *_configs entry",
        )
    return Outcome.ok(ev)


P = ("prometheus.ready", "alertmanager.ready")
CHECKS = [
    Check("alerting.watchdog", "alerting", "Watchdog reaches Alertmanager", _watchdog, P, True),
    Check(
        "alerting.config",
        "alerting",
        "Alertmanager config and receivers",
        _config,
        ("alertmanager.ready",),
        True,
    ),
]
