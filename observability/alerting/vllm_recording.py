"""vllm.recording: the recordings the single pane reads (see recording.dashboard_rules).

A group of its own, first in the rule files: it holds no alert, so its evaluation cost is
visible on its own in Prometheus' rule-group metrics, and `promtool tsdb create-blocks-from
rules` can backfill exactly these series for a Prometheus that did not run them yet.
"""

from __future__ import annotations

from typing import Any

from observability.alerting import recording as rec
from observability.alerting.timing import Timing
from observability.config import BundleConfig, ConfigError
from observability.rulebase import Scope

__all__ = ["GROUP", "group"]

GROUP = "vllm.recording"


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in ("ms", "s", "m", "h", "d"):
        if duration.endswith(unit) and duration[: -len(unit)].replace(".", "").isdigit():
            return float(duration[: -len(unit)]) * units[unit]
    return 0.0


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    scrape = _seconds(cfg.prometheus.scrape_interval)
    window = _seconds(rec.DASHBOARD_WINDOW)
    if scrape and 2 * scrape > window:
        raise ConfigError(
            f"bundle.yaml: prometheus.scrape_interval {cfg.prometheus.scrape_interval} leaves "
            f"fewer than 2 samples in the dashboard recordings' {rec.DASHBOARD_WINDOW} rate "
            "window, so they would record nothing: scrape at 30s or faster"
        )
    return {"name": GROUP, "rules": rec.dashboard_rules(sc)}
