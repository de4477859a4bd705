"""Before-you-apply warnings: settings a fresh fork still has from the example.

- `git.repo_url` is still the example placeholder: Argo CD would sync from a repository
  that is not yours.
- A receiver that the Alertmanager routes send the Watchdog (heartbeat), ticket (info) or
  page (critical) alerts to has no integration (no `*_configs`), so those alerts reach
  nobody. Read from the rendered Alertmanager config, so it holds for any routing.

Warnings, not errors: the bundle is valid, just not ready for your cluster yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from observability.alerting.alertmanager import alertmanager_config
from observability.config import BundleConfig
from observability.lint.findings import Finding

__all__ = ["EXAMPLE_REPO_URL", "check"]

EXAMPLE_REPO_URL = "https://github.com/example-org/vllm-observability-bundle.git"

# Which alerts each routed receiver is for, by the matcher that routes them, and the fix.
_WATCHED = {
    'alertname="Watchdog"': (
        "the Watchdog (heartbeat)",
        "set alerting.receivers.heartbeat_webhook_url to a dead man's switch URL",
    ),
    'severity="info"': (
        "ticket (info) alerts",
        "set alerting.receivers.ticket_webhook_url to your ticket bridge",
    ),
    'severity="critical"': (
        "pages (critical alerts)",
        "give the pager receiver an integration (PagerDuty key in the receivers Secret)",
    ),
}


def _integrated(conf: dict[str, Any]) -> set[str]:
    return {
        str(r.get("name"))
        for r in conf.get("receivers") or []
        if any(k.endswith("_configs") and v for k, v in r.items())
    }


def receiver_findings(cfg: BundleConfig) -> list[Finding]:
    conf = alertmanager_config(cfg)
    reach = _integrated(conf)
    out: list[Finding] = []
    for route in (conf.get("route") or {}).get("routes") or []:
        for matcher in route.get("matchers") or []:
            if matcher in _WATCHED and route.get("receiver") not in reach:
                what, fix = _WATCHED[matcher]
                out.append(
                    Finding(
                        "receivers",
                        "alerts/alertmanager.yaml",
                        f"receiver {route.get('receiver')!r} gets {what} but has no "
                        f"integration, so they reach nobody: {fix} in bundle.yaml",
                        obj=str(route.get("receiver")),
                        severity="warning",
                    )
                )
    return out


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    out = receiver_findings(cfg)
    if cfg.git.repo_url == EXAMPLE_REPO_URL:
        out.append(
            Finding(
                "readiness",
                "bundle.yaml",
                f"git.repo_url is still the example {EXAMPLE_REPO_URL}: set it to your fork "
                "before `kubectl apply -f argocd/app-of-apps.yaml`",
                field="git.repo_url",
                severity="warning",
            )
        )
    return out
