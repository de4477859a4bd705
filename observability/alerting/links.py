"""One pass that adds `runbook_url` and `dashboard_url` to every alert.

URLs are never typed in a rule: the runbook is `docs/runbooks/<alertname>.md` at the
revision Argo CD syncs, on the repository's web host; the dashboard link opens the
bundle's Grafana dashboard filtered to the alert's namespace and model when it has them.
"""

from __future__ import annotations

import re
from typing import Any

from observability.config import BundleConfig

__all__ = ["add_links", "repo_web_url", "runbook_path", "runbook_url"]


def repo_web_url(repo_url: str) -> str:
    """`https://host/org/repo(.git)`, `ssh://git@host/org/repo.git` or
    `git@host:org/repo.git` -> `https://host/org/repo`."""
    url = repo_url.strip().removesuffix("/").removesuffix(".git")
    m = re.match(r"^git@([^:]+):(.+)$", url)
    if m:
        return f"https://{m.group(1)}/{m.group(2)}"
    m = re.match(r"^ssh://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.+)$", url)
    if m:
        return f"https://{m.group(1)}/{m.group(2)}"
    return url


def runbook_path(alertname: str) -> str:
    return f"docs/runbooks/{alertname}.md"


def runbook_url(cfg: BundleConfig, alertname: str) -> str:
    return f"{repo_web_url(cfg.git.repo_url)}/blob/{cfg.git.revision}/{runbook_path(alertname)}"


# A rule may name the companion dashboard that shows its families (`dashboard: kv`);
# that link also carries the pod, which those dashboards drill into.
DASHBOARD_KEY = "dashboard"


def _dashboard_url(cfg: BundleConfig, expr_labels: set[str], companion: str | None) -> str:
    uid = cfg.dashboards.companion_uid(companion) if companion else cfg.dashboards.uid
    base = f"{cfg.alerting.grafana_url.rstrip('/')}/d/{uid}"
    labels = ("namespace", "model_name", "pod") if companion else ("namespace", "model_name")
    params = [
        f"var-{label}={{{{ $labels.{label} | urlquery }}}}"
        for label in labels
        if label in expr_labels
    ]
    return f"{base}?{'&'.join(params)}" if params else base


def add_links(
    cfg: BundleConfig, rule: dict[str, Any], labels_in_output: set[str]
) -> dict[str, Any]:
    rule = dict(rule)
    companion = rule.pop(DASHBOARD_KEY, None)
    if "alert" not in rule:
        return rule
    annotations = dict(rule["annotations"])
    annotations["runbook_url"] = runbook_url(cfg, rule["alert"])
    annotations["dashboard_url"] = _dashboard_url(cfg, labels_in_output, companion)
    return {**rule, "annotations": annotations}
