"""Serving runtimes (`models.<key>.runtime`): the registry and what the stages ask of it.

Each runtime is one module with one `Runtime` subclass (see base.py for the extension
point and docs/runtimes.md for how to add one). Stages never branch on a runtime's name:
they ask the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from observability.config import RUNTIMES, BundleConfig, ConfigError
from observability.runtimes.aibrix import AibrixRuntime
from observability.runtimes.base import Runtime
from observability.runtimes.kserve import KServeRuntime
from observability.runtimes.lws import LwsRuntime
from observability.runtimes.rayservice import RayServiceRuntime
from observability.runtimes.tgi import TgiRuntime
from observability.runtimes.vllm import VllmRuntime

if TYPE_CHECKING:
    from observability.alerting.timing import Timing
    from observability.metrics.catalog import Catalog
    from observability.rulebase import Scope

__all__ = [
    "REGISTRY",
    "Runtime",
    "alert_rules",
    "catalogs",
    "engine_jobs",
    "error_ratios",
    "external_services",
    "get",
    "ksm_pod_labels",
    "mapping_rules",
    "pod_templates",
    "runtime_of",
    "runtimes_in_use",
]

REGISTRY: dict[str, Runtime] = {
    r.name: r
    for r in (
        VllmRuntime(),
        RayServiceRuntime(),
        AibrixRuntime(),
        TgiRuntime(),
        KServeRuntime(),
        LwsRuntime(),
    )
}
if tuple(REGISTRY) != RUNTIMES:  # config's RuntimeName names exactly these, in this order
    raise ImportError(f"runtime plug-ins {tuple(REGISTRY)} differ from config's {RUNTIMES}")


def get(name: str) -> Runtime:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"bundle.yaml: runtime {name!r} has no renderer in this version (available: "
            f"{', '.join(REGISTRY)}): pick one of those for models.<key>.runtime"
        ) from None


def runtime_of(cfg: BundleConfig, key: str) -> Runtime:
    return get(cfg.models[key].runtime)


def runtimes_in_use(cfg: BundleConfig) -> list[Runtime]:
    return [get(name) for name in cfg.runtimes_in_use]


def engine_jobs(cfg: BundleConfig) -> tuple[str, ...]:
    return tuple(j for r in runtimes_in_use(cfg) for j in r.engine_jobs(cfg))


def mapping_rules(cfg: BundleConfig, sc: Scope) -> list[dict[str, Any]]:
    """Every runtime's mapping; two runtimes recording the same name (RayService and TGI
    models side by side) share one rule, `or`-ed, since a group may not record one name
    twice."""
    merged: dict[str, list[str]] = {}
    for r in runtimes_in_use(cfg):
        for rule in r.mapping_rules(cfg, sc):
            merged.setdefault(rule["record"], []).append(rule["expr"])
    return [
        {
            "record": name,
            "expr": exprs[0] if len(exprs) == 1 else "\nor\n".join(f"({e})" for e in exprs),
        }
        for name, exprs in merged.items()
    ]


def error_ratios(cfg: BundleConfig, sc: Scope, window: str) -> dict[str, str]:
    """Every runtime's own error-ratio sources (`source` label -> ratio per model); two
    runtimes naming one source share it, `or`-ed (their models differ)."""
    merged: dict[str, list[str]] = {}
    for r in runtimes_in_use(cfg):
        for source, expr in r.error_ratios(cfg, sc, window).items():
            merged.setdefault(source, []).append(expr)
    return {
        s: exprs[0] if len(exprs) == 1 else " or ".join(f"({e})" for e in exprs)
        for s, exprs in merged.items()
    }


def alert_rules(cfg: BundleConfig, t: Timing, sc: Scope) -> list[dict[str, Any]]:
    return [rule for r in runtimes_in_use(cfg) for rule in r.alert_rules(cfg, t, sc)]


def pod_templates(obj: dict[str, Any]) -> list[tuple[str, dict[str, str], set[str]]]:
    """Pods a runtime's custom workload object creates (empty for other kinds)."""
    kind = str(obj.get("kind", ""))
    for r in REGISTRY.values():
        if kind in r.pod_kinds:
            return list(r.pod_kinds[kind](obj))
    return []


def external_services(cfg: BundleConfig) -> list[tuple[str, str, dict[str, str], set[str]]]:
    """(namespace, name, labels, port names) of Services a runtime's monitors scrape that
    something other than this bundle installs (lint's selector cross-check)."""
    return [s for r in runtimes_in_use(cfg) for s in r.external_services(cfg)]


def ksm_pod_labels(cfg: BundleConfig) -> tuple[str, ...]:
    """Pod labels the runtimes in use read from kube-state-metrics, in order, once each."""
    return tuple(dict.fromkeys(lab for r in runtimes_in_use(cfg) for lab in r.ksm_pod_labels()))


def catalogs() -> list[Catalog]:
    """Every registered runtime's catalogs (lint's metric contract knows their names)."""
    return [c for r in REGISTRY.values() for c in r.catalogs()]
