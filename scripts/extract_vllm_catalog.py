#!/usr/bin/env python3
"""Extract the Prometheus metric catalog of a released vLLM from its wheel's source.

    python scripts/extract_vllm_catalog.py 0.7.3 0.10.1 0.33.0 [--max-model-len 8192]

For each version: `pip download vllm==X --no-deps` into a temporary directory, open the
wheel as a zip, parse (never import) the stat logger source with `ast`, and write
`observability/metrics/data/vllm-<X>.json` in the format documented in
`observability/metrics/catalog.py`. The wheel is deleted afterwards.

What is read:
- V0 engine (0.7.x, the default engine there): class `Metrics` in `vllm/engine/metrics.py`
  plus the `vllm:cache_config_info` gauge created in `PrometheusStatLogger.info`.
- V1 engine (>= 0.8): `PrometheusStatLogger.__init__` and `log_metrics_info` in
  `vllm/v1/metrics/loggers.py`, bucket helpers from the same module or
  `vllm/v1/metrics/buckets.py`.

Families created behind a condition (LoRA, speculative decoding, env flags) carry that
condition as `condition` (source text) and `default: false`. Histograms whose buckets
depend on `max_model_len` store the rule (`buckets_rule`) and the values for
`--max-model-len`. `cache_config_info` label names are the `CacheConfig` attributes
(its `metrics_info()` is `self.__dict__`), read from the class source. Spec-decoding,
KV-connector and MFU families live in other modules and are not extracted (all are off
unless their feature is configured).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent.parent / "observability" / "metrics" / "data"
_KIND = {"_gauge_cls": "gauge", "_counter_cls": "counter", "_histogram_cls": "histogram"}
_KIND.update({"Gauge": "gauge", "Counter": "counter", "Histogram": "histogram"})
_KIND["Summary"] = "summary"
_PFI = "prometheus-fastapi-instrumentator"


class Unresolved(Exception):
    pass


def build_buckets(mantissas: list[int], max_value: int) -> list[float]:
    """vLLM's build_buckets: mantissa x 10**k while <= max_value."""
    out: list[float] = []
    exp = 0
    while True:
        for m in mantissas:
            value = m * 10**exp
            if value > max_value:
                return out
            out.append(value)
        exp += 1


class Evaluator:
    """Evaluates the small expression language vLLM uses for metric arguments."""

    def __init__(self, module_env: dict[str, Any], max_model_len: int) -> None:
        self.env = dict(module_env)
        self.max_model_len = max_model_len
        self.rule: str | None = None
        self.classes: tuple[str, ...] = ()
        self.notes: dict[str, str] = {}
        self.pinned: set[str] = set()

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            return [self.eval(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.eval(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.eval(node.left), self.eval(node.right)
            return list(left) + list(right) if isinstance(left, list | tuple) else left + right
        if isinstance(node, ast.JoinedStr):
            raise Unresolved(ast.unparse(node))
        if isinstance(node, ast.Name):
            if node.id == "max_model_len":
                return self.max_model_len
            if node.id in self.env:
                return self.env[node.id]
            raise Unresolved(node.id)
        # class constants such as self.labelname_finish_reason / Metrics.labelname_...
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in ("self", *self.classes)
            and node.attr in self.env
        ):
            return self.env[node.attr]
        if isinstance(node, ast.Call):
            return self._call(node)
        raise Unresolved(ast.unparse(node))

    def _call(self, node: ast.Call) -> Any:
        fname = ast.unparse(node.func)
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        if fname == "build_1_2_5_buckets":
            self.rule = f"build_1_2_5_buckets({ast.unparse(node.args[0])})"
            return build_buckets([1, 2, 5], args[0])
        if fname == "build_1_2_3_5_8_buckets":
            self.rule = f"build_1_2_3_5_8_buckets({ast.unparse(node.args[0])})"
            return build_buckets([1, 2, 3, 5, 8], args[0])
        if fname == "histogram_buckets":
            family = args[0]
            if family == "request_tokens":
                self.rule = "histogram_buckets('request_tokens', max_model_len)"
                return build_buckets([1, 2, 5], self.max_model_len)
            self.rule = f"histogram_buckets({family!r})"
            return list(self.env["_STATIC_FAMILY_DEFAULTS"][family])
        if fname in ("list", "tuple", "sorted") and len(args) == 1:
            return list(args[0]) if fname != "sorted" else sorted(args[0])
        del kwargs
        raise Unresolved(fname)


def module_env(tree: ast.Module, max_model_len: int) -> dict[str, Any]:
    """Top-level constants of a module and its classes (values we can evaluate)."""
    ev = Evaluator({}, max_model_len)
    body = list(tree.body)
    body += [s for c in tree.body if isinstance(c, ast.ClassDef) for s in c.body]
    for stmt in body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        if value is None:
            continue
        if isinstance(value, ast.Dict):
            with contextlib.suppress(Unresolved):
                ev.env[targets[0].id] = {  # type: ignore[attr-defined]
                    ev.eval(k): ev.eval(v)
                    for k, v in zip(value.keys, value.values, strict=True)
                    if k is not None
                }
            continue
        for t in targets:
            if isinstance(t, ast.Name):
                with contextlib.suppress(Unresolved):
                    ev.env[t.id] = ev.eval(value)
    return ev.env


def find_function(tree: ast.Module, cls: str, func: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == func:
                    return item
    raise SystemExit(f"error: {cls}.{func} not found in the wheel source")


def walk_metrics(
    stmts: list[ast.stmt], ev: Evaluator, conditions: list[str], out: list[dict[str, Any]]
) -> None:
    """Visit statements in order: track local assignments, collect metric constructors."""
    for stmt in stmts:
        for call in _metric_calls(stmt):
            out.append(_family(call, ev, conditions))
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and isinstance(stmt.value, ast.Constant)
            ):
                ev.env[target.attr] = stmt.value.value  # self.labelname_x = "x"
            if isinstance(target, ast.Name) and target.id in ev.pinned:
                pass  # a value fixed by the caller (how vLLM calls this code)
            elif isinstance(target, ast.Name) and not _metric_calls(stmt):
                try:
                    ev.rule = None
                    ev.env[target.id] = ev.eval(stmt.value)
                    ev.notes.pop(target.id, None)
                    if ev.rule and "max_model_len" in ev.rule:
                        ev.notes[target.id] = ev.rule
                except Unresolved:
                    # e.g. V0 iteration_tokens: literal list unless cudagraphs are on; keep
                    # the literal and note the override.
                    if target.id in ev.env and conditions:
                        ev.notes[target.id] = (
                            f"when {' and '.join(conditions)}: {ast.unparse(stmt.value)}"
                        )
                    else:
                        ev.env.pop(target.id, None)
        if isinstance(stmt, ast.If):
            cond = ast.unparse(stmt.test)
            walk_metrics(stmt.body, ev, [*conditions, cond], out)
            walk_metrics(stmt.orelse, ev, [*conditions, f"not ({cond})"], out)
        elif isinstance(stmt, ast.For | ast.With | ast.Try):
            walk_metrics(stmt.body, ev, conditions, out)


def _metric_calls(stmt: ast.stmt) -> list[ast.Call]:
    if isinstance(stmt, ast.If | ast.For | ast.With | ast.Try | ast.FunctionDef):
        return []
    calls = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call):
            fn = node.func
            attr = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if attr in _KIND and any(k.arg == "name" for k in node.keywords):
                calls.append(node)
    return calls


def _family(call: ast.Call, ev: Evaluator, conditions: list[str]) -> dict[str, Any]:
    fn = call.func
    kind = _KIND[fn.attr if isinstance(fn, ast.Attribute) else fn.id]  # type: ignore[attr-defined]
    kw = {k.arg: k.value for k in call.keywords}
    name = ev.eval(kw["name"])
    fam: dict[str, Any] = {
        "name": name + "_total" if kind == "counter" and not name.endswith("_total") else name,
        "type": kind,
        "help": ev.eval(kw["documentation"]),
        "labels": None,
        "buckets": None,
    }
    labels_node = kw.get("labelnames")
    if labels_node is not None and ast.unparse(labels_node) == "metrics_info.keys()":
        fam["labels_from"] = "CacheConfig.metrics_info() keys"
    elif labels_node is not None:
        fam["labels"] = [str(x) for x in ev.eval(labels_node)]
    else:
        fam["labels"] = []
    if kind == "histogram":
        ev.rule = None
        fam["buckets"] = [_num(b) for b in ev.eval(kw["buckets"])] if "buckets" in kw else None
        if ev.rule and "max_model_len" in ev.rule:
            fam["buckets_rule"] = ev.rule
        bnode = kw.get("buckets")
        if isinstance(bnode, ast.Name) and bnode.id in ev.notes:
            note = ev.notes[bnode.id]
            fam["buckets_rule"] = (
                note
                if note.startswith("histogram_buckets")
                else (f"{ast.unparse(bnode)} (default shown); {note}")
            )
    cond = [c for c in conditions if c]
    fam["condition"] = " and ".join(cond) if cond else None
    fam["default"] = not cond
    return fam


def _num(x: Any) -> float | int:
    return int(x) if float(x).is_integer() and not isinstance(x, float) else float(x)


def cache_config_fields(tree: ast.Module) -> list[str]:
    """Attribute names of CacheConfig: dataclass fields, then `self.x = ...` assignments."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "CacheConfig":
            names: list[str] = []
            for item in node.body:
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and "ClassVar" not in ast.unparse(item.annotation)
                    and not item.target.id.startswith("_")
                ):
                    names.append(item.target.id)
            for sub in ast.walk(node):
                if isinstance(sub, ast.Assign | ast.AnnAssign):
                    targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                    for t in targets:
                        if (
                            isinstance(t, ast.Attribute)
                            and isinstance(t.value, ast.Name)
                            and t.value.id == "self"
                            and t.attr not in names
                        ):
                            names.append(t.attr)
            return names
    raise SystemExit("error: CacheConfig not found in the wheel source")


def instrumentator_requirement(wheel: Path) -> str | None:
    """The instrumentator requirement, if the API server really mounts `Instrumentator(`."""
    with zipfile.ZipFile(wheel) as zf:
        servers = [n for n in zf.namelist() if n.startswith("vllm/entrypoints/")]
        if not any(n.endswith(".py") and b"Instrumentator(" in zf.read(n) for n in servers):
            return None  # e.g. 0.7.3 depends on the package but never instruments the app
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        for line in zf.read(meta).decode().splitlines():
            req = line.removeprefix("Requires-Dist: ").split(";")[0].strip()
            if line.startswith("Requires-Dist:") and req.replace("_", "-").startswith(_PFI):
                return req.replace(" ", "")
    return None


def http_families(pfi_wheel: Path, max_model_len: int) -> list[dict[str, Any]]:
    """HTTP families vLLM's API server gets from `Instrumentator().add()` (= default())."""
    with zipfile.ZipFile(pfi_wheel) as zf:
        tree = _read(zf, "prometheus_fastapi_instrumentator/metrics.py")
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "default")
    ev = Evaluator({}, max_model_len)
    params = fn.args.args[-len(fn.args.defaults) :]
    for arg, default in zip(params, fn.args.defaults, strict=True):
        with contextlib.suppress(Unresolved):
            ev.env[arg.arg] = ev.eval(default)
    ev.env["additional_label_names"] = []  # vLLM passes no custom_labels
    ev.pinned.add("additional_label_names")
    fams: list[dict[str, Any]] = []
    walk_metrics(fn.body, ev, [], fams)
    for fam in fams:
        fam.pop("buckets_rule", None)  # the +Inf append; exposition adds +Inf anyway
        fam["source"] = f"{pfi_wheel.name}: metrics.default()"
    return fams


def _read(zf: zipfile.ZipFile, path: str) -> ast.Module:
    return ast.parse(zf.read(path).decode())


def extract(wheel: Path, version: str, max_model_len: int) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        v0 = version.startswith("0.7.")
        if v0:
            path = "vllm/engine/metrics.py"
            tree = _read(zf, path)
            env = module_env(tree, max_model_len)
            funcs = [find_function(tree, "Metrics", "__init__")]
            info = find_function(tree, "PrometheusStatLogger", "info")
            labelnames: list[str] = ["model_name"]  # PrometheusStatLogger(labels={model_name})
        else:
            path = "vllm/v1/metrics/loggers.py"
            tree = _read(zf, path)
            env = module_env(tree, max_model_len)
            if "vllm/v1/metrics/buckets.py" in names:
                env.update(module_env(_read(zf, "vllm/v1/metrics/buckets.py"), max_model_len))
            funcs = [find_function(tree, "PrometheusStatLogger", "__init__")]
            info = find_function(tree, "PrometheusStatLogger", "log_metrics_info")
            labelnames = []
        cfg_path = next(
            p
            for p in ("vllm/config/cache.py", "vllm/config.py", "vllm/config/__init__.py")
            if p in names and b"class CacheConfig" in zf.read(p)
        )
        cache_fields = cache_config_fields(_read(zf, cfg_path))

    families: list[dict[str, Any]] = []
    ev = Evaluator(env, max_model_len)
    ev.classes = ("Metrics", "PrometheusStatLogger")
    if v0:
        ev.env["labelnames"] = labelnames
    for fn in funcs:
        walk_metrics(fn.body, ev, [], families)
    info_fams: list[dict[str, Any]] = []
    ev.env["name"] = "vllm:cache_config_info"  # `name = "vllm:cache_config_info"` branch
    walk_metrics(info.body, ev, [], info_fams)
    for fam in info_fams:
        fam["labels"] = cache_fields + ([] if v0 else ["engine"])
        fam["condition"], fam["default"] = None, True
        families.append(fam)

    seen: set[str] = set()
    unique = []
    for fam in families:
        if fam["name"] not in seen:
            seen.add(fam["name"])
            unique.append(fam)
    return {
        "exporter": "vllm",
        "version": version,
        "engine": "V0" if v0 else "V1",
        "source": f"{wheel.name}: {path} (parsed with ast by scripts/extract_vllm_catalog.py)",
        "max_model_len": max_model_len,
        "families": unique,
    }


_DCGM_LABELS = ["gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"]
_UNIT_RE = r"\(in ([^)]+)\)"


def dcgm_catalog(csv_text: str, ref: str) -> dict[str, Any]:
    """dcgm-exporter's etc/default-counters.csv -> catalog (label-type rows become labels)."""
    import re

    families, label_fields = [], []
    for raw in csv_text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        field, kind, help_text = (x.strip() for x in line.split(",", 2))
        if kind == "label":
            label_fields.append(field)
            continue
        unit = re.search(_UNIT_RE, help_text)
        families.append(
            {
                "name": field,
                "type": kind,
                "help": help_text,
                "labels": None,
                "buckets": None,
                "unit": unit.group(1) if unit else None,
            }
        )
    for fam in families:
        fam["labels"] = _DCGM_LABELS + label_fields
    return {
        "exporter": "dcgm-exporter",
        "version": ref,
        "source": f"NVIDIA/dcgm-exporter@{ref}: etc/default-counters.csv; label order from "
        "internal/pkg/rendermetrics/render_metrics.go",
        "pod_labels": ["container", "namespace", "pod"],
        "families": families,
    }


def download_spec(spec: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "-q", "-d", str(dest)]
    subprocess.run(cmd, check=True)
    return sorted(dest.glob("*.whl"))[0]


def download(version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", f"vllm=={version}", "--no-deps", "-q"]
    subprocess.run([*cmd, "-d", str(dest)], check=True)
    wheels = sorted(dest.glob(f"vllm-{version}-*.whl"))
    if not wheels:
        raise SystemExit(f"error: pip downloaded no wheel for vllm=={version}")
    return wheels[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("versions", nargs="*", help="vLLM versions, e.g. 0.7.3 0.33.0")
    ap.add_argument("--dcgm-csv", type=Path, help="dcgm-exporter etc/default-counters.csv")
    ap.add_argument("--dcgm-ref", default="4.5.3-4.8.2", help="dcgm-exporter tag of that csv")
    ap.add_argument("--max-model-len", type=int, default=8192)
    ap.add_argument("--wheel-dir", type=Path, help="use wheels already here (no download)")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dcgm_csv:
        cat = dcgm_catalog(args.dcgm_csv.read_text(), args.dcgm_ref)
        (args.out / "dcgm-default-counters.json").write_text(json.dumps(cat, indent=1) + "\n")
        print(f"dcgm-default-counters.json: {len(cat['families'])} families")
    for version in args.versions:
        with tempfile.TemporaryDirectory(prefix="vllm-wheel-") as tmp:
            if args.wheel_dir:
                wheel = next(args.wheel_dir.glob(f"vllm-{version}-*.whl"))
            else:
                wheel = download(version, Path(tmp))
            catalog = extract(wheel, version, args.max_model_len)
            req = instrumentator_requirement(wheel)
            if req:
                pfi = download_spec(req, Path(tmp) / "pfi")
                catalog["families"] += http_families(pfi, args.max_model_len)
                catalog["http_source"] = f"{req} resolved to {pfi.name}"
        target = args.out / f"vllm-{version}.json"
        target.write_text(json.dumps(catalog, indent=1) + "\n")
        print(f"{target.name}: {len(catalog['families'])} families")
    return 0


if __name__ == "__main__":
    sys.exit(main())
