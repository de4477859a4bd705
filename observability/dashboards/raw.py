"""PromQL for families outside `metrics/names.py`'s signals (one name in every version):
the KV connector, KV block residency, sleep and weight-update, process and info families
the companion dashboards read. Each helper scopes by the dashboard variables the series'
labels carry (the scope lint checks it) and aggregates by the given labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from observability.dashboards.queries import RATE, Queries
from observability.metrics.promql import divide

__all__ = ["Raw"]


@dataclass(frozen=True)
class Raw:
    """Selectors and aggregations of one scope: `engine` (vLLM engine series: namespace,
    model_name, pod), `frontend` (API-server series without model_name: namespace, pod)."""

    q: Queries
    frontend: bool = False
    extra: str = ""  # more matchers, e.g. the vLLM scrape job for process_* series

    def sel(self, name: str, matchers: str = "") -> str:
        labels = ("namespace", "pod") if self.frontend else ("namespace", "model_name", "pod")
        parts = [m for m in (self.q._matchers(*labels), self.extra, matchers) if m]
        return f"{name}{{{', '.join(parts)}}}"

    def _by(self, by: Sequence[str]) -> str:
        return ", ".join(self.q._by(by))

    def agg(self, name: str, by: Sequence[str], op: str = "sum", matchers: str = "") -> str:
        return f"{op} by ({self._by(by)}) ({self.sel(name, matchers)})"

    def rate(self, name: str, by: Sequence[str], matchers: str = "") -> str:
        return f"sum by ({self._by(by)}) (rate({self.sel(name, matchers)}[{RATE}]))"

    def ratio(self, num: str, den: str, by: Sequence[str]) -> str:
        return divide(self.rate(num, by), self.rate(den, by))

    def quantile(self, q: float, histogram: str, by: Sequence[str]) -> str:
        return f"histogram_quantile({q}, {self.rate(histogram + '_bucket', ['le', *by])})"

    def mean(self, histogram: str, by: Sequence[str]) -> str:
        return self.ratio(histogram + "_sum", histogram + "_count", by)
