"""A one-line live summary of a running stack, read back from Prometheus itself.

Targets up, requests/s and tokens/s (from the vLLM counters, across both vLLM
generations' names), and the alerts firing now: what a newcomer needs to see that the
data path works end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from observability.metrics.names import VLLM
from observability.metrics.promql import Promql
from observability.promapi import Prometheus

__all__ = ["Summary", "query", "read_summary"]

_FLEET = Promql(by=())


def query(prom_url: str, expr: str, timeout: float = 3.0) -> list[dict[str, Any]]:
    with Prometheus(prom_url, timeout=timeout) as prom:
        return prom.query(expr)


def _scalar(prom: Prometheus, expr: str) -> float | None:
    res = prom.query(expr)
    return float(res[0]["value"][1]) if res else None


@dataclass(frozen=True)
class Summary:
    targets_up: int
    targets_total: int
    requests_per_s: float | None
    tokens_per_s: float | None
    firing: tuple[str, ...]
    pending: tuple[str, ...]

    def line(self) -> str:
        rps = f"{self.requests_per_s:.1f}" if self.requests_per_s is not None else "-"
        tps = f"{self.tokens_per_s:.0f}" if self.tokens_per_s is not None else "-"
        firing = ", ".join(self.firing) or "none"
        pending = f" | pending: {', '.join(self.pending)}" if self.pending else ""
        return (
            f"targets {self.targets_up}/{self.targets_total} up | {rps} req/s | {tps} tokens/s"
            f" | firing: {firing}{pending}"
        )


def read_summary(prom_url: str, window: str = "1m") -> Summary:
    """Raises PromError (one line) when Prometheus does not answer."""
    with Prometheus(prom_url, timeout=3.0) as prom:
        targets, alerts = prom.targets(), prom.alerts()
        requests_per_s = _scalar(prom, _FLEET.rate(VLLM.REQUEST_SUCCESS, window))
        tokens_per_s = _scalar(prom, _FLEET.rate(VLLM.GENERATION_TOKENS, window))

    def names(state: str) -> tuple[str, ...]:
        return tuple(sorted({a["labels"]["alertname"] for a in alerts if a["state"] == state}))

    return Summary(
        targets_up=sum(t["health"] == "up" for t in targets),
        targets_total=len(targets),
        requests_per_s=requests_per_s,
        tokens_per_s=tokens_per_s,
        firing=names("firing"),
        pending=names("pending"),
    )
