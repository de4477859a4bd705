"""A one-line live summary of a running stack, read back from Prometheus itself.

Targets up, requests/s and tokens/s (from the vLLM counters, across both vLLM
generations' names), and the alerts firing now: what a newcomer needs to see that the
data path works end to end.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from observability.metrics.promql import Promql
from observability.metrics.signals import VLLM

__all__ = ["Summary", "query", "read_summary"]

_FLEET = Promql(by=())


def query(prom_url: str, expr: str, timeout: float = 3.0) -> list[dict[str, Any]]:
    url = f"{prom_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())["data"]["result"]


def _scalar(prom_url: str, expr: str) -> float | None:
    res = query(prom_url, expr)
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
    with urllib.request.urlopen(f"{prom_url}/api/v1/targets?state=active", timeout=3) as r:
        targets = json.loads(r.read())["data"]["activeTargets"]
    with urllib.request.urlopen(f"{prom_url}/api/v1/alerts", timeout=3) as r:
        alerts = json.loads(r.read())["data"]["alerts"]

    def names(state: str) -> tuple[str, ...]:
        return tuple(sorted({a["labels"]["alertname"] for a in alerts if a["state"] == state}))

    return Summary(
        targets_up=sum(t["health"] == "up" for t in targets),
        targets_total=len(targets),
        requests_per_s=_scalar(prom_url, _FLEET.rate(VLLM.REQUEST_SUCCESS, window)),
        tokens_per_s=_scalar(prom_url, _FLEET.rate(VLLM.GENERATION_TOKENS, window)),
        firing=names("firing"),
        pending=names("pending"),
    )
