"""Does an expression keep a label? Label tracking over the syntax tree of promql_ast.

`obsctl lint` (lint/clusters.py) asks it of every rule, panel and verify query for the
cluster label: an aggregation or join that drops it would merge two clusters in a store
that holds several. A regex cannot answer this (nesting, `on(...)`, `without`, `or`).

Prometheus semantics, simplified to one label:
- a selector keeps every label; `absent(x{l="v"})` keeps only equality-matched ones;
- `sum/avg/... by (L)` keeps L, `without (L)` keeps all but L, no modifier keeps none;
  `topk/bottomk/limitk` select series and keep all labels;
- a function keeps its vector argument's labels (`vector()`, `time()` yield none);
- `a OP b` between vectors: one-to-one with `on(L)` keeps L, with `ignoring(L)` all but
  L, group_left/right keep the "many" side; `and`/`unless` keep the left side; `or`
  keeps a label only where both sides do; scalar OP vector keeps the vector's labels.
"""

from __future__ import annotations

import promql_parser as pp

from observability.metrics.promql_ast import nodes, parse

__all__ = ["cluster_problems", "keeps_label"]

# Functions whose result has no labels (scalar or a fresh vector).
_NO_LABELS = {"vector", "time", "scalar", "pi", "minute", "hour", "day_of_month", "day_of_week"}
_NO_LABELS |= {"day_of_year", "days_in_month", "month", "year"}
_ABSENT = {"absent", "absent_over_time"}
_SELECTING_AGGS = {"topk", "bottomk", "limitk", "limit_ratio"}


def _op(node: object) -> str:
    return str(getattr(node, "op", "")).lower()


def _matchers(vs: pp.VectorSelector) -> tuple[tuple[str, str, str], ...]:
    out = []
    for m in vs.matchers.matchers:
        op = str(m.op).rsplit(".", 1)[-1]
        out.append((m.name, op, m.value))
    return tuple(out)


def _is_scalar(node: object) -> bool:
    if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
        return True
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        return _is_scalar(node.expr)
    if isinstance(node, pp.Call):
        return node.func.name in {"scalar", "time", "pi"}
    if isinstance(node, pp.BinaryExpr):
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    return False


def _keeps(node: object, label: str) -> bool:
    """Whether every series `node` yields carries `label` (given its inputs do)."""
    if isinstance(node, (pp.VectorSelector, pp.MatrixSelector)):
        return True
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        return _keeps(node.expr, label)
    if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
        return False
    if isinstance(node, pp.AggregateExpr):
        op = _op(node)
        if any(op.endswith(a) for a in _SELECTING_AGGS):
            return _keeps(node.expr, label)
        mod = node.modifier
        if mod is None:
            return False
        labels = set(mod.labels)
        if str(mod.type).endswith("By"):
            return label in labels
        return label not in labels and _keeps(node.expr, label)
    if isinstance(node, pp.Call):
        fn = node.func.name
        if fn in _NO_LABELS:
            return False
        if fn in _ABSENT:
            inner = node.args[0]
            vs = inner.vector_selector if isinstance(inner, pp.MatrixSelector) else inner
            if isinstance(vs, pp.VectorSelector):
                return any(n == label and op == "Equal" for n, op, _ in _matchers(vs))
            return False
        vectors = [a for a in node.args if not _is_scalar(a)]
        return bool(vectors) and all(_keeps(a, label) for a in vectors)
    if isinstance(node, pp.BinaryExpr):
        lhs_s, rhs_s = _is_scalar(node.lhs), _is_scalar(node.rhs)
        if lhs_s and rhs_s:
            return False
        if lhs_s:
            return _keeps(node.rhs, label)
        if rhs_s:
            return _keeps(node.lhs, label)
        op = _op(node)
        if op.endswith("lor") or op == "or":
            return _keeps(node.lhs, label) and _keeps(node.rhs, label)
        if op.endswith("land") or op.endswith("lunless") or op in ("and", "unless"):
            return _keeps(node.lhs, label)
        mod = node.modifier
        card = str(mod.card) if mod is not None else "OneToOne"
        if card.endswith("ManyToOne"):
            return _keeps(node.lhs, label)
        if card.endswith("OneToMany"):
            return _keeps(node.rhs, label)
        matching = mod.matching if mod is not None else None
        if matching is not None:
            labels = set(matching.labels)
            if str(matching.type).endswith("Include"):  # on(...)
                return label in labels
            if label in labels:  # ignoring(label)
                return False
        return _keeps(node.lhs, label)
    return False


def keeps_label(expr: str, label: str) -> bool:
    """Whether the result of `expr` carries `label` when its input series do."""
    return _keeps(parse(expr), label)


def _labelless(node: object) -> bool:
    """Whether `node` yields series with no labels at all (one total, or a constant)."""
    if _is_scalar(node):
        return True
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        return _labelless(node.expr)
    if isinstance(node, pp.AggregateExpr):
        if any(_op(node).endswith(a) for a in _SELECTING_AGGS):
            return _labelless(node.expr)
        mod = node.modifier
        return mod is None or (str(mod.type).endswith("By") and not list(mod.labels))
    if isinstance(node, pp.Call):
        if node.func.name in _NO_LABELS:
            return True
        vectors = [a for a in node.args if not _is_scalar(a)]
        return all(_labelless(a) for a in vectors)
    if isinstance(node, pp.BinaryExpr):
        return _labelless(node.lhs) and _labelless(node.rhs)
    return False


def _per_evaluator(node: object) -> bool:
    """`absent(...)`, `vector(...)` and what combines only them: an answer about the
    Prometheus that evaluates the rule; its external cluster label names the cluster
    when the alert leaves it, and a cluster matcher would never match locally."""
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        return _per_evaluator(node.expr)
    if isinstance(node, pp.Call):
        return node.func.name in _ABSENT or node.func.name == "vector"
    if isinstance(node, pp.BinaryExpr):
        return all(_per_evaluator(n) or _is_scalar(n) for n in (node.lhs, node.rhs))
    return False


def cluster_problems(expr: str, label: str, require_matcher: bool = False) -> list[str]:
    """Why `expr` is not cluster-safe for `label` (empty: it is).

    Rules and queries (`require_matcher=False`): no aggregation drops the label and the
    result keeps it, except answers about the evaluating Prometheus itself (`absent()`,
    `vector()`). Dashboard panels (`require_matcher=True`): every selector filters on the
    label (the `$cluster` variable); a panel whose result is one total over the selection
    (a stat: `sum(...)`, `count(...) or vector(0)`) is scoped by that filter, any other
    must keep the label through every `by` and join.
    """
    tree = parse(expr)
    out: list[str] = []
    if require_matcher:
        for node in nodes(tree):
            if isinstance(node, pp.VectorSelector) and not any(
                n == label for n, _, _ in _matchers(node)
            ):
                out.append(f"selector {node.name or '{...}'} has no {label} matcher")
        if _labelless(tree):
            return out
    elif _per_evaluator(tree):
        return out
    for node in nodes(tree):
        if (
            isinstance(node, pp.AggregateExpr)
            and node.modifier is not None
            and not _keeps(node, label)
        ):
            kind = "by" if str(node.modifier.type).endswith("By") else "without"
            out.append(f"{_op(node)} {kind} ({', '.join(node.modifier.labels)}) drops {label}")
    if not _keeps(tree, label):
        out.append(f"the result has no {label} label (two clusters would merge)")
    return out
