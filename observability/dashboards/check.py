"""Every panel has data: run each panel query against a Prometheus and list the empty ones.

The demo and `obsctl verify --local` reuse `empty_panels`; a panel query that returns no
series over the recent window is what a stakeholder would see as "No data". A query that
reads only families this vLLM does not expose (see `availability`) is *expected* empty:
its panel says so, and `empty_report` lists it apart from the unexplained ones.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from observability.dashboards.availability import expected_empty
from observability.dashboards.exprs import panel_queries, substitute, template_values
from observability.promapi import Prometheus

__all__ = ["EXPORTER_MATCH", "EmptyReport", "empty_panels", "empty_report", "present_families"]

# Every exporter series an availability decision can be about.
EXPORTER_MATCH = '{__name__=~"vllm:.+|http_.+|kube_.+|karpenter_.+"}'
_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


@dataclass
class EmptyReport:
    unexplained: list[tuple[str, str]] = field(default_factory=list)  # (title, query)
    expected: list[tuple[str, str]] = field(default_factory=list)  # (title, why)


# Selection labels every exporter series carries (target labels), so presence can be
# asked per selection: a 0.7.3 namespace's families say nothing about a newer one's.
_SCOPE = ("cluster", "namespace", "pod")


def present_families(
    prom: Prometheus, start: float, end: float, variables: Mapping[str, str] | None = None
) -> set[str]:
    """Exporter family names with any series in [start, end] within the selection
    (`variables` pins namespace, pod, cluster as regexes), histogram suffixes kept and
    stripped, so both `x_bucket` and `x` count as present."""
    matchers = [EXPORTER_MATCH[1:-1]]
    for label in _SCOPE:
        value = (variables or {}).get(label)
        if value and value != ".*":
            matchers.append(f'{label}=~"{value}"')
    names = set(prom.label_values("__name__", "{" + ", ".join(matchers) + "}", start, end))
    out = set(names)
    for n in names:
        for s in _SUFFIXES:
            if n.endswith(s):
                out.add(n.removesuffix(s))
    return out


def empty_report(
    prometheus_url: str,
    dashboard: Mapping,
    *,
    rate_interval: str = "1m",
    lookback_s: float = 120.0,
    values: Mapping[str, str] | None = None,
    end: float | None = None,
) -> EmptyReport:
    """Every panel query with no series in the window, split into expected (the families
    it reads are not exposed here, and the panel says so) and unexplained.

    `rate_interval` replaces `$__rate_interval` (use >= 4 scrape intervals); template
    variables default to All (their `allValue`) unless `values` pins them. Raises
    `PromError` when Prometheus cannot be queried, `UnknownVariable` for a variable the
    dashboard lacks."""
    end = time.time() if end is None else end
    start = end - lookback_s
    step = max(lookback_s / 30, 1.0)
    report = EmptyReport()
    variables = template_values(dashboard, values)
    with Prometheus(prometheus_url) as prom:
        present = present_families(prom, start, end, variables)
        for q in panel_queries(dashboard):
            expr = substitute(q.expr, variables, rate_interval=rate_interval)
            result = prom.query_range(expr, start, end, step)
            if any(s.get("values") for s in result):
                continue
            why = expected_empty(q.expr, present.__contains__)
            if why is None:
                report.unexplained.append((q.title, expr))
            else:
                report.expected.append((q.title, why))
    return report


def empty_panels(prometheus_url: str, dashboard: Mapping, **options: Any) -> list[tuple[str, str]]:
    """(panel title, query as sent) for every *unexplained* empty panel query; `options`
    are `empty_report`'s."""
    return empty_report(prometheus_url, dashboard, **options).unexplained
