"""PromQL read with a parser: the one place lint, dashboards, scenarios and verify look inside
an expression.

`metrics/promql.py` *builds* expressions; this module *reads* them, through `promql-parser`
(Python binding of the Rust `promql-parser` crate, which follows Prometheus' grammar), so a
change in how the builder spaces or parenthesises its output cannot break a reader.

Grafana variables are not PromQL. Before parsing, the interval variables (`$__rate_interval`,
`$__interval`, `$__range`, ... in any of Grafana's spellings) become a duration (see
`GRAFANA_INTERVALS`), so `rate(x[$__rate_interval])` parses; template variables inside label
values (`pod=~"$pod"`) are plain strings to PromQL and stay as they are (`Matcher.variables`
lists them).

API (everything takes the expression text and is cached per text):

- `parse(expr)` -> the parser's node, or `PromQLError` (a `ValueError`) with its message.
- `selectors(expr)` -> every `Selector` in order: metric name, label `Matcher`s, range window.
- `metric_names(expr)` -> selected series names in order, without duplicates.
- Whether an expression keeps a label (the cluster): `promql_labels.py`, built on this.
- `groupings(expr)` -> every aggregation's `Grouping`: operator, `by`/`without`, labels.
- `quantiles(expr)` -> every `histogram_quantile` call: phi, the grouping right under it,
  and the selectors it reads.
- `recorded_quantiles(expr)` -> the `quantile="phi"` of every selector of a quantile
  recording (`level:metric:quantile...`, e.g. `...:quantile_rate1m{quantile="0.99"}`).
- `divisions(expr)` -> every `/` as (numerator, denominator) nodes.
- `ranges_s(expr)` -> every range and subquery window, in seconds.
- `variables(expr)` -> Grafana template variables used (`$x`, `${x}`, `${x:fmt}`, `[[x]]`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

import promql_parser as pp

__all__ = [
    "GRAFANA_INTERVALS",
    "Grouping",
    "Matcher",
    "PromQLError",
    "Quantile",
    "Selector",
    "children",
    "divisions",
    "groupings",
    "is_positive_guard",
    "metric_names",
    "nodes",
    "parse",
    "quantiles",
    "ranges_s",
    "recorded_quantiles",
    "selectors",
    "unwrap",
    "variables",
]

# What each Grafana interval variable stands for while parsing (the value only matters for
# `ranges_s`; Grafana computes the real one per panel and time range).
GRAFANA_INTERVALS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "6h",
    "__range_s": "21600",
    "__range_ms": "21600000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\$(\w+)|\[\[(\w+)(?::[\w-]+)?\]\]")
_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


class PromQLError(ValueError):
    """An expression the PromQL grammar rejects; the message is the parser's."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = | != | =~ | !~
    value: str

    @property
    def variables(self) -> tuple[str, ...]:
        """Grafana template variables in the value (`"$pod"` -> `("pod",)`)."""
        return tuple(_variable_names(self.value))


@dataclass(frozen=True)
class Selector:
    """One series selector: `name{matchers}` with the range window when it is `[...]`."""

    name: str | None  # None for `{__name__=~"..."}` (see `metric`)
    matchers: tuple[Matcher, ...]
    range_s: float | None = None

    @property
    def metric(self) -> str | None:
        """The series name: the written name, else an `__name__="..."` matcher's value."""
        if self.name:
            return self.name
        eq = [m.value for m in self.matchers if m.label == "__name__" and m.op == "="]
        return eq[0] if eq else None

    def matcher(self, label: str) -> Matcher | None:
        """The first matcher on `label` (None when the selector does not filter it)."""
        return next((m for m in self.matchers if m.label == label), None)


@dataclass(frozen=True)
class Grouping:
    """`op by (labels)` or `op without (labels)`; `kind` is "" when the aggregation has neither."""

    op: str  # sum, max, count, topk, ...
    kind: str  # by | without | ""
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Quantile:
    """`histogram_quantile(phi, inner)`; `grouping` is the aggregation directly inside
    (parentheses skipped), None when the inner expression is no aggregation."""

    phi: float | None  # None when phi is not a number literal
    grouping: Grouping | None
    inner: pp.Expr = field(repr=False, compare=False)
    reads: tuple[Selector, ...]


def _variable_names(text: str) -> list[str]:
    out: list[str] = []
    for m in _VARIABLE.finditer(text):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in out:
            out.append(name)
    return out


def _grafana_free(expr: str) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return GRAFANA_INTERVALS.get(name, m.group(0))

    return _VARIABLE.sub(repl, expr)


@cache
def parse(expr: str) -> pp.Expr:
    """The expression's syntax tree (Grafana interval variables replaced first)."""
    try:
        return pp.parse(_grafana_free(expr))
    except ValueError as err:
        raise PromQLError(f"{err} in {expr!r}") from None


def children(node: pp.Expr) -> list[pp.Expr]:
    """Direct sub-expressions of a node, left to right."""
    if isinstance(node, pp.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, pp.AggregateExpr):
        return [n for n in (node.param, node.expr) if n is not None]
    if isinstance(node, pp.Call):
        return list(node.args)
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        return [node.expr]
    if isinstance(node, pp.MatrixSelector):
        return [node.vector_selector]
    return []


def nodes(node: pp.Expr) -> Iterator[pp.Expr]:
    """Every node, depth first, parents before children, left before right."""
    yield node
    for child in children(node):
        yield from nodes(child)


def unwrap(node: pp.Expr) -> pp.Expr:
    """The node inside any number of parentheses."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def _selector(vs: pp.VectorSelector, range_s: float | None) -> Selector:
    written = [*vs.matchers.matchers, *(m for alt in vs.matchers.or_matchers for m in alt)]
    matchers = tuple(
        Matcher(m.name, _OPS[str(m.op).removeprefix("MatchOp.")], m.value) for m in written
    )
    return Selector(vs.name or None, matchers, range_s)


def _all_selectors(node: pp.Expr) -> list[Selector]:
    out: list[Selector] = []

    def visit(n: pp.Expr) -> None:
        if isinstance(n, pp.MatrixSelector):
            out.append(_selector(n.vector_selector, n.range.total_seconds()))
            return
        if isinstance(n, pp.VectorSelector):
            out.append(_selector(n, None))
            return
        for c in children(n):
            visit(c)

    visit(node)
    return out


@cache
def _selectors_of(expr: str) -> tuple[Selector, ...]:
    return tuple(_all_selectors(parse(expr)))


def selectors(expr: str | pp.Expr) -> list[Selector]:
    """Every series selector, in the order written."""
    if isinstance(expr, str):
        return list(_selectors_of(expr))
    return _all_selectors(expr)


def metric_names(expr: str | pp.Expr) -> list[str]:
    """Series names the expression selects, in order, without duplicates (`up`, not `rate`;
    histogram suffixes kept as written)."""
    out: list[str] = []
    for s in selectors(expr):
        name = s.metric
        if name and name not in out:
            out.append(name)
    return out


def _grouping(node: pp.AggregateExpr) -> Grouping:
    mod = node.modifier
    if mod is None:
        return Grouping(str(node.op).lower(), "", ())
    kind = "by" if str(mod.type).endswith(".By") else "without"
    return Grouping(str(node.op).lower(), kind, tuple(mod.labels))


def groupings(expr: str | pp.Expr) -> list[Grouping]:
    """Every aggregation's operator and `by`/`without` labels, outermost first."""
    root = parse(expr) if isinstance(expr, str) else expr
    return [_grouping(n) for n in nodes(root) if isinstance(n, pp.AggregateExpr)]


def quantiles(expr: str | pp.Expr) -> list[Quantile]:
    """Every `histogram_quantile(phi, ...)` call, outermost first."""
    root = parse(expr) if isinstance(expr, str) else expr
    out: list[Quantile] = []
    for n in nodes(root):
        if not (isinstance(n, pp.Call) and n.func.name == "histogram_quantile"):
            continue
        phi_node, inner = unwrap(n.args[0]), n.args[1]
        phi = phi_node.val if isinstance(phi_node, pp.NumberLiteral) else None
        agg = unwrap(inner)
        grouping = _grouping(agg) if isinstance(agg, pp.AggregateExpr) else None
        out.append(Quantile(phi, grouping, inner, tuple(_all_selectors(inner))))
    return out


def recorded_quantiles(expr: str | pp.Expr) -> list[float]:
    """phi of every selector of a quantile recording (`level:metric:quantile...`) that pins
    `quantile="phi"`, in order; such a selector without that matcher gives no phi."""
    out: list[float] = []
    for sel in selectors(expr):
        if (sel.name or "").count(":") < 2 or not sel.name.rsplit(":", 1)[1].startswith("quantile"):
            continue
        for m in sel.matchers:
            if m.label == "quantile" and m.op == "=":
                with contextlib.suppress(ValueError):
                    out.append(float(m.value))
    return out


def divisions(expr: str | pp.Expr) -> list[tuple[pp.Expr, pp.Expr]]:
    """Every `/` as (numerator, denominator), outermost first."""
    root = parse(expr) if isinstance(expr, str) else expr
    return [
        (n.lhs, n.rhs) for n in nodes(root) if isinstance(n, pp.BinaryExpr) and str(n.op) == "/"
    ]


def is_positive_guard(node: pp.Expr) -> bool:
    """`x > 0` (in any parentheses, without `bool`): a denominator that drops zeros."""
    node = unwrap(node)
    if not (isinstance(node, pp.BinaryExpr) and str(node.op) == ">"):
        return False
    if node.modifier is not None and node.modifier.return_bool:
        return False
    rhs = unwrap(node.rhs)
    return isinstance(rhs, pp.NumberLiteral) and rhs.val == 0


def ranges_s(expr: str | pp.Expr) -> list[float]:
    """Every range (`[5m]`) and subquery (`[1h:1m]`) window, in seconds, in order."""
    root = parse(expr) if isinstance(expr, str) else expr
    return [
        n.range.total_seconds()
        for n in nodes(root)
        if isinstance(n, (pp.MatrixSelector, pp.SubqueryExpr))
    ]


def variables(expr: str) -> list[str]:
    """Grafana variables the expression uses, in order, without duplicates (interval
    variables such as `__rate_interval` included)."""
    return _variable_names(expr)
