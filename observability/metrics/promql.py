"""PromQL assembled in one place: selectors, rates, quantiles, guarded ratios, fallbacks.

Rules and dashboards build every expression through `Promql`, so the version fallbacks
(`newest or oldest`) and the aggregation labels (cluster, namespace, model_name) are the
same everywhere. Histograms are aggregated on `le` before `histogram_quantile`, which is
correct because buckets are summable across engines, pods and pids; per-pod quantiles are
never averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from observability.metrics.names import Signal

__all__ = ["DASHBOARD_WINDOW", "Promql", "divide", "join_labels"]

# Rate window of the dashboard recordings (alerting/recording.py); config checks that the
# scrape interval leaves two samples in it.
DASHBOARD_WINDOW = "1m"


def join_labels(labels: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(labels))


def divide(numerator: str, denominator: str) -> str:
    """`num / (den > 0)`: an idle model (den == 0) yields no sample instead of NaN/Inf,
    so ratio alerts stay quiet on zero traffic and panels show a gap, not a spike."""
    return f"({numerator}) / (({denominator}) > 0)"


@dataclass(frozen=True)
class Promql:
    """Builds expressions for one selector and one aggregation scope.

    `matchers` is the label-matcher text inside `{}` (e.g. `namespace=~"$namespace"`);
    `by` is the aggregation labels kept (cluster label first when configured).
    """

    matchers: str = ""
    by: tuple[str, ...] = ("namespace", "model_name")
    window: str = "5m"
    extra: dict[str, str] = field(default_factory=dict)

    # -- selectors ------------------------------------------------------------------
    def sel(self, name: str, extra_matchers: str = "") -> str:
        parts = [m for m in (self.matchers, extra_matchers) if m]
        return f"{name}{{{', '.join(parts)}}}" if parts else name

    def fallback(self, signal: Signal, build: Callable[[str], str]) -> str:
        """`build(newest) or build(oldest)`: the newest name wins where both exist
        (vLLM 0.9.2-0.11 expose both KV names; 0.10.2-0.14 both ITL names)."""
        exprs = [build(n) for n in signal.names]
        if len(exprs) == 1:
            return exprs[0]
        return " or ".join(f"({e})" for e in exprs)

    # -- aggregations ---------------------------------------------------------------
    def _by(self, extra: Sequence[str] = ()) -> str:
        return join_labels([*self.by, *extra])

    def gauge(self, signal: Signal, agg: str = "max", extra_by: Sequence[str] = ()) -> str:
        """Aggregate a gauge. Ratios such as KV usage take max/avg, never sum."""
        return self.fallback(signal, lambda n: f"{agg} by ({self._by(extra_by)}) ({self.sel(n)})")

    def gauge_raw(
        self, name: str, agg: str = "max", extra_by: Sequence[str] = (), extra_matchers: str = ""
    ) -> str:
        """Aggregate a single-name gauge (e.g. a DCGM field, which has no vLLM generations)."""
        return f"{agg} by ({self._by(extra_by)}) ({self.sel(name, extra_matchers)})"

    def rate(
        self,
        signal: Signal,
        window: str | None = None,
        extra_by: Sequence[str] = (),
        extra_matchers: str = "",
        suffix: str = "",
    ) -> str:
        w = window or self.window
        return self.fallback(
            signal,
            lambda n: (
                f"sum by ({self._by(extra_by)}) (rate({self.sel(n + suffix, extra_matchers)}[{w}]))"
            ),
        )

    def bucket_rate(
        self, signal: Signal, window: str | None = None, extra_by: Sequence[str] = ()
    ) -> str:
        return self.rate(signal, window, ("le", *extra_by), suffix="_bucket")

    def quantile(
        self, q: float, signal: Signal, window: str | None = None, extra_by: Sequence[str] = ()
    ) -> str:
        return f"histogram_quantile({q}, {self.bucket_rate(signal, window, extra_by)})"

    def mean(self, signal: Signal, window: str | None = None) -> str:
        return divide(
            self.rate(signal, window, suffix="_sum"), self.rate(signal, window, suffix="_count")
        )

    def fraction_le(self, signal: Signal, le: str, window: str | None = None) -> str:
        """Share of observations at or below bucket edge `le` (an SLI: good / total)."""
        w = window or self.window
        le_matcher = f'le="{le}"'
        good = self.fallback(
            signal,
            lambda n: f"sum by ({self._by()}) (rate({self.sel(n + '_bucket', le_matcher)}[{w}]))",
        )
        total = self.rate(signal, w, suffix="_count")
        return divide(good, total)
