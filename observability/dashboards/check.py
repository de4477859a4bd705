"""Every panel has data: run each panel query against a Prometheus and list the empty ones.

The demo and `obsctl verify --local` reuse `empty_panels`; a panel query that returns no
series over the recent window is what a stakeholder would see as "No data".
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from observability.dashboards.exprs import panel_queries, substitute, template_values
from observability.promapi import Prometheus

__all__ = ["empty_panels"]


def empty_panels(
    prometheus_url: str,
    dashboard: Mapping,
    *,
    rate_interval: str = "1m",
    lookback_s: float = 120.0,
    values: Mapping[str, str] | None = None,
    end: float | None = None,
) -> list[tuple[str, str]]:
    """(panel title, query as sent) for every panel query with no series in the window.

    `rate_interval` replaces `$__rate_interval` (use >= 4 scrape intervals); template
    variables default to All (their `allValue`) unless `values` pins them. Raises `PromError`
    when Prometheus cannot be queried, `UnknownVariable` for a variable the dashboard lacks.
    """
    end = time.time() if end is None else end
    start = end - lookback_s
    step = max(lookback_s / 30, 1.0)
    empty: list[tuple[str, str]] = []
    variables = template_values(dashboard, values)
    with Prometheus(prometheus_url) as prom:
        for q in panel_queries(dashboard):
            expr = substitute(q.expr, variables, rate_interval=rate_interval)
            result = prom.query_range(expr, start, end, step)
            if not any(s.get("values") for s in result):
                empty.append((q.title, expr))
    return empty
