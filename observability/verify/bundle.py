"""What the bundle installs, taken from the same render functions `obsctl render` uses.

Verify compares the cluster with these objects, so renaming an Application, a
ServiceMonitor, a rule group or a dashboard uid in a generator moves verify with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from observability.config import BundleConfig
from observability.dashboards import DASHBOARDS
from observability.render import alerts, servicemonitors
from observability.render import dashboards as dashboard_files
from observability.render.registry import render_objects

__all__ = ["applications", "dashboard_files_of", "dashboards", "monitors", "rule_groups"]

MONITOR_KINDS = ("ServiceMonitor", "PodMonitor")


def _docs(content: Any) -> Iterator[dict[str, Any]]:
    if isinstance(content, dict):
        yield content
    elif isinstance(content, list):
        for c in content:
            yield from _docs(c)
    elif isinstance(content, str):
        try:
            for d in yaml.safe_load_all(content):
                if isinstance(d, dict):
                    yield d
        except yaml.YAMLError:
            return


def _objects(
    build: Callable[[BundleConfig], dict[str, Any]], cfg: BundleConfig
) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for path, content in sorted(build(cfg).items()):
        for doc in _docs(content):
            out.append((path, doc))
    return out


def applications(cfg: BundleConfig) -> list[dict[str, Any]]:
    def argocd_tree(c: BundleConfig) -> dict[str, Any]:
        return {p: o for p, o in render_objects(c).items() if p.startswith("argocd/")}

    return [d for _, d in _objects(argocd_tree, cfg) if d.get("kind") == "Application"]


def monitors(cfg: BundleConfig) -> list[dict[str, Any]]:
    return [
        d for _, d in _objects(servicemonitors.artifacts, cfg) if d.get("kind") in MONITOR_KINDS
    ]


def rule_groups(cfg: BundleConfig) -> list[dict[str, Any]]:
    """[{name, rules: [...], source: PrometheusRule metadata}] of the standard profile."""
    out: list[dict[str, Any]] = []
    for _, doc in _objects(alerts.artifacts, cfg):
        if doc.get("kind") != "PrometheusRule":
            continue
        meta = doc.get("metadata") or {}
        for g in (doc.get("spec") or {}).get("groups") or []:
            out.append({"name": g.get("name"), "rules": g.get("rules") or [], "source": meta})
    return out


def dashboards(cfg: BundleConfig) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON model, from the rendered JSON files or ConfigMaps."""
    out: dict[str, dict[str, Any]] = {}

    def add(model: Any) -> None:
        if isinstance(model, str):
            try:
                model = json.loads(model)
            except ValueError:
                return
        if isinstance(model, dict) and model.get("uid") and "panels" in model:
            out[str(model["uid"])] = model

    for path, doc in _objects(dashboard_files.artifacts, cfg):
        if doc.get("kind") == "ConfigMap":
            for key, val in (doc.get("data") or {}).items():
                if key.endswith(".json"):
                    add(val)
        elif path.endswith(".json"):
            add(doc)
    return out


def dashboard_files_of(cfg: BundleConfig) -> list[str]:
    """The dashboard JSON file names the bundle renders (each one ConfigMap and, with
    `dashboards.delivery: grafana-operator`, one GrafanaDashboard)."""
    return sorted(DASHBOARDS)
