"""Alert rules, recording rules, SLO burn-rate alerts and Alertmanager routing."""

from observability.alerting.alertmanager import alertmanager_config, kps_alertmanager_values
from observability.alerting.rules import alert_names, prometheus_rules, rule_groups

__all__ = [
    "alert_names",
    "alertmanager_config",
    "kps_alertmanager_values",
    "prometheus_rules",
    "rule_groups",
]
