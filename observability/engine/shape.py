"""The shape of a vLLM exposition: family -> type, label names, histogram bucket edges.

Used to hold a real vLLM's `/metrics`, a committed catalog and the simulator's exposition
against each other (tests/test_real_engine.py): same families, same types, same label
names, same bucket edges. Values never count; `_created` series never count (vLLM V1
keeps prometheus_client's, the bundle's monitors drop them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from observability.metrics.catalog import Catalog, available_vllm_versions, vllm_catalog

__all__ = ["Shape", "catalog_shape", "differences", "exposition_shape", "nearest_catalog"]


@dataclass(frozen=True)
class Shape:
    type: str
    labels: frozenset[str] | None  # None: no sample yet, so label names unknown
    buckets: tuple[float, ...] | None = None  # histogram edges without +Inf


def exposition_shape(text: str, prefix: str = "vllm:") -> dict[str, Shape]:
    """Every `prefix` family of a text exposition, counters named with `_total`."""
    out: dict[str, Shape] = {}
    for fam in text_string_to_metric_families(text):
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        if not name.startswith(prefix) or name.endswith("_created"):
            continue
        series = [s for s in fam.samples if not s.name.endswith("_created")]
        labels = (
            frozenset(k for s in series for k in s.labels if k not in ("le", "quantile"))
            if series
            else None
        )
        buckets = None
        if fam.type == "histogram" and series:
            les = {float(s.labels["le"]) for s in series if s.name.endswith("_bucket")}
            buckets = tuple(sorted(v for v in les if not math.isinf(v)))
        out[name] = Shape(fam.type, labels, buckets)
    return out


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else 0 for x in version.split("+")[0].split("."))


def nearest_catalog(version: str) -> Catalog:
    """The catalog of `version`, else of the oldest cataloged release after it (metrics
    are added more often than removed), else of the newest."""
    versions = available_vllm_versions()
    later = [v for v in versions if _key(v) >= _key(version)]
    return vllm_catalog(later[0] if later else versions[-1])


def catalog_shape(catalog: Catalog, default_only: bool = True) -> dict[str, Shape]:
    """The catalog's families (by default only those plain `vllm serve` registers)."""
    return {
        name: Shape(
            f.type,
            frozenset(f.labels),
            tuple(float(b) for b in f.buckets) if f.buckets is not None else None,
        )
        for name, f in catalog.families.items()
        if f.default or not default_only
    }


def differences(got: dict[str, Shape], want: dict[str, Shape]) -> dict[str, str]:
    """family -> what differs, for every family in either. Unknown label names (a family
    with no sample yet) match any."""
    out: dict[str, str] = {}
    for name in sorted(set(got) | set(want)):
        g, w = got.get(name), want.get(name)
        if g is None:
            out[name] = "missing"
        elif w is None:
            out[name] = "extra"
        elif g.type != w.type:
            out[name] = f"type {g.type} != {w.type}"
        elif g.labels is not None and w.labels is not None and g.labels != w.labels:
            out[name] = f"labels {sorted(g.labels)} != {sorted(w.labels)}"
        elif g.buckets is not None and w.buckets is not None and g.buckets != w.buckets:
            out[name] = f"buckets {list(g.buckets)} != {list(w.buckets)}"
    return out
