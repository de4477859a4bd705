"""Threshold brackets: promtool tests generated from hand-written (value -> alerts) tables.

Every alert severity needs a case just below its threshold that stays quiet and one just
above that fires. Writing those input series by hand (histogram buckets for a p99,
counter slopes for a ratio) is error-prone, so the *inputs* are generated here; the
*expectations* are literal in `alerts/tests/brackets/<rule file>.yaml`:

```yaml
rule_file: vllm-saturation.yaml
alerts:
  - alert: VLLMKVCacheSaturated
    eval_time: 6m            # after `for` has elapsed for an input that holds from 0
    interval: 15s            # sample spacing of the generated series (default 1m)
    labels: {namespace: vllm, pod: a-0, model_name: llama}   # on every expected alert
    input:
      gauges:                # series -> its constant value, a formula of v
        'vllm:kv_cache_usage_perc{namespace="vllm", pod="a-0", model_name="llama"}': v
    points:
      - {v: 0.90, fires: []}                    # at the threshold: `>` is strict
      - {v: 0.9001, fires: [warning]}
      - {v: 0.9801, fires: [critical, warning]}
```

Input kinds (one per alert block; `extra_series` adds fixed promtool series):

- `gauges: {series: formula}`: the series holds `formula(v)` from 0 to `eval_time`;
- `counters: {series: formula}`: a counter from 0 growing by `formula(v)` per second;
- `histogram: {series: 'name{labels}', quantile: 0.99, per_second: 10, edges: [...]}`:
  bucket counters (`_bucket` with every `le`, `_count`) shaped so that
  `histogram_quantile(quantile, rate(..))` is `v` (edges default to the newest vLLM
  catalog's buckets of that family; `v` must lie strictly between two edges);
- `raw: {series: 'promtool values with {v}'}`: anything else (`up`, absent series).

Formulas use `v`, numbers and `+ - * /`. Each point becomes one promtool test whose only
assertion is `ALERTS{alertname="<alert>"}` at `eval_time`: exactly the listed severities
firing (an entry is a severity, or a mapping of extra labels including `severity`), with
`labels`, and nothing pending. `fires: []` means quiet.

`bracket_tests(root)` writes the generated test files; `coverage_problems(...)` lists
alert severities without a quiet and a firing point (lint fails on them). A spec file may
list `exempt: {alert: reason}` for state alerts with no numeric threshold (pod waiting
reasons, OOMKilled); the reason must say where they are tested both ways.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from observability.config import duration_seconds
from observability.metrics.catalog import vllm_catalog

__all__ = [
    "BRACKETS_DIR",
    "BracketError",
    "bracket_tests",
    "coverage_problems",
    "histogram_rates",
    "load_specs",
]

BRACKETS_DIR = "alerts/tests/brackets"

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class BracketError(ValueError):
    """A bracket spec that cannot be turned into a test (names the file and alert)."""


def _formula(text: Any, v: float) -> float:
    """Evaluate a formula of `v` (numbers, v, + - * /, parentheses)."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id == "v":
            return float(v)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise BracketError(f"formula {text!r}: only numbers, v and + - * / are allowed")

    return ev(ast.parse(str(text), mode="eval"))


def _num(x: float) -> str:
    return repr(round(float(x), 12))


def histogram_rates(edges: Iterable[float], quantile: float, v: float) -> dict[float, float]:
    """Share of observations at or below each edge (cumulative, +Inf last = 1) such that
    `histogram_quantile(quantile, ...)` interpolates to `v`.

    With (lo, hi] the bucket holding v and r = (v - lo) / (hi - lo): if r < quantile,
    a share a = (q - r) / (1 - r) sits in the bucket below lo and the rest in (lo, hi];
    otherwise everything is in (lo, hi] except a share b = 1 - q / r in the next bucket.
    """
    es = sorted(float(e) for e in edges)
    if v in es:
        raise BracketError(f"v={v:g} is a bucket edge: pick a value strictly between edges")
    if not es or v > es[-1]:
        raise BracketError(f"v={v:g} is above the top finite edge {es[-1] if es else '-'}")
    hi_i = next(i for i, e in enumerate(es) if e > v)
    lo = es[hi_i - 1] if hi_i else 0.0
    hi = es[hi_i]
    r = (v - lo) / (hi - lo)
    cum: dict[float, float] = {}
    if r < quantile:
        if hi_i == 0 and quantile - r > 0:
            raise BracketError(f"v={v:g} is in the first bucket: no room for mass below it")
        a = (quantile - r) / (1 - r)
        for i, e in enumerate(es):
            cum[e] = a if i < hi_i else 1.0
    else:
        if hi_i + 1 >= len(es) and r > quantile:
            raise BracketError(f"v={v:g}: no bucket above {hi:g} for the tail")
        b = 1 - quantile / r
        for i, e in enumerate(es):
            cum[e] = 0.0 if i < hi_i else (1.0 - b if i == hi_i else 1.0)
    cum[float("inf")] = 1.0
    return cum


def _le(e: float) -> str:
    return "+Inf" if e == float("inf") else repr(float(e))


def _with_label(series: str, name: str, value: str) -> str:
    base, _, rest = series.partition("{")
    rest = rest.rstrip("}").strip()
    inner = f'{rest}, {name}="{value}"' if rest else f'{name}="{value}"'
    return f"{base}{{{inner}}}"


def _suffix(series: str, suffix: str) -> str:
    base, brace, rest = series.partition("{")
    return f"{base}{suffix}{brace}{rest}"


def _edges_for(name: str) -> tuple[float, ...]:
    cat = vllm_catalog("latest")
    fam = cat.families.get(name)
    if fam is None or not fam.buckets:
        raise BracketError(f"histogram {name}: not in the newest vLLM catalog; give `edges`")
    return fam.buckets


def _inputs(block: dict[str, Any], v: Any, steps: int, interval_s: float) -> list[dict[str, str]]:
    spec = block["input"]
    out: list[dict[str, str]] = []
    for series, formula in (spec.get("gauges") or {}).items():
        out.append({"series": series, "values": f"{_num(_formula(formula, v))}x{steps}"})
    for series, formula in (spec.get("counters") or {}).items():
        slope = _formula(formula, v) * interval_s
        out.append({"series": series, "values": f"0+{_num(slope)}x{steps}"})
    for series, template in (spec.get("raw") or {}).items():
        out.append({"series": series, "values": str(template).replace("{v}", str(v))})
    hist = spec.get("histogram")
    if hist:
        name = hist["series"].partition("{")[0]
        edges = hist.get("edges") or _edges_for(name)
        per_step = float(hist.get("per_second", 10)) * interval_s
        cum = histogram_rates(edges, float(hist.get("quantile", 0.99)), float(v))
        for e, share in cum.items():
            series = _with_label(_suffix(hist["series"], "_bucket"), "le", _le(e))
            out.append({"series": series, "values": f"0+{_num(share * per_step)}x{steps}"})
        out.append(
            {"series": _suffix(hist["series"], "_count"), "values": f"0+{_num(per_step)}x{steps}"}
        )
    for extra in block.get("extra_series") or []:
        out.append({"series": extra["series"], "values": str(extra["values"])})
    if not out:
        raise BracketError(f"{block['alert']}: `input` has no gauges, counters, histogram or raw")
    return out


def _expected(block: dict[str, Any], fires: list[Any]) -> list[dict[str, Any]]:
    samples = []
    for item in fires:
        extra = {"severity": item} if isinstance(item, str) else dict(item)
        labels = {
            "alertname": block["alert"],
            "alertstate": "firing",
            **(block.get("labels") or {}),
            **extra,
        }
        inner = ", ".join(f'{k}="{val}"' for k, val in sorted(labels.items()))
        samples.append({"labels": f"ALERTS{{{inner}}}", "value": 1})
    return samples


def load_specs(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    base = Path(root) / BRACKETS_DIR
    out = []
    for path in sorted(base.glob("*.yaml")) if base.is_dir() else []:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise BracketError(f"{path.name}: not valid YAML ({err})") from err
        if not isinstance(doc, dict) or "rule_file" not in doc or "alerts" not in doc:
            raise BracketError(f"{path.name}: needs `rule_file` and `alerts`")
        out.append((path, doc))
    return out


def _test_doc(doc: dict[str, Any], where: str) -> dict[str, Any]:
    tests = []
    for block in doc["alerts"]:
        alert = block.get("alert", "?")
        try:
            interval = str(block.get("interval", "1m"))
            interval_s = duration_seconds(interval)
            eval_time = str(block["eval_time"])
            steps = int(duration_seconds(eval_time) // interval_s) + 1
            for point in block["points"]:
                v = point["v"]
                fires = list(point.get("fires") or [])
                what = ", ".join(
                    f if isinstance(f, str) else ",".join(f"{k}={x}" for k, x in f.items())
                    for f in fires
                )
                tests.append(
                    {
                        "name": f"bracket: {alert} at {v} -> {what or 'quiet'}",
                        "interval": interval,
                        "input_series": _inputs(block, v, steps, interval_s),
                        "promql_expr_test": [
                            {
                                "expr": f'ALERTS{{alertname="{alert}"}}',
                                "eval_time": eval_time,
                                "exp_samples": _expected(block, fires),
                            }
                        ],
                    }
                )
        except (KeyError, TypeError) as err:
            raise BracketError(f"{where}: alert {alert}: missing or bad key {err}") from err
    return {
        "rule_files": [f"../rules/{doc['rule_file']}"],
        "evaluation_interval": str(doc.get("evaluation_interval", "1m")),
        "tests": tests,
    }


def bracket_tests(root: Path, out_dir: Path) -> list[Path]:
    """Write one promtool test file per bracket spec (`brackets-<name>.yaml`) into
    `out_dir` and return their paths."""
    written = []
    for path, doc in load_specs(root):
        if not doc["alerts"]:
            continue
        test = _test_doc(doc, f"{BRACKETS_DIR}/{path.name}")
        dst = Path(out_dir) / f"brackets-{path.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(yaml.safe_dump(test, sort_keys=False, width=1000), encoding="utf-8")
        written.append(dst)
    return written


@dataclass(frozen=True)
class _Key:
    alert: str
    labels: tuple[tuple[str, str], ...]

    def text(self) -> str:
        return self.alert + "{" + ", ".join(f"{k}={v}" for k, v in self.labels) + "}"


def _rule_key(rule: dict[str, Any]) -> _Key:
    return _Key(rule["alert"], tuple(sorted((rule.get("labels") or {}).items())))


def coverage_problems(root: Path, groups: list[dict[str, Any]]) -> list[str]:
    """Alert rules (alertname + static labels: severity, reason, SLO windows) that no
    bracket point fires, or that no point leaves quiet. `Watchdog`-style rules without a
    threshold (severity `none`) are exempt."""
    fired: set[_Key] = set()
    quiet: set[_Key] = set()
    alerts_seen: set[str] = set()
    blocks: dict[str, list[dict[str, Any]]] = {}
    exempt: dict[str, str] = {}
    for path, doc in load_specs(root):
        for block in doc["alerts"]:
            blocks.setdefault(block["alert"], []).append(block)
        for name, reason in (doc.get("exempt") or {}).items():
            if not str(reason or "").strip():
                raise BracketError(f"{path.name}: exempt {name} needs a reason")
            exempt[name] = str(reason)
    rules = [r for g in groups for r in g["rules"] if "alert" in r]
    for rule in rules:
        key = _rule_key(rule)
        alerts_seen.add(key.alert)
        labels = dict(key.labels)
        for block in blocks.get(key.alert, []):
            for point in block["points"]:
                hit = False
                for item in point.get("fires") or []:
                    extra = {"severity": item} if isinstance(item, str) else dict(item)
                    got = {**(block.get("labels") or {}), **extra}
                    if all(str(got.get(k)) == str(val) for k, val in labels.items()):
                        hit = True
                (fired if hit else quiet).add(key)
    out = []
    for rule in rules:
        key = _rule_key(rule)
        if dict(key.labels).get("severity") == "none" or key.alert in exempt:
            continue
        if key not in fired:
            out.append(f"{key.text()}: no bracket point fires it")
        if key not in quiet:
            out.append(f"{key.text()}: no bracket point just below its threshold keeps it quiet")
    return list(dict.fromkeys(out))
