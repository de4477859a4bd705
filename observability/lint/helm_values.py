"""Helm values, checked against the pinned charts' own defaults (vendored in lint/helm/).

Helm renders a chart with the chart's `values.yaml` coalesced with ours: our keys win,
maps merge, lists replace, and `null` deletes a default. So a value we never set still
applies (dcgm-exporter's default 200m CPU limit, its `system-node-critical` priority
class), and a misspelt key is silently ignored. For every Helm Application this check:

1. fails on any values key that does not exist in the pinned chart's defaults (free-form
   maps, i.e. an empty `{}` or `null` default, and lists accept anything). Charts document
   some keys only as a comment (`# priorityClassName: ""` in grafana, kube-state-metrics,
   node-exporter and the Prometheus operator): a `# key:` line at a mapping's indentation
   counts as that mapping's key, free-form below;
2. computes the effective values with Helm's coalescing rules and checks them against
   bundle.yaml: no CPU limit anywhere (the bundle requests CPU and never limits it) and
   every `priorityClassName` equal to `resources.priority_class_name` (or unset).

Subcharts (grafana, kube-state-metrics, prometheus-node-exporter) are nested under their
names in the parent's values, as Helm nests them.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from observability.config import BundleConfig
from observability.lint.findings import Finding

__all__ = [
    "SUBCHARTS",
    "chart_defaults",
    "chart_keys",
    "check",
    "coalesce",
    "commented_keys",
    "effective_problems",
    "unknown_keys",
]

# chart -> {values key of the subchart: (subchart, version)} (KPS 88.5.3 Chart.yaml).
SUBCHARTS: dict[str, dict[str, tuple[str, str]]] = {
    "kube-prometheus-stack": {
        "grafana": ("grafana", "12.11.1"),
        "kube-state-metrics": ("kube-state-metrics", "8.4.0"),
        "prometheus-node-exporter": ("prometheus-node-exporter", "4.56.1"),
    },
    # llm-d-router's library chart, aliased `router`; every release packages it as 0.0.0
    # (file://../routerlib), so it is vendored under the release's version
    "llm-d-router-gateway": {"router": ("routerlib", "v0.10.0")},
}


def _vendored_text(chart: str, version: str) -> str | None:
    ref = resources.files("observability.lint") / "helm" / f"{chart}-{version}.values.yaml"
    return ref.read_text(encoding="utf-8") if ref.is_file() else None


_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w.-]*):(?P<rest>.*)$")
# `# key:` or `# key: <one scalar>`; `# NOTE: some prose` is a remark, not a key
_COMMENTED_KEY = re.compile(
    r"""^(?P<indent> *)# (?P<key>[A-Za-z_][\w.-]*):(?: +("[^"]*"|'[^']*'|[^\s#'"]+))? *(?:#.*)?$"""
)


def commented_keys(text: str) -> list[tuple[str, ...]]:
    """Paths of keys a values.yaml documents only as `# key: ...`, each at the indentation
    of its mapping's keys (`#   key:` below a commented key is that key's example body).
    Lines inside lists and block scalars are skipped."""
    out: list[tuple[str, ...]] = []
    stack: list[tuple[int, str, bool]] = []  # (indent, key, opens a mapping) of open keys
    opaque_below: int | None = None  # indent of a list item or block scalar's key
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if opaque_below is not None:
            if indent > opaque_below or line.lstrip().startswith("- "):
                continue
            opaque_below = None
        commented = _COMMENTED_KEY.match(line)
        if commented is None and line.lstrip().startswith("#"):
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if commented is not None:
            # under an inline value (`resources: {}` then `  # limits:`) it is an example
            if not stack or stack[-1][2]:
                out.append((*(k for _, k, _ in stack), commented["key"]))
            continue
        if line.lstrip().startswith("- "):
            opaque_below = indent  # keys of list items are not mapping keys of the chart
            continue
        if (m := _KEY_LINE.match(line)) is None:
            continue
        rest = m["rest"].strip()
        if rest.startswith(("|", ">")):
            opaque_below = indent
        stack.append((indent, m["key"], not rest or rest.startswith("#")))
    return out


def _with_commented(values: dict[str, Any], text: str) -> dict[str, Any]:
    """`values` plus every commented key whose mapping exists, as a free-form `{}`."""
    for path in commented_keys(text):
        node: Any = values
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node and path[-1] not in node:
            node[path[-1]] = {}
    return values


@cache
def _chart_values(chart: str, version: str, documented: bool) -> dict[str, Any] | None:
    """The chart's values.yaml with its subcharts' nested under their keys (the parent's
    values for a subchart override the subchart's own defaults); with `documented`, also
    the keys documented only in comments, as free-form maps. None if not vendored."""
    text = _vendored_text(chart, version)
    if text is None:
        return None
    values = yaml.safe_load(text) or {}
    if documented:
        values = _with_commented(values, text)
    for key, (sub, sub_version) in SUBCHARTS.get(chart, {}).items():
        sub_values = _chart_values(sub, sub_version, documented)
        if sub_values is not None:
            parent = values.get(key) or {}
            # A parent's null deletes the subchart's default, but the key stays one the
            # chart knows (llm-d-router-gateway's `router.modelServers:`, its REQUIRED
            # matchLabels documented below it only in a comment).
            values[key] = coalesce(sub_values, _no_nulls(parent) if documented else parent)
    return values


def _no_nulls(values: Any) -> Any:
    if not isinstance(values, dict):
        return values
    return {k: _no_nulls(v) for k, v in values.items() if v is not None}


def chart_keys(chart: str, version: str) -> dict[str, Any] | None:
    """The keys the chart knows at `version`: its defaults plus the keys its values.yaml
    documents in comments (free-form), subcharts nested; None if not vendored. For the
    unknown-key check only: a commented key has no default in effect."""
    return _chart_values(chart, version, documented=True)


def chart_defaults(chart: str, version: str) -> dict[str, Any] | None:
    """The chart's default values at `version` (subcharts nested), None if not vendored."""
    return _chart_values(chart, version, documented=False)


def coalesce(defaults: Any, values: Any) -> Any:
    """Helm's merge of user `values` over chart `defaults`: maps merge recursively, any
    other value replaces, and a null user value deletes the default key."""
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return values
    out = dict(defaults)
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], value)
        else:
            out[key] = value
    return out


def unknown_keys(values: Any, defaults: Any, path: str = "") -> list[str]:
    """Dotted paths of keys in `values` that the chart's defaults do not have. A default of
    `{}`/null (free-form map) or a list accepts anything below it."""
    if not isinstance(values, dict) or not isinstance(defaults, dict) or not defaults:
        return []
    out: list[str] = []
    for key, value in values.items():
        here = f"{path}.{key}" if path else str(key)
        if key not in defaults:
            out.append(here)
        else:
            out += unknown_keys(value, defaults[key], here)
    return out


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            yield here, key, value
            yield from _walk(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{path}[{i}]")


def _enabled(effective: dict[str, Any], path: str) -> bool:
    """False when a parent of `path` is switched off (`enabled: false`)."""
    node: Any = effective
    for part in path.split(".")[:-1]:
        if not isinstance(node, dict):
            return True
        if node.get("enabled") is False:
            return False
        node = node.get(part.split("[")[0])
    return not (isinstance(node, dict) and node.get("enabled") is False)


def effective_problems(effective: dict[str, Any], cfg: BundleConfig) -> list[tuple[str, str]]:
    """(dotted path, problem) of effective values that contradict bundle.yaml."""
    want_class = cfg.resources.priority_class_name
    out: list[tuple[str, str]] = []
    for path, key, value in _walk(effective):
        if not _enabled(effective, path):
            continue
        limited = isinstance(value, dict) and value.get("cpu") not in (None, "")
        if key == "limits" and path.endswith("resources.limits") and limited:
            out.append(
                (
                    f"{path}.cpu",
                    f"CPU limit {value['cpu']} (a chart default) although bundle.yaml sets no "
                    "CPU limits (throttling): set it to null in the values to delete it",
                )
            )
        if key == "priorityClassName" and value not in (None, "", want_class):
            out.append(
                (
                    path,
                    f"priorityClassName {value!r} (a chart default) but bundle.yaml "
                    f"resources.priority_class_name is {want_class!r}: system-node-critical and "
                    "system-cluster-critical are refused outside kube-system on GKE; set it "
                    "from bundle.yaml (null deletes it)",
                )
            )
    return out


def _helm_sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    spec = app.get("spec") or {}
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    return [s for s in sources if isinstance(s, dict) and s.get("chart")]


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    findings: list[Finding] = []
    for path in sorted((root / "argocd" / "apps").glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError:
            continue  # the yaml check reports it
        rel = path.relative_to(root).as_posix()
        for app in (d for d in docs if isinstance(d, dict) and d.get("kind") == "Application"):
            name = (app.get("metadata") or {}).get("name", "")
            for src in _helm_sources(app):
                chart, version = str(src["chart"]), str(src.get("targetRevision", ""))
                helm = src.get("helm") or {}
                values = helm.get("valuesObject") or {}
                if isinstance(helm.get("values"), str) and not values:
                    try:
                        values = yaml.safe_load(helm["values"]) or {}
                    except yaml.YAMLError as err:
                        findings.append(
                            Finding(
                                "helm-values",
                                rel,
                                f"helm.values is not valid YAML: {err}",
                                obj=f"Application/{name}",
                            )
                        )
                        continue
                for where, _key, value in _walk(helm.get("valuesObject") or {}):
                    if value is None:
                        findings.append(
                            Finding(
                                "helm-values",
                                rel,
                                f"valuesObject.{where} is null, and Argo CD drops nulls from "
                                "valuesObject (argoproj/argo-cd#16312), so the chart default "
                                "stays: put the values in helm.values (YAML text) instead",
                                obj=f"Application/{name}",
                            )
                        )
                defaults = chart_defaults(chart, version)
                if defaults is None:
                    findings.append(
                        Finding(
                            "helm-values",
                            rel,
                            f"no vendored defaults for chart {chart} {version}: add its "
                            f"values.yaml as observability/lint/helm/{chart}-{version}.values.yaml "
                            "(see SOURCES.md there) to have its values checked",
                            obj=f"Application/{name}",
                            severity="warning",
                        )
                    )
                    continue
                for key in unknown_keys(values, chart_keys(chart, version) or defaults):
                    findings.append(
                        Finding(
                            "helm-values",
                            rel,
                            f"values key {key} does not exist in chart {chart} {version}: Helm "
                            "ignores it silently; fix the spelling or remove it",
                            obj=f"Application/{name}",
                            field=f"spec.source.helm.valuesObject.{key}",
                        )
                    )
                for where, problem in effective_problems(coalesce(defaults, values), cfg):
                    findings.append(
                        Finding(
                            "helm-values",
                            rel,
                            f"effective {where}: {problem}",
                            obj=f"Application/{name}",
                        )
                    )
    return findings
