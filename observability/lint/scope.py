"""Dashboard variable scope: every selector a panel query reads must be filtered by each
dashboard variable whose label that series carries.

A panel that reads `vllm:num_requests_running{namespace=~"$namespace"}` but not
`pod=~"$pod"` ignores the pod picker: the stakeholder selects a pod and the panel keeps
showing all of them. This module decides, per selector, which variable labels the series
carries, from sources independent of the dashboard builder:

- vLLM and DCGM series: the label names in the committed catalogs (extracted from the
  exporters' source), plus the target labels the Prometheus Operator attaches to every
  scraped series (`namespace`, `pod`);
- recorded series: the labels the recording rule's expression keeps (its outermost `by`,
  `label_replace` destinations, `group_left` labels), computed from the PromQL syntax tree;
- anything else (`ALERTS`, `up`, `vector(0)`): no requirement.

The cluster label (when `prometheus.cluster_label` is set) is on every exporter and
recorded series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import promql_parser as pp

from observability.metrics import promql_ast
from observability.metrics.catalog import (
    available_vllm_versions,
    dcgm_catalog,
    vllm_catalog,
    vllm_main_catalog,
)

__all__ = [
    "TARGET_LABELS",
    "MissingMatcher",
    "missing_matchers",
    "output_labels",
    "series_labels",
]

# Labels the operator's relabelling puts on every series of a ServiceMonitor target.
TARGET_LABELS = frozenset({"namespace", "pod", "service", "container", "endpoint", "job"})
# DCGM's series are attributed to the pod using the GPU (honorLabels, kubelet pod-resources).
DCGM_POD_LABELS = frozenset({"namespace", "pod", "container"})


@dataclass(frozen=True)
class MissingMatcher:
    series: str
    variable: str

    def message(self) -> str:
        return (
            f"`{self.series}` carries label `{self.variable}` but the query does not filter it "
            f'with `{self.variable}=~"${self.variable}"`: the panel ignores the '
            f"${self.variable} picker"
        )


@cache
def _exporter_labels() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    catalogs = [vllm_catalog(v) for v in available_vllm_versions()] + [vllm_main_catalog()]
    for catalog in catalogs:
        for fam in catalog.families.values():
            labels = frozenset(fam.labels) | TARGET_LABELS
            for s in fam.series_names():
                out[s] = out.get(s, frozenset()) | labels
    for fam in dcgm_catalog().families.values():
        for s in fam.series_names():
            out[s] = frozenset(fam.labels) | DCGM_POD_LABELS | TARGET_LABELS
    return out


def series_labels(
    name: str, recorded: Mapping[str, str], cluster: str = ""
) -> frozenset[str] | None:
    """Label names series `name` carries, or None when unknown (no requirement)."""
    extra = frozenset({cluster}) if cluster else frozenset()
    exporter = _exporter_labels()
    if name in exporter:
        return exporter[name] | extra
    if name in recorded:
        labels = output_labels(promql_ast.parse(recorded[name]), recorded, cluster, depth=0)
        return None if labels is None else labels | extra
    return None


def _labels_arg(mod: object) -> list[str]:
    labels = getattr(mod, "labels", None)
    return list(labels or [])


def output_labels(
    node: object, recorded: Mapping[str, str], cluster: str = "", depth: int = 0
) -> frozenset[str] | None:
    """Label names the result of `node` can carry (None: unknown)."""
    if depth > 8:
        return None
    rec = lambda n: output_labels(n, recorded, cluster, depth + 1)  # noqa: E731
    if isinstance(node, pp.VectorSelector):
        return series_labels(node.name or "", recorded, cluster) if depth else None
    if isinstance(node, pp.MatrixSelector):
        return series_labels(node.vector_selector.name or "", recorded, cluster)
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return rec(node.expr)
    if isinstance(node, pp.NumberLiteral | pp.StringLiteral):
        return frozenset()
    if isinstance(node, pp.AggregateExpr):
        mod = node.modifier
        if mod is None:
            return frozenset()
        if mod.type == pp.AggModifierType.By:
            return frozenset(_labels_arg(mod))
        inner = rec(node.expr)
        return None if inner is None else inner - set(_labels_arg(mod))
    if isinstance(node, pp.Call):
        args = list(node.args)
        fname = node.func.name
        if fname in ("vector", "time", "scalar"):
            return frozenset()
        vec = next(
            (a for a in args if not isinstance(a, pp.NumberLiteral | pp.StringLiteral)), None
        )
        inner = rec(vec) if vec is not None else frozenset()
        if inner is not None and fname in ("label_replace", "label_join"):
            inner = inner | {args[1].val}
        return inner
    if isinstance(node, pp.BinaryExpr):
        left, right = rec(node.lhs), rec(node.rhs)
        if left is None or right is None:
            return None
        if str(node.op) == "or":
            return left | right
        mod = node.modifier
        card = mod.card if mod is not None else None
        if card == pp.VectorMatchCardinality.ManyToOne:
            return left | set(mod.group_labels or [])
        if card == pp.VectorMatchCardinality.OneToMany:
            return right | set(mod.group_labels or [])
        if not left:  # scalar-like left side (`2 * x`)
            return right
        return left
    return None


def _filters(selector: promql_ast.Selector, variable: str) -> bool:
    return any(
        m.label == variable
        and m.op == "=~"
        and (
            m.value in (f"${variable}", f"${{{variable}}}") or m.value.startswith(f"${{{variable}:")
        )
        for m in selector.matchers
    )


def missing_matchers(
    expr: str, variables: Iterable[str], recorded: Mapping[str, str], cluster: str = ""
) -> list[MissingMatcher]:
    """Selectors in `expr` (variables already in place as `$name`, builtins like
    `$__rate_interval` substituted) lacking the matcher of a variable whose label they carry.
    Raises ValueError when `expr` does not parse."""
    wanted = list(variables)
    out: list[MissingMatcher] = []
    for sel in promql_ast.selectors(expr):
        name = sel.metric or ""
        labels = series_labels(name, recorded, cluster)
        if not labels:
            continue
        for v in wanted:
            if v in labels and not _filters(sel, v):
                out.append(MissingMatcher(name, v))
    return out
