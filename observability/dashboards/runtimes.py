"""Single-pane rows of the serving runtimes and the queue autoscaler, present only when a
model uses them: each runtime's own row (Ray Serve, the AIBrix gateway: declared by the
runtime, observability/runtimes/), and the KEDA replicas.

Engine panels never change per runtime (they read the normalised `vllm:*` series); these
rows show what only the runtime has: Serve's own HTTP proxy and replica health, the
gateway's traffic per model, and the replicas the HPA runs versus those it wants.
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.config import BundleConfig
from observability.dashboards.panels import PanelSpec, Query, thresholds_low
from observability.dashboards.queries import RATE, Queries
from observability.runtimes.base import PanelScope, RuntimePanel

__all__ = ["runtime_rows"]


def _m(q: Queries, *labels: str) -> str:
    return q._matchers(*labels)


def _by(q: Queries, *labels: str) -> str:
    """`by` labels with the cluster label first when configured (two clusters never merge)."""
    return ", ".join(q._by(labels))


def _spec(p: RuntimePanel) -> PanelSpec:
    extra: dict[str, Any] = {}
    if p.red_below is not None:
        extra["thresholds"] = thresholds_low(p.red_below)
    return PanelSpec(
        "timeseries",
        p.title,
        p.text,
        p.unit,
        tuple(Query(expr, legend) for expr, legend in p.queries),
        width=p.width,
        min=p.min,
        max=p.max,
        stack=p.stack,
        **extra,
    )


def keda(q: Queries) -> list[PanelSpec]:
    sel = _m(q, "namespace") + ', horizontalpodautoscaler=~"keda-hpa-vllm-.+"'
    hpa = _by(q, "namespace", "horizontalpodautoscaler")
    return [
        PanelSpec(
            "timeseries",
            "Replicas: current vs desired (KEDA)",
            "Replicas the HPA KEDA created runs and the count it wants from the ScaledObject's "
            "waiting-requests query (ceil(waiting / target) within min..max); desired above "
            "current for long means pods cannot start",
            "none",
            (
                Query(
                    f"max by ({hpa}) "
                    f"(kube_horizontalpodautoscaler_status_current_replicas{{{sel}}})",
                    "current {{horizontalpodautoscaler}}",
                ),
                Query(
                    f"max by ({hpa}) "
                    f"(kube_horizontalpodautoscaler_status_desired_replicas{{{sel}}})",
                    "desired {{horizontalpodautoscaler}}",
                ),
                Query(
                    f"max by ({hpa}) (kube_horizontalpodautoscaler_spec_max_replicas{{{sel}}})",
                    "max {{horizontalpodautoscaler}}",
                ),
            ),
            width=24,
        ),
    ]


def runtime_rows(cfg: BundleConfig) -> list[tuple[str, list[PanelSpec]]]:
    """Each runtime in use contributes its own row (runtimes/*.py `panels`); KEDA, not a
    runtime, its replicas row."""
    q = Queries(cfg)
    scope = PanelScope(matchers=lambda *lbl: _m(q, *lbl), by=lambda *lbl: _by(q, *lbl), rate=RATE)
    out: list[tuple[str, list[PanelSpec]]] = []
    for rt in runtimes.runtimes_in_use(cfg):
        panels = rt.panels(scope)
        if panels:
            out.append((rt.panel_row, [_spec(p) for p in panels]))
    if cfg.autoscaling.keda.enabled:
        out.append(("Autoscaling (KEDA)", keda(q)))
    return out
