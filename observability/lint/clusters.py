"""Cluster-safe everywhere: every rule, panel and verify query keeps the cluster label.

Expressions are parsed (metrics/promql_ast.py, Prometheus' grammar), never matched by
regex. The bundle is checked as configured when `prometheus.cluster_label` is set, and
otherwise as if it were (`cluster`), so a rule that would merge two clusters fails lint
before anyone turns multi-cluster on.

- rules (alert and recording): no aggregation drops the label and the result keeps it;
- panels: every selector filters on it (`$cluster`), no `by` drops it; a panel may sum
  the whole selection into one number (a stat) since the variable already scopes it;
- verify queries (verify/queries.py): as rules.
"""

from __future__ import annotations

from pathlib import Path

from observability.config import BundleConfig
from observability.lint.findings import Finding
from observability.metrics.promql_ast import PromQLError
from observability.metrics.promql_labels import cluster_problems

__all__ = ["CHECK", "check", "check_config"]

CHECK = "cluster-label"
PROBE_LABEL = "cluster"


def _probe(cfg: BundleConfig) -> BundleConfig:
    if cfg.prometheus.cluster_label:
        return cfg
    prom = cfg.prometheus.model_copy(
        update={"cluster_label": PROBE_LABEL, "cluster_name": "lint-probe"}
    )
    return cfg.model_copy(update={"prometheus": prom})


def _findings(
    file: str, obj: str, expr: str, label: str, require_matcher: bool = False
) -> list[Finding]:
    try:
        problems = cluster_problems(expr, label, require_matcher=require_matcher)
    except PromQLError as err:
        return [Finding(CHECK, file, f"does not parse: {err}", obj)]
    return [
        Finding(CHECK, file, f"{p}: keep {label} in every `by` and join (`on(...)`)", obj, "expr")
        for p in problems
    ]


def check_config(cfg: BundleConfig) -> list[Finding]:
    from observability.alerting.rules import rule_groups
    from observability.dashboards import build_all
    from observability.dashboards.exprs import panel_queries
    from observability.verify.queries import all_queries

    probe = _probe(cfg)
    label = probe.prometheus.cluster_label
    out: list[Finding] = []
    for group in rule_groups(probe):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record", "?")
            out += _findings(f"alerts/ ({group['name']})", name, str(rule["expr"]), label)
    for file, dash in build_all(probe).items():
        for pq in panel_queries(dash):
            out += _findings(
                f"dashboards/{file}",
                f"{pq.title} ({pq.ref})",
                pq.expr,
                label,
                require_matcher=True,
            )
    for name, expr in all_queries(probe).items():
        out += _findings("observability/verify/queries.py", name, expr, label)
    return out


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    return check_config(cfg)
