"""Every check, in data-path order."""

from __future__ import annotations

from observability.verify import (
    checks_alerting,
    checks_argocd,
    checks_crds,
    checks_delivery,
    checks_drift,
    checks_gpu,
    checks_grafana,
    checks_remote,
    checks_router,
    checks_rules,
    checks_runtimes,
    checks_scrape,
    checks_vllm,
)
from observability.verify.model import Check

__all__ = ["ALL_CHECKS", "check_ids"]

_grafana_ready, *_grafana_rest = checks_grafana.CHECKS
ALL_CHECKS: list[Check] = [
    *checks_argocd.CHECKS,
    *checks_crds.CHECKS,
    *checks_remote.CHECKS,
    _grafana_ready,
    *checks_gpu.CHECKS,
    *checks_vllm.CHECKS,
    *checks_runtimes.CHECKS,
    *checks_router.CHECKS,
    *checks_scrape.CHECKS,
    *checks_drift.CHECKS,
    *checks_rules.CHECKS,
    *checks_alerting.CHECKS,
    *checks_delivery.CHECKS,
    *_grafana_rest,
]


def check_ids(local: bool = False) -> list[str]:
    return [c.id for c in ALL_CHECKS if c.local or not local]
