"""Dashboard invariants, checked on the committed `dashboards/*.json`.

Independent of the builder code on purpose: it reads the JSON Grafana will load and the
config, so a hand edit or a builder bug is caught the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser as pp

from observability.alerting.rules import rule_groups
from observability.alerting.vllm_runtimes import GROUP as RUNTIMES_GROUP
from observability.config import BundleConfig, ConfigError
from observability.dashboards.availability import no_data_note
from observability.dashboards.exprs import (
    BUILTIN_VARIABLES,
    UnknownVariable,
    iter_panels,
    panel_queries,
    promtool_parse_errors,
    substitute,
    template_values,
    used_variables,
)
from observability.dashboards.finalize import DATASOURCE_REF
from observability.dashboards.panels import (
    MODEL_LEVEL_PREFIX,
    POD_NOTE,
    described_metrics,
    families_read,
)
from observability.dashboards.reads import recorded_sources
from observability.lint.findings import Finding
from observability.lint.scope import missing_matchers
from observability.metrics import promql_ast
from observability.metrics.catalog import (
    available_vllm_versions,
    vllm_catalog,
    vllm_main_catalog,
)
from observability.metrics.names import SIGNALS

__all__ = ["STAT_THRESHOLDS", "check"]

CHECK = "dashboards"
ALLOWED_TYPES = {"row", "timeseries", "stat", "gauge", "table", "heatmap"}
MIN_SCHEMA_VERSION = 36
REQUIRED_VARS = ("namespace", "model_name", "pod")

# Overview stat title -> the cfg.alerting fields its non-base threshold steps must equal,
# in order. Keeps the colours of the stats identical to when the alerts fire.
STAT_THRESHOLDS: dict[str, tuple[str, ...]] = {
    "p99 TTFT": ("ttft_p99_warning_seconds", "ttft_p99_critical_seconds"),
    "p99 inter-token latency": ("itl_p99_warning_seconds",),
    "Error %": ("error_ratio_warning",),
    "KV-cache usage": ("kv_cache_warning_ratio", "kv_cache_critical_ratio"),
    "Waiting requests": ("waiting_requests_warning",),
    "GPU utilization": ("gpu_utilization_low_ratio",),
}

_CURRENT = {n for s in SIGNALS.values() if s.v1 for n in [s.v1]}
_LEGACY = {n for s in SIGNALS.values() for n in s.names if n not in _CURRENT}
_KNOWN_VLLM = (
    _CURRENT
    | _LEGACY
    | {f for v in available_vllm_versions() for f in vllm_catalog(v).families}
    | set(vllm_main_catalog().families)  # read from vLLM main, no release cataloged
)


def recordings(cfg: BundleConfig) -> dict[str, str]:
    """Recorded name -> expression, for every recording rule this bundle renders."""
    try:
        groups = rule_groups(cfg)
    except ConfigError:
        return {}  # the rules check reports the config error
    # The runtime mappings record exporter names (`vllm:*` from `ray_vllm:*`): to a panel
    # they are the exporter's series, not recordings.
    return {
        r["record"]: r["expr"]
        for g in groups
        if g["name"] != RUNTIMES_GROUP
        for r in g["rules"]
        if "record" in r
    }


def _is_bucket_rate(node: pp.Expr) -> bool:
    """`sum by (le, ...) (rate(X_bucket[..]))`, or an `or` of such branches."""
    node = promql_ast.unwrap(node)
    if isinstance(node, pp.BinaryExpr) and str(node.op) == "or":
        return _is_bucket_rate(node.lhs) and _is_bucket_rate(node.rhs)
    if not isinstance(node, pp.AggregateExpr) or str(node.op) != "sum":
        return False
    grouping = promql_ast.groupings(node)[0]
    return grouping.kind == "by" and "le" in grouping.labels and _rate_of_buckets(node.expr)


def _rate_of_buckets(node: pp.Expr) -> bool:
    node = promql_ast.unwrap(node)
    if not (isinstance(node, pp.Call) and node.func.name == "rate"):
        return False
    sels = promql_ast.selectors(node)
    return len(sels) == 1 and (sels[0].metric or "").endswith("_bucket")


def _bucket_rates(recorded: dict[str, str]) -> set[str]:
    """Recordings that are `sum by (le, ...) (rate(X_bucket[..]))` (every `or` branch)."""
    return {name for name, expr in recorded.items() if _is_bucket_rate(promql_ast.parse(expr))}


def _quantile_problems(expr: str, bucket_rates: set[str]) -> list[str]:
    """Every histogram_quantile must read `sum by (le, ...)` of `rate(X_bucket[..])` or of a
    bucket-rate recording of this bundle."""
    out: list[str] = []
    for q in promql_ast.quantiles(expr):
        agg = promql_ast.unwrap(q.inner)
        body = promql_ast.unwrap(agg.expr) if isinstance(agg, pp.AggregateExpr) else None
        recorded = isinstance(body, pp.VectorSelector) and body.name in bucket_rates
        if not (
            q.grouping is not None
            and q.grouping.op == "sum"
            and q.grouping.kind == "by"
            and (recorded or (body is not None and _rate_of_buckets(body)))
        ):
            out.append(
                "percentiles must be histogram_quantile(q, sum by (le, ...) (rate(X_bucket[..]))) "
                "or over a bucket-rate recording of this bundle's rules"
            )
        elif "le" not in q.grouping.labels:
            out.append("histogram_quantile must aggregate `by (le, ...)`")
    return out


def _parses(expr: str) -> bool:
    try:
        promql_ast.parse(expr)
    except promql_ast.PromQLError:
        return False
    return True


def _finding(file: str, message: str, obj: str = "", field: str = "") -> Finding:
    return Finding(CHECK, file, message, obj=obj, field=field)


def _denominators_guarded(expr: str) -> bool:
    """Every `/` divides by a number or by `(... > 0)`."""
    return all(
        isinstance(promql_ast.unwrap(den), pp.NumberLiteral) or promql_ast.is_positive_guard(den)
        for _num, den in promql_ast.divisions(expr)
    )


def _check_vars(file: str, dash: dict, cfg: BundleConfig) -> list[Finding]:
    out: list[Finding] = []
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        out.append(_finding(file, "needs a `datasource` variable of type datasource (prometheus)"))
    cluster = cfg.prometheus.cluster_label
    wanted = ([cluster] if cluster else []) + list(REQUIRED_VARS)
    for name in wanted:
        v = variables.get(name)
        if not v or not v.get("multi") or not v.get("includeAll"):
            out.append(
                _finding(file, f"variable `{name}` missing or not multi-select with All", name)
            )
    extra = set(variables) - {"datasource", *wanted}
    if extra:
        out.append(_finding(file, f"unexpected variables {sorted(extra)}: re-render"))
    return out


def _check_scope(
    expr: str, variables: list[str], recorded: dict[str, str], cfg: BundleConfig
) -> list[str]:
    """Problems with the variables of one query: unknown `$names`, and selectors that do not
    filter by a variable whose label their series carry (see observability/lint/scope.py)."""
    problems = []
    unknown = [v for v in used_variables(expr) if v not in variables and v not in BUILTIN_VARIABLES]
    for name in unknown:
        problems.append(str(UnknownVariable(name, variables)))
    if unknown:
        return problems
    filters = [v for v in variables if v != "datasource"]
    try:
        missing = missing_matchers(expr, filters, recorded, cfg.prometheus.cluster_label)
    except ValueError:
        return problems  # the promtool parse check reports it
    problems += [m.message() for m in missing]
    return problems


def _check_panel(
    file: str, panel: dict, cfg: BundleConfig, recorded: dict[str, str], variables: list[str]
) -> list[Finding]:
    out: list[Finding] = []
    # what the panel descriptions name (recorded_sources: a quantile recording names the
    # metrics under the bucket rate it reads), else what the rule reads
    sources = {n: tuple(families_read(e)) for n, e in recorded.items()}
    sources |= {n: s for n, s in recorded_sources().items() if n in recorded}
    bucket_rates = _bucket_rates(recorded)
    title = panel.get("title", f"id {panel.get('id')}")

    def bad(msg: str, field: str = "") -> None:
        out.append(_finding(file, msg, title, field))

    if panel.get("type") not in ALLOWED_TYPES:
        bad(f"panel type {panel.get('type')!r} is not current (use timeseries, stat, ...)", "type")
    if panel.get("datasource") != DATASOURCE_REF:
        bad("datasource must be the `${datasource}` variable reference", "datasource")
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    if not defaults.get("unit"):
        bad("panel has no unit", "fieldConfig.defaults.unit")
    targets = panel.get("targets", [])
    if not targets:
        bad("panel has no queries", "targets")
    # An expression that does not parse is reported once, by promtool in check_dashboard.
    exprs = [t.get("expr", "") for t in targets if _parses(t.get("expr", ""))]
    metrics: list[str] = []
    for e in exprs:
        metrics += [m for m in families_read(e) if m not in metrics]
    desc = panel.get("description", "")
    if not desc:
        bad("panel has no description", "description")
    elif not desc.endswith(f"Metrics: {described_metrics(metrics, sources)}."):
        bad(
            "description must end with `Metrics: <the metrics it reads>.` (a recording as "
            "`name (recording rule over <its metrics>)`)",
            "description",
        )
    elif any(m.startswith(MODEL_LEVEL_PREFIX) for m in metrics) and POD_NOTE not in desc:
        bad(f"reads a per-model recording: the description must say `{POD_NOTE}`", "description")
    for i, t in enumerate(targets):
        field = f"targets[{i}]"
        expr = t.get("expr", "")
        if t.get("datasource") != DATASOURCE_REF:
            bad("query datasource must be the `${datasource}` variable", field + ".datasource")
        if not _parses(expr):
            continue
        names = set(families_read(expr))
        unknown = {n for n in names if n.startswith("vllm:")} - _KNOWN_VLLM
        if unknown:
            bad(
                f"unknown vLLM metric(s) {sorted(unknown)}: use the names of observability/metrics/names.py (VLLM)",
                field,
            )
        not_ours = {n for n in names if ":" in n and not n.startswith("vllm:")} - set(recorded)
        if not_ours:
            bad(
                f"recorded series {sorted(not_ours)} come from no rule of this bundle: use a "
                "name from observability/alerting/recording.py (rendered into alerts/)",
                field,
            )
        if names & _LEGACY and not names & _CURRENT:
            bad(
                f"only removed/legacy names {sorted(names & _LEGACY)}: add the current name "
                "first with an `or` fallback",
                field,
            )
        for problem in _quantile_problems(expr, bucket_rates):
            bad(problem, field)
        if not _denominators_guarded(expr):
            bad("division without a zero guard: divide by `(den > 0)`", field)
        for problem in _check_scope(expr, variables, recorded, cfg):
            bad(problem, field)
    # A panel some supported version (or default flags) leaves empty says why, in the
    # panel: Grafana shows `noValue` instead of a silent "No data".
    note = no_data_note(exprs)
    if note and defaults.get("noValue") != note:
        bad(
            f"may be empty on a supported vLLM: fieldConfig.defaults.noValue must say "
            f"{note!r} (re-render)",
            "fieldConfig.defaults.noValue",
        )
    if panel.get("type") == "stat" and title in STAT_THRESHOLDS:
        steps = defaults.get("thresholds", {}).get("steps", [])
        got = [s.get("value") for s in steps[1:]]
        want = [getattr(cfg.alerting, f) for f in STAT_THRESHOLDS[title]]
        if got != want:
            bad(
                f"thresholds {got} differ from alerting config {want} "
                f"({', '.join(STAT_THRESHOLDS[title])}): re-render",
                "fieldConfig.defaults.thresholds",
            )
    return out


def check_dashboard(file: str, dash: dict, cfg: BundleConfig, parse: bool = True) -> list[Finding]:
    out: list[Finding] = []
    if dash.get("uid") != cfg.dashboards.uid and file.endswith("single-pane.json"):
        out.append(_finding(file, f"uid must be {cfg.dashboards.uid!r} (dashboards.uid)"))
    if int(dash.get("schemaVersion", 0)) < MIN_SCHEMA_VERSION:
        out.append(_finding(file, f"schemaVersion below {MIN_SCHEMA_VERSION}: re-render"))
    out += _check_vars(file, dash, cfg)
    seen: dict[int, str] = {}
    top = dash.get("panels", [])
    for panel in [*top, *(c for p in top for c in p.get("panels", []))]:  # collapsed rows' too
        pid = panel.get("id")
        if pid in seen:
            out.append(_finding(file, f"panel id {pid} also used by {seen[pid]!r}", panel["title"]))
        seen[pid] = panel.get("title", "")
    recorded = recordings(cfg)
    variables = [v.get("name", "") for v in dash.get("templating", {}).get("list", [])]
    for v in dash.get("templating", {}).get("list", []):
        query = v.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        for name in used_variables(text):
            if name not in variables and name not in BUILTIN_VARIABLES:
                out.append(
                    _finding(file, f"variable query: {UnknownVariable(name, variables)}", v["name"])
                )
    for panel in iter_panels(dash):
        out += _check_panel(file, panel, cfg, recorded, variables)
    if parse:
        queries = panel_queries(dash)
        values = template_values(dash)
        keyed = {}
        for q in queries:
            try:
                keyed[f"{q.title}#{q.ref}"] = substitute(q.expr, values)
            except UnknownVariable:
                continue  # reported by the panel check
        for key, err in promtool_parse_errors(keyed).items():
            title, ref = key.rsplit("#", 1)
            out.append(_finding(file, f"expression does not parse: {err}", title, ref))
    return out


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    """Findings for every dashboard JSON under `root/dashboards`."""
    base = Path(root) / "dashboards"
    files = sorted(base.glob("*.json")) if base.is_dir() else []
    if not files:
        return [_finding("dashboards/", "no dashboards rendered: run `obsctl render`")]
    out: list[Finding] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            dash = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            out.append(_finding(rel, f"not valid JSON ({err}): re-run `obsctl render`"))
            continue
        out += check_dashboard(rel, dash, cfg)
    return out
