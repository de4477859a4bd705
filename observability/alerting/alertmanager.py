"""Alertmanager routing: severity routes, grouping, inhibitions, receivers from a Secret.

    alertmanager_config(cfg)      -> the alertmanager.yml body (also alerts/alertmanager.yaml)
    kps_alertmanager_values(cfg)  -> the `alertmanager:` block of kube-prometheus-stack values

Receiver credentials never live in git: the Secret `cfg.secrets.alert_receivers.name` is
mounted through `alertmanagerSpec.secrets` at SECRET_DIR/<name>/ and read with `*_file`
fields that Alertmanager 0.25+ supports (`routing_key_file`, `api_url_file`,
`credentials_file`). Webhook URLs (ticket bridge, heartbeat) are not secret and come from
`alerting.receivers`; an empty URL makes that receiver drop its notifications.
"""

from __future__ import annotations

from typing import Any

from observability.alerting import router
from observability.alerting.lifecycle import CAUSES, STARTING
from observability.config import BundleConfig
from observability.metrics.router import POOL_LABEL

__all__ = [
    "INHIBITED_BY_TARGET_DOWN",
    "LIFECYCLE_SOURCES",
    "RECEIVERS",
    "SECRET_DIR",
    "SECRET_KEYS",
    "alertmanager_config",
    "kps_alertmanager_values",
]

SECRET_DIR = "/etc/alertmanager/secrets"
# Secret keys the receivers read (create them with kubectl, see docs/alerting.md).
SECRET_KEYS = {
    "pager": "pagerduty-routing-key",
    "chat": "slack-webhook-url",
    "webhook_token": "webhook-token",
}
RECEIVERS = ("pager", "chat", "ticket", "heartbeat", "null")

# Symptoms of a replica that is down anyway: silenced while VLLMTargetDown fires for the
# same model, so on-call sees the cause, not five consequences.
INHIBITED_BY_TARGET_DOWN = (
    "VLLMHighTimeToFirstToken",
    "VLLMHighInterTokenLatency",
    "VLLMHighRequestLatency",
    "VLLMQueueBacklog",
)


# kube-state-metrics knows why a model pod serves nothing: its cause alerts (and the
# severity-none VLLMModelPodStarting while a pod is inside its budget) mute the symptoms
# that only say "down" or "absent", so one root cause pages once, by its name.
LIFECYCLE_SOURCES = (*CAUSES, STARTING)


def _alternation(names: tuple[str, ...]) -> str:
    return "|".join(names)


def _cluster(cfg: BundleConfig) -> list[str]:
    c = cfg.prometheus.cluster_label
    return [c] if c else []


def _secret_file(cfg: BundleConfig, key: str) -> str:
    return f"{SECRET_DIR}/{cfg.secrets.alert_receivers.name}/{key}"


def _webhook(cfg: BundleConfig, url: str) -> list[dict[str, Any]]:
    if not url:
        return []
    hook: dict[str, Any] = {"url": url, "send_resolved": True}
    if cfg.alerting.receivers.webhook_token_from_secret:
        hook["http_config"] = {
            "authorization": {
                "type": "Bearer",
                "credentials_file": _secret_file(cfg, SECRET_KEYS["webhook_token"]),
            }
        }
    return [hook]


def _receivers(cfg: BundleConfig) -> list[dict[str, Any]]:
    r = cfg.alerting.receivers
    ticket: dict[str, Any] = {"name": "ticket"}
    if hooks := _webhook(cfg, r.ticket_webhook_url):
        ticket["webhook_configs"] = hooks
    heartbeat: dict[str, Any] = {"name": "heartbeat"}
    if hooks := _webhook(cfg, r.heartbeat_webhook_url):
        heartbeat["webhook_configs"] = hooks
    return [
        {
            "name": "pager",
            "pagerduty_configs": [
                {
                    "routing_key_file": _secret_file(cfg, SECRET_KEYS["pager"]),
                    "send_resolved": True,
                    "severity": "critical",
                    "description": '{{ template "pagerduty.default.description" . }}',
                }
            ],
        },
        {
            "name": "chat",
            "slack_configs": [
                {
                    "api_url_file": _secret_file(cfg, SECRET_KEYS["chat"]),
                    "send_resolved": True,
                    "title": "[{{ .Status | toUpper }}] {{ .CommonAnnotations.summary }}",
                    "text": (
                        "{{ range .Alerts }}{{ .Annotations.description }}\n"
                        "Runbook: {{ .Annotations.runbook_url }}\n"
                        "Dashboard: {{ .Annotations.dashboard_url }}\n{{ end }}"
                    ),
                }
            ],
        },
        ticket,
        heartbeat,
        {"name": "null"},
    ]


def _route(cfg: BundleConfig) -> dict[str, Any]:
    group_by = ["alertname", *_cluster(cfg), "namespace", "model_name"]
    if cfg.pool.enabled:  # two pools in one namespace page apart
        group_by.append(POOL_LABEL)
    return {
        "receiver": "chat",
        "group_by": group_by,
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "routes": [
            {
                "receiver": "heartbeat",
                "matchers": ['alertname="Watchdog"'],
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1m",
            },
            {"receiver": "pager", "matchers": ['severity="critical"'], "repeat_interval": "1h"},
            {"receiver": "chat", "matchers": ['severity="warning"']},
            {"receiver": "ticket", "matchers": ['severity="info"'], "repeat_interval": "24h"},
            {"receiver": "null", "matchers": ['severity="none"']},
        ],
    }


def _inhibit_rules(cfg: BundleConfig) -> list[dict[str, Any]]:
    cl = _cluster(cfg)
    return [
        {
            # The critical twin of an alert silences its warning twin (same object).
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["alertname", *cl, "namespace", "model_name", "pod", "Hostname", "gpu"],
        },
        {
            "source_matchers": ['alertname="VLLMTargetDown"'],
            # Warnings only: one replica down out of N must never mute a critical page
            # about the replicas still serving (their users still see the latency).
            "target_matchers": [
                f'alertname=~"{"|".join(INHIBITED_BY_TARGET_DOWN)}"',
                'severity="warning"',
            ],
            "equal": [*cl, "namespace", "model_name"],
        },
        {
            # A pod kube-state-metrics explains (Pending, crash loop, image pull, OOM, still
            # loading) is not also a down target.
            "source_matchers": [f'alertname=~"{_alternation(LIFECYCLE_SOURCES)}"'],
            "target_matchers": ['alertname="VLLMTargetDown"'],
            "equal": [*cl, "namespace", "pod"],
        },
        {
            # ... and its model is not also "absent" or "short of replicas".
            "source_matchers": [f'alertname=~"{_alternation(LIFECYCLE_SOURCES)}"'],
            "target_matchers": ['alertname=~"VLLMMetricsAbsent|VLLMReplicasUnavailable"'],
            "equal": [*cl, "namespace", "model_name"],
        },
        {
            # An OOM kill is the reason for the crash loop that follows it.
            "source_matchers": ['alertname="VLLMPodOOMKilled"'],
            "target_matchers": ['alertname="VLLMPodCrashLooping"'],
            "equal": [*cl, "namespace", "pod", "container"],
        },
        {
            # No metrics at all for a model: its per-pod target-down warnings add nothing.
            "source_matchers": ['alertname="VLLMMetricsAbsent"'],
            "target_matchers": ['alertname=~"VLLMTargetDown|VLLMEngineStalled"'],
            "equal": [*cl, "namespace", "model_name"],
        },
    ]


def _router_inhibit_rules(cfg: BundleConfig) -> list[dict[str, Any]]:
    """A pool whose EPP is down, or that has no ready endpoint, pages once for that: its
    errors, latency, backlog and scheduling failures are the consequence."""
    if not cfg.pool.enabled:
        return []
    equal = [*_cluster(cfg), "namespace", POOL_LABEL]
    others = tuple(a for a in router.ALERTS if a not in (router.EPP_DOWN, router.NIXL))
    return [
        {
            "source_matchers": [f'alertname="{router.EPP_DOWN}"'],
            "target_matchers": [f'alertname=~"{_alternation(others)}"'],
            "equal": equal,
        },
        {
            "source_matchers": [f'alertname="{router.NO_READY}"'],
            "target_matchers": [f'alertname=~"{_alternation(router.SYMPTOMS)}"'],
            "equal": equal,
        },
    ]


def alertmanager_config(cfg: BundleConfig) -> dict[str, Any]:
    """The plain alertmanager.yml body."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": _route(cfg),
        "inhibit_rules": [*_inhibit_rules(cfg), *_router_inhibit_rules(cfg)],
        "receivers": _receivers(cfg),
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def kps_alertmanager_values(cfg: BundleConfig) -> dict[str, Any]:
    """The `alertmanager:` block of the kube-prometheus-stack values."""
    return {
        "enabled": True,
        "config": alertmanager_config(cfg),
        "alertmanagerSpec": {
            # Mounted at /etc/alertmanager/secrets/<name>/<key>; *_file fields read it.
            "secrets": [cfg.secrets.alert_receivers.name],
        },
    }
