"""Alerting path: Watchdog fires in Prometheus and reaches Alertmanager; Alertmanager's
config is loaded with receivers that can notify someone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import yaml

from observability.promapi import PromError
from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS"]

WATCHDOG = "Watchdog"
RESEND_GRACE_S = 90.0


def _age_seconds(ts: str) -> float | None:
    """Seconds since an RFC 3339 timestamp with up to nanoseconds (Prometheus' activeAt)."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", ts)
    if not m:
        return None
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    when = datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")
    return (datetime.now(UTC) - when).total_seconds()


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
            ams = ", ".join(a.get("url", "?") for a in prom.alertmanagers()) or "none"
            n = prom.notification_counters()
        except PromError:
            ams, n = "?", {}
        sent = ", ".join(f"{k}={v:g}" for k, v in n.items())
        age = _age_seconds(in_prom[0].get("activeAt", ""))
        ev = (
            f"{WATCHDOG} fires in Prometheus but is not in Alertmanager ({am.label}); "
            f"Prometheus sends to: {ams}; notifications {sent}"
        )
        if n.get("errors"):
            return Outcome.fail(
                ev,
                "Prometheus fails to send to Alertmanager: its log says why ('Error sending "
                "alert'); check the Alertmanager Service, NetworkPolicies and TLS settings",
            )
        starting = not n.get("sent") and age is not None and age < RESEND_GRACE_S
        if starting:
            # Alerts evaluated before Prometheus discovered Alertmanager are dropped and
            # resent only after --rules.alert.resend-delay (1m): normal right after a start.
            return Outcome.warn(
                f"{ev}; it started firing {age:.0f}s ago",
                "Prometheus resends firing alerts every minute (--rules.alert.resend-delay): "
                "run verify again in a minute",
            )
        return Outcome.fail(
            ev,
            "Prometheus does not deliver alerts to this Alertmanager: check "
            "prometheusSpec.alerting.alertmanagers (KPS sets it), NetworkPolicies between "
            "them, and the Prometheus log for 'Error sending alert'",
        )
    routed = sorted({r.get("name") for a in in_am for r in a.get("receivers") or []})
    conf = _am_config(ctx)
    if conf is not None:
        reach = _integrated(conf)
        if not any(name in reach for name in routed):
            return Outcome.fail(
                f"{WATCHDOG} reaches nobody: Alertmanager routes it to {', '.join(routed)}, "
                "which has no integration (no *_configs), so a dead Prometheus or "
                "Alertmanager would go unnoticed",
                "set alerting.receivers.heartbeat_webhook_url in bundle.yaml to a dead man's "
                "switch (e.g. a healthchecks.io or PagerDuty heartbeat URL), then "
                "`obsctl render`, commit and sync",
            )
    return Outcome.ok(
        f"{WATCHDOG} firing in Prometheus and present in Alertmanager (receivers {routed})"
    )


def _am_config(ctx: VerifyContext) -> dict[str, Any] | None:
    """The loaded Alertmanager config (None when it does not parse: alerting.config says)."""
    status = ctx.once("a.status", lambda: ctx.alertmanager().status())
    try:
        return yaml.safe_load((status.get("config") or {}).get("original") or "") or {}
    except yaml.YAMLError:
        return None


def _integrated(conf: dict[str, Any]) -> set[str]:
    """Receivers with at least one integration (a non-empty *_configs list)."""
    return {
        str(r.get("name"))
        for r in conf.get("receivers") or []
        if any(k.endswith("_configs") and v for k, v in r.items())
    }


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
    real = sorted(_integrated(conf))
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
