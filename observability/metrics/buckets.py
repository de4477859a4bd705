"""Histogram bucket edges a threshold may sit on: present in every supported vLLM version.

A threshold between two edges is silently interpolated by `histogram_quantile` and
matches no `le` series in a bucket ratio, so config validation rejects it and names the
nearest valid edges. The top finite edge is excluded: `histogram_quantile` never returns
more than it, so "p99 > top edge" could never fire on the version with the smallest range.
"""

from __future__ import annotations

import bisect
from functools import cache

from observability.metrics.catalog import available_vllm_versions, vllm_catalog
from observability.metrics.names import Signal

__all__ = ["edge_problem", "nearest_edges", "usable_edges"]


@cache
def usable_edges(signal: Signal) -> tuple[float, ...]:
    """Edges of `signal` common to every supported vLLM version, below the top one."""
    common: set[float] | None = None
    for version in available_vllm_versions():
        cat = vllm_catalog(version)
        for name in signal.names:
            fam = cat.families.get(name)
            if fam is not None and fam.buckets:
                common = set(fam.buckets) if common is None else common & set(fam.buckets)
                break
    return tuple(sorted(common)[:-1]) if common else ()


def nearest_edges(value: float, edges: tuple[float, ...]) -> tuple[float, ...]:
    """The valid edge just below and just above `value` (one of them at the ends)."""
    i = bisect.bisect_left(edges, value)
    return tuple(edges[j] for j in (i - 1, i) if 0 <= j < len(edges))


def edge_problem(value: float, signal: Signal) -> str | None:
    """None when `value` is a usable edge of `signal`, else the reason and the fix."""
    edges = usable_edges(signal)
    if not edges:
        return f"no supported vLLM catalog defines buckets for {signal.names[0]}"
    if float(value) in edges:
        return None
    near = " or ".join(f"{e:g}" for e in nearest_edges(float(value), edges))
    return (
        f"{value:g} is not a bucket edge of {signal.names[0]} in every supported vLLM version "
        f"({', '.join(available_vllm_versions())}); nearest valid: {near} "
        f"(all: {', '.join(f'{e:g}' for e in edges)})"
    )
