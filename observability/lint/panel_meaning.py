"""What a panel says matches what it queries: `pNN` names and units, on every rendered panel.

Two properties, read from the dashboard JSON Grafana loads (never from the builder):

- a panel titled, or a series legended, `pNN` queries `histogram_quantile(0.NN, ...)` (or a
  quantile recording at `quantile="0.NN"`) and no other quantile (a "p99 TTFT" stat on the 0.95 quantile stays green while the p99 alert
  fires);
- a panel's unit follows the family its queries read: `*_seconds` (quantiles, means) in `s`,
  token histograms in `tok` and token rates in `tok/s`, ratios (like over like, `*_perc`,
  percent / 100) in `percentunit`, DCGM's MB in `mbytes`, rates of vLLM's MFU counters in
  `flops` (FLOP/s) and `Bps` (bytes/s) (a TTFT panel in `ms` shows latencies 1000x smaller).

The dimension of a query comes from its syntax tree (observability/metrics/promql_ast.py):
leaf names by suffix (`level:metric:operations` recordings by their metric part; DCGM fields
by the unit in the DCGM catalog), then rate, quantile, aggregation and arithmetic. A query
whose dimension is unknown (costs, counts, products) is not judged.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

import promql_parser as pp

from observability.config import BundleConfig
from observability.dashboards.exprs import iter_panels
from observability.lint.findings import Finding
from observability.metrics import promql_ast

__all__ = ["UNITS", "check", "check_dashboard", "dimension", "named_quantile"]

CHECK = "panel-meaning"

# Dimension -> the Grafana units that show it truthfully.
UNITS: dict[str, frozenset[str]] = {
    "seconds": frozenset({"s"}),
    "tokens": frozenset({"suffix: tok"}),
    "rate:tokens": frozenset({"suffix: tok/s"}),
    "ratio": frozenset({"percentunit"}),
    "percent": frozenset({"percent"}),
    "bytes": frozenset({"bytes", "decbytes"}),
    "rate:bytes": frozenset({"Bps", "binBps"}),
    "rate:flops": frozenset({"flops"}),
    "mbytes": frozenset({"mbytes", "decmbytes"}),
    "celsius": frozenset({"celsius"}),
    "watt": frozenset({"watt"}),
}
# DCGM catalog units -> dimension (the catalog's `unit` field, from dcgm-exporter's CSV).
_DCGM_UNITS = {"%": "percent", "MB": "mbytes", "MiB": "mbytes", "C": "celsius", "W": "watt"}
DCGM_FILE = "dcgm-default-counters.json"
_PNN = re.compile(r"(?<![A-Za-z0-9_])p(\d{2,4})(?![A-Za-z0-9_])")


@cache
def _dcgm_units() -> dict[str, str]:
    """DCGM field -> its unit, from the vendored catalog (MetricFamily does not keep units)."""
    text = resources.files("observability.metrics").joinpath("data", DCGM_FILE).read_text()
    return {f["name"]: f["unit"] for f in json.loads(text)["families"] if f.get("unit")}


def _leaf(name: str) -> str | None:
    """Dimension of one series name. `level:metric:ops` recordings are judged by `metric`
    (and `ops` starting with `rate` makes it a rate); a `vllm:x` name by `x`."""
    rate = False
    parts = name.split(":")
    if len(parts) >= 3:
        name, rate = parts[1], parts[2].startswith("rate")
    elif name in _dcgm_units():
        return _DCGM_UNITS.get(_dcgm_units()[name])
    base = parts[-1] if len(parts) == 2 else name
    if base.endswith("_bucket"):
        dim = "bucket:" + (_base_dim(base.removesuffix("_bucket")) or "count")
    elif base.endswith("_count"):
        dim = "count"
    elif base.endswith("_sum"):
        # the sum of a histogram's observations: unknown when its name has no unit (a
        # mean of descriptors per transfer is not a ratio)
        summed = _base_dim(base.removesuffix("_sum"))
        if summed is None:
            return None
        dim = summed
    else:
        dim = _base_dim(base) or "count"
    return f"rate:{dim}" if rate and not dim.startswith("bucket:") else dim


# Families whose names do not say their unit (KV connector histograms, vLLM main).
_NAMED = {
    "nixl_bytes_transferred": "bytes",
    "kv_offload_load_size": "bytes",
    "kv_offload_store_size": "bytes",
}


def _base_dim(base: str) -> str | None:
    if base in _NAMED:
        return _NAMED[base]
    # KV offload counters: kv_offload_{load,store}_{bytes,time}_total (bytes, seconds)
    counted = base.removesuffix("_total")
    if counted != base and counted.endswith("_bytes"):
        return "bytes"
    if counted != base and counted.endswith("_time"):
        return "seconds"
    if base.endswith("_seconds"):
        return "seconds"
    if base.endswith(("_perc", "_hit_rate")):
        return "ratio"  # vLLM's usage gauges and 0.7.x's prefix-cache hit rate are 0-1
    if base.endswith("_bytes"):
        return "bytes"
    # vLLM's MFU counters (perf.py): estimated_flops_per_gpu_total, ..._bytes_per_gpu_total
    per_gpu = base.removesuffix("_total").removesuffix("_per_gpu")
    if per_gpu != base and per_gpu.endswith(("_flops", "_bytes")):
        return "flops" if per_gpu.endswith("_flops") else "bytes"
    if "tokens" in base:
        return "tokens"
    return None


def _number(node: pp.Expr) -> float | None:
    node = promql_ast.unwrap(node)
    return node.val if isinstance(node, pp.NumberLiteral) else None


def _divide(num: str | None, den: str | None) -> str | None:
    if num is None or den is None:
        return None
    if num == den:
        return "ratio"  # like over like: hits/queries, failed/all, accepted/drafted
    if den == "rate:count" and num.startswith("rate:") and num != "rate:count":
        return num.removeprefix("rate:")  # rate(X_sum) / rate(X_count): the mean of X
    if num == "rate:bytes" and den == "rate:seconds":
        return "rate:bytes"  # bytes moved per second of transfer time: a bandwidth
    return None


def dimension(node: pp.Expr | str) -> str | None:
    """The physical dimension of a query ("seconds", "ratio", "rate:tokens", ...), or None."""
    node = promql_ast.unwrap(promql_ast.parse(node) if isinstance(node, str) else node)
    if isinstance(node, pp.VectorSelector):
        return _leaf(node.name or "")
    if isinstance(node, pp.MatrixSelector):
        return dimension(node.vector_selector)
    if isinstance(node, pp.NumberLiteral):
        return None
    if isinstance(node, pp.AggregateExpr):
        op = str(node.op)
        return dimension(node.expr) if op in ("sum", "max", "min", "avg", "topk") else None
    if isinstance(node, pp.Call):
        name = node.func.name
        if name in ("rate", "irate", "increase"):
            inner = dimension(node.args[0])
            if inner is None or inner.startswith("bucket:"):
                return inner  # a rate of buckets is still X's distribution
            return None if inner.startswith("rate:") else f"rate:{inner}"
        if name == "histogram_quantile":
            inner = dimension(node.args[1])
            return inner.removeprefix("bucket:") if inner and inner.startswith("bucket:") else None
        vectors = [a for a in node.args if not isinstance(promql_ast.unwrap(a), pp.NumberLiteral)]
        return dimension(vectors[0]) if len(vectors) == 1 else None
    if isinstance(node, pp.BinaryExpr):
        return _binary(node)
    return None


def _binary(node: pp.BinaryExpr) -> str | None:
    op = str(node.op)
    lhs, rhs = dimension(node.lhs), dimension(node.rhs)
    if op == "or":
        known = {d for d in (lhs, rhs) if d is not None}
        return known.pop() if len(known) == 1 else None
    if op in (">", ">=", "<", "<=", "==", "!="):
        return lhs  # a filter (`x > 0` guards a denominator) keeps x's dimension
    if op in ("+", "-"):
        return lhs if lhs == rhs else None
    if op == "/":
        by = _number(node.rhs)
        if by is not None:
            if by == 100 and lhs == "percent":
                return "ratio"
            return lhs if by == 1 else None
        return _divide(lhs, rhs)
    return None


def named_quantile(text: str) -> float | None:
    """`p99` -> 0.99, `p999` -> 0.999 (the first `pNN` word in a title or legend)."""
    m = _PNN.search(text)
    return float(f"0.{m.group(1)}") if m else None


def _finding(file: str, title: str, field: str, message: str) -> Finding:
    return Finding(CHECK, file, message, obj=title, field=field)


def _quantile_findings(file: str, panel: dict) -> list[Finding]:
    out: list[Finding] = []
    title = panel.get("title", "")
    for i, t in enumerate(panel.get("targets", [])):
        label = t.get("legendFormat") or title
        want = named_quantile(label)
        if want is None:
            continue
        try:
            expr = t.get("expr", "")
            got = [q.phi for q in promql_ast.quantiles(expr)]
            got += promql_ast.recorded_quantiles(expr)
        except promql_ast.PromQLError:
            continue  # the dashboards check reports expressions that do not parse
        if not got or any(phi != want for phi in got):
            out.append(
                _finding(
                    file,
                    title,
                    f"targets[{i}]",
                    f"named {label!r} but queries histogram_quantile at {got or 'no quantile'}: "
                    f"query histogram_quantile({want}, ...) or rename it",
                )
            )
    return out


def _unit_findings(file: str, panel: dict) -> list[Finding]:
    title = panel.get("title", "")
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    out: list[Finding] = []
    for i, t in enumerate(panel.get("targets", [])):
        try:
            dim = dimension(t.get("expr", ""))
        except promql_ast.PromQLError:
            continue
        # a heatmap of X's buckets shows X on its axis
        allowed = UNITS.get((dim or "").removeprefix("bucket:"))
        if allowed and unit not in allowed:
            out.append(
                _finding(
                    file,
                    title,
                    "fieldConfig.defaults.unit",
                    f"unit {unit!r} but targets[{i}] reads {dim}: use "
                    f"{' or '.join(repr(u) for u in sorted(allowed))}",
                )
            )
    return out


def check_dashboard(file: str, dash: dict) -> list[Finding]:
    out: list[Finding] = []
    for panel in iter_panels(dash):
        out += _quantile_findings(file, panel)
        out += _unit_findings(file, panel)
    return out


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    """Findings for every dashboard JSON under `root/dashboards` (the dashboards check
    reports missing or broken files)."""
    del cfg  # the properties hold for any bundle
    base = Path(root) / "dashboards"
    out: list[Finding] = []
    for path in sorted(base.glob("*.json")) if base.is_dir() else []:
        try:
            dash = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        out += check_dashboard(path.relative_to(root).as_posix(), dash)
    return out
