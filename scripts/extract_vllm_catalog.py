#!/usr/bin/env python3
"""Extract the Prometheus metric catalog of a released vLLM from its wheel's source.

    python scripts/extract_vllm_catalog.py 0.7.3 0.10.1 0.26.0 0.33.0 [--max-model-len 8192]

For each version: `pip download vllm==X --no-deps` into a temporary directory, open the
wheel as a zip, parse (never import) the stat logger source with `ast`, and write
`observability/metrics/data/vllm-<X>.json` in the format documented in
`observability/metrics/catalog.py`. The wheel is deleted afterwards.

    --vendor DIR   also copy every file read into DIR/<wheel>/<path>, listed in DIR/SOURCES
    --sources DIR  read those vendored files instead of downloading (the pinning test)

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
(its `metrics_info()` is `self.__dict__`), read from the class source.

V1 families defined outside loggers.py are read too (`helper_families`): every `*Prom`
helper class PrometheusStatLogger names (`_spec_decoding_cls`: vllm/v1/spec_decode/
metrics.py; `_perf_metrics_cls`: vllm/v1/metrics/perf.py, the MFU counters;
`_kv_connector_cls`, ...) and every KV connector's `KVConnectorPromMetrics` subclass,
each family with its `source`; a class whose names cannot be read statically is listed
under `unread`.
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


class SourceTree:
    """The files of a released wheel, read from the wheel itself or from the vendored
    copy (`tests/fixtures/vllm-sources/<wheel name>/`). `label` is the wheel's file name,
    which the catalog's `source` fields cite either way. Every path read is recorded, so
    `--vendor` copies exactly what the extraction used."""

    def __init__(self, label: str, names: set[str], reader: Any) -> None:
        self.label = label
        self.names = names
        self._reader = reader
        self.read_paths: list[str] = []

    @classmethod
    def wheel(cls, path: Path) -> SourceTree:
        zf = zipfile.ZipFile(path)
        return cls(path.name, set(zf.namelist()), zf.read)

    @classmethod
    def directory(cls, path: Path) -> SourceTree:
        names = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
        return cls(path.name, names, lambda n: (path / n).read_bytes())

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise SystemExit(f"error: {name} is not in {self.label}")
        if name not in self.read_paths:
            self.read_paths.append(name)
        return self._reader(name)

    def peek(self, name: str) -> bytes:
        """Read without recording (a scan that looks at every file)."""
        return self._reader(name)

    def parse(self, name: str) -> ast.Module:
        return ast.parse(self.read(name).decode())


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
    """Visit statements in order: track local assignments, collect metric constructors.
    `if <cond>: return` guards the statements after it (`not (<cond>)`); a comprehension
    over a literal list of tuples (spec decoding's `for name, doc in counter_specs`) makes
    one family per element."""
    conditions = list(conditions)
    for stmt in stmts:
        if not _comprehension_families(stmt, ev, conditions, out):
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
            if stmt.body and isinstance(stmt.body[-1], ast.Return) and not stmt.orelse:
                conditions.append(
                    cond.removeprefix("not ") if cond.startswith("not ") else f"not ({cond})"
                )
                continue
            walk_metrics(stmt.body, ev, [*conditions, cond], out)
            walk_metrics(stmt.orelse, ev, [*conditions, f"not ({cond})"], out)
        elif isinstance(stmt, ast.For | ast.With | ast.Try):
            walk_metrics(stmt.body, ev, conditions, out)


def _comprehension_families(
    stmt: ast.stmt, ev: Evaluator, conditions: list[str], out: list[dict[str, Any]]
) -> bool:
    """Families made in a comprehension over a list the evaluator knows; False if none."""
    if isinstance(stmt, ast.If | ast.For | ast.With | ast.Try | ast.FunctionDef):
        return False
    for node in ast.walk(stmt):
        if not isinstance(node, ast.ListComp | ast.GeneratorExp) or len(node.generators) != 1:
            continue
        gen = node.generators[0]
        calls = _metric_calls(ast.Expr(node.elt))
        if not calls:
            continue
        try:
            items = ev.eval(gen.iter)
        except Unresolved:
            return False
        names = [e.id for e in getattr(gen.target, "elts", [gen.target]) if isinstance(e, ast.Name)]
        saved = {n: ev.env.get(n) for n in names}
        for item in items:
            ev.env.update(zip(names, item if len(names) > 1 else [item], strict=True))
            out.extend(_family(call, ev, conditions) for call in calls)
        ev.env.update(saved)
        return True
    return False


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


def instrumentator_requirement(src: SourceTree) -> str | None:
    """The instrumentator requirement, if the API server really mounts `Instrumentator(`."""
    servers = sorted(
        n for n in src.names if n.startswith("vllm/entrypoints/") and n.endswith(".py")
    )
    mounts = [n for n in servers if b"Instrumentator(" in src.peek(n)]
    api_server = "vllm/entrypoints/openai/api_server.py"
    if api_server in src.names:
        src.read(api_server)  # vendored either way: where the mount was (or is absent)
    if not mounts:
        return None  # e.g. 0.7.3 depends on the package but never instruments the app
    for n in mounts:
        src.read(n)
    meta = next(n for n in sorted(src.names) if n.endswith(".dist-info/METADATA"))
    for line in src.read(meta).decode().splitlines():
        req = line.removeprefix("Requires-Dist: ").split(";")[0].strip()
        if line.startswith("Requires-Dist:") and req.replace("_", "-").startswith(_PFI):
            return req.replace(" ", "")
    return None


def http_families(pfi: SourceTree, max_model_len: int) -> list[dict[str, Any]]:
    """HTTP families vLLM's API server gets from `Instrumentator().add()` (= default())."""
    tree = pfi.parse("prometheus_fastapi_instrumentator/metrics.py")
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
        fam["source"] = f"{pfi.label}: metrics.default()"
    return fams


# What PrometheusStatLogger passes its helpers as `labelnames` (V1).
HELPER_LABELS = ["model_name", "engine"]
KV_BASE = "KVConnectorPromMetrics"


def _imports(tree: ast.Module) -> dict[str, str]:
    """Imported name -> module (`from vllm.v1.metrics.perf import PerfMetricsProm`)."""
    return {
        a.asname or a.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for a in node.names
    }


def _module_path(src: SourceTree, module: str) -> str | None:
    base = module.replace(".", "/")
    return next((p for p in (f"{base}.py", f"{base}/__init__.py") if p in src.names), None)


def _class_families(
    src: SourceTree, path: str, cls: str, max_model_len: int, condition: str | None
) -> list[dict[str, Any]]:
    mod = src.parse(path)
    env = module_env(mod, max_model_len)
    if "vllm/v1/metrics/buckets.py" in src.names:
        env.update(module_env(src.parse("vllm/v1/metrics/buckets.py"), max_model_len))
    ev = Evaluator(env, max_model_len)
    ev.classes = (cls,)
    ev.env["labelnames"] = list(HELPER_LABELS)
    ev.pinned.add("labelnames")
    fams: list[dict[str, Any]] = []
    walk_metrics(
        find_function(mod, cls, "__init__").body, ev, [condition] if condition else [], fams
    )
    for fam in fams:
        fam["source"] = f"{path}: {cls}"
    return fams


def helper_families(
    src: SourceTree, loggers: ast.Module, max_model_len: int, unread: list[str]
) -> list[dict[str, Any]]:
    """V1 families outside loggers.py: the `*Prom` helpers PrometheusStatLogger builds
    (`_spec_decoding_cls = SpecDecodingProm`, `_perf_metrics_cls = PerfMetricsProm`, ...)
    and every KV connector's `KVConnectorPromMetrics` subclass (registered only with
    that connector in --kv-transfer-config). A class whose names cannot be read statically
    is listed in `unread`."""
    imports = _imports(loggers)
    stat_logger = next(
        n for n in loggers.body if isinstance(n, ast.ClassDef) and n.name == "PrometheusStatLogger"
    )
    out: list[dict[str, Any]] = []
    for stmt in stat_logger.body:
        if not (
            isinstance(stmt, ast.Assign)
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id.endswith("Prom")
            and stmt.value.id in imports
        ):
            continue
        cls = stmt.value.id
        path = _module_path(src, imports[cls])
        if path is None:
            unread.append(f"{imports[cls]}.{cls}")
            continue
        try:
            out += _class_families(src, path, cls, max_model_len, None)
        except (Unresolved, SystemExit):
            unread.append(f"{path}: {cls}")
    marker = f"({KV_BASE})".encode()
    for path in sorted(n for n in src.names if n.startswith("vllm/") and n.endswith(".py")):
        if marker not in src.peek(path):
            continue
        for node in src.parse(path).body:
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(b).endswith(KV_BASE) for b in node.bases
            ):
                cond = f"kv_transfer_config.kv_connector uses {path}"
                try:
                    out += _class_families(src, path, node.name, max_model_len, cond)
                except (Unresolved, SystemExit, KeyError):
                    unread.append(f"{path}: {node.name}")
    return out


def extract(src: SourceTree, version: str, max_model_len: int) -> dict[str, Any]:
    names = src.names
    v0 = version.startswith("0.7.")
    if v0:
        path = "vllm/engine/metrics.py"
        tree = src.parse(path)
        env = module_env(tree, max_model_len)
        funcs = [find_function(tree, "Metrics", "__init__")]
        info = find_function(tree, "PrometheusStatLogger", "info")
        labelnames: list[str] = ["model_name"]  # PrometheusStatLogger(labels={model_name})
    else:
        path = "vllm/v1/metrics/loggers.py"
        tree = src.parse(path)
        env = module_env(tree, max_model_len)
        if "vllm/v1/metrics/buckets.py" in names:
            env.update(module_env(src.parse("vllm/v1/metrics/buckets.py"), max_model_len))
        funcs = [find_function(tree, "PrometheusStatLogger", "__init__")]
        info = find_function(tree, "PrometheusStatLogger", "log_metrics_info")
        labelnames = []
    cfg_path = next(
        p
        for p in ("vllm/config/cache.py", "vllm/config.py", "vllm/config/__init__.py")
        if p in names and b"class CacheConfig" in src.peek(p)
    )
    cache_fields = cache_config_fields(src.parse(cfg_path))

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

    unread: list[str] = []
    if not v0:
        families += helper_families(src, tree, max_model_len, unread)

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
        "source": f"{src.label}: {path} (parsed with ast by scripts/extract_vllm_catalog.py)",
        "max_model_len": max_model_len,
        "families": unique,
        **({"unread": unread} if unread else {}),
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


def build_catalog(
    src: SourceTree, version: str, max_model_len: int, pfi_for: Any
) -> tuple[dict[str, Any], list[SourceTree]]:
    """The catalog of one vLLM version and the source trees it read (vLLM, instrumentator).
    `pfi_for(requirement)` returns the instrumentator's tree."""
    catalog = extract(src, version, max_model_len)
    trees = [src]
    req = instrumentator_requirement(src)
    if req:
        pfi = pfi_for(req)
        catalog["families"] += http_families(pfi, max_model_len)
        catalog["http_source"] = f"{req} resolved to {pfi.label}"
        trees.append(pfi)
    return catalog, trees


SOURCES_HEADER = """\
# Files of released wheels that scripts/extract_vllm_catalog.py reads to build
# observability/metrics/data/vllm-<version>.json, copied unmodified from the wheels on
# PyPI (`pip download vllm==<version> --no-deps`; the instrumentator wheel its
# requirement resolved to). One line per file:
# <catalog version> <wheel file> <path inside the wheel> <sha256 of the file>
# Regenerate: python scripts/extract_vllm_catalog.py 0.7.3 0.10.1 0.26.0 0.33.0 --vendor DIR
# Check: python scripts/extract_vllm_catalog.py 0.7.3 0.10.1 0.26.0 0.33.0 --sources DIR --out OUT
"""


def read_sources(base: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (base / "SOURCES").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            version, wheel, path, sha = line.split()
            rows.append((version, wheel, path, sha))
    return rows


def vendored_trees(base: Path, version: str) -> tuple[SourceTree, dict[str, SourceTree]]:
    rows = [r for r in read_sources(base) if r[0] == version]
    wheels = list(dict.fromkeys(r[1] for r in rows))
    vllm = [w for w in wheels if w.startswith(f"vllm-{version}-")]
    if len(vllm) != 1:
        raise SystemExit(f"error: SOURCES lists no vLLM {version} wheel under {base}")
    others = {w: SourceTree.directory(base / w) for w in wheels if w not in vllm}
    return SourceTree.directory(base / vllm[0]), others


def vendor(base: Path, version: str, trees: list[SourceTree]) -> list[str]:
    """Copy every file the extraction read into base/<wheel>/<path>; SOURCES lines."""
    import hashlib

    lines = []
    for tree in trees:
        for name in tree.read_paths:
            data = tree.peek(name)
            dst = base / tree.label / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            sha = hashlib.sha256(data).hexdigest()
            lines.append(f"{version} {tree.label} {name} {sha}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("versions", nargs="*", help="vLLM versions, e.g. 0.7.3 0.33.0")
    ap.add_argument("--dcgm-csv", type=Path, help="dcgm-exporter etc/default-counters.csv")
    ap.add_argument("--dcgm-ref", default="4.5.3-4.8.2", help="dcgm-exporter tag of that csv")
    ap.add_argument("--max-model-len", type=int, default=8192)
    ap.add_argument("--wheel-dir", type=Path, help="use wheels already here (no download)")
    ap.add_argument("--sources", type=Path, help="read the vendored wheel files here (no download)")
    ap.add_argument("--vendor", type=Path, help="also copy the files read here, with SOURCES")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dcgm_csv:
        cat = dcgm_catalog(args.dcgm_csv.read_text(), args.dcgm_ref)
        (args.out / "dcgm-default-counters.json").write_text(json.dumps(cat, indent=1) + "\n")
        print(f"dcgm-default-counters.json: {len(cat['families'])} families")
    vendored: list[str] = []
    for version in args.versions:
        with tempfile.TemporaryDirectory(prefix="vllm-wheel-") as tmp:
            if args.sources:
                src, others = vendored_trees(args.sources, version)

                def pfi_for(req: str, others: dict[str, SourceTree] = others) -> SourceTree:
                    if len(others) != 1:
                        raise SystemExit(f"error: SOURCES lists no single wheel for {req}")
                    return next(iter(others.values()))
            else:
                if args.wheel_dir:
                    wheel = next(args.wheel_dir.glob(f"vllm-{version}-*.whl"))
                else:
                    wheel = download(version, Path(tmp))
                src = SourceTree.wheel(wheel)

                def pfi_for(req: str, tmp: str = tmp) -> SourceTree:
                    return SourceTree.wheel(download_spec(req, Path(tmp) / "pfi"))

            catalog, trees = build_catalog(src, version, args.max_model_len, pfi_for)
            if args.vendor:
                vendored += vendor(args.vendor, version, trees)
        target = args.out / f"vllm-{version}.json"
        target.write_text(json.dumps(catalog, indent=1) + "\n")
        print(f"{target.name}: {len(catalog['families'])} families")
    if args.vendor:
        (args.vendor / "SOURCES").write_text(SOURCES_HEADER + "\n".join(vendored) + "\n")
        print(f"{args.vendor / 'SOURCES'}: {len(vendored)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
