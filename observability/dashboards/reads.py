"""What dashboard queries read: metric families (histogram suffixes stripped) and, for a
recorded series, the families its recording rule reads. Panels, the no-data notes and lint
share these, so the panel description and its checks agree."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from observability.alerting import capacity, lifecycle, router
from observability.alerting.recording import dashboard_rules
from observability.metrics.promql_ast import metric_names
from observability.rulebase import Scope

__all__ = ["families_read", "recorded_sources", "sources_of"]

_SUFFIXES = ("_bucket", "_sum", "_count")


def families_read(expr: str) -> list[str]:
    """Family names an expression selects (histogram suffixes stripped), in order. A
    recording's name (`level:metric:ops`, not an exporter's `vllm:` family) is whole: the
    router's `epp:request_ttft_seconds_bucket` is a rule of its own."""
    out: list[str] = []
    for name in metric_names(expr):
        recorded = ":" in name and not name.startswith("vllm:")
        for s in _SUFFIXES:
            if name.endswith(s) and not name.startswith("DCGM_") and not recorded:
                name = name.removesuffix(s)
        if name not in out:
            out.append(name)
    return out


def sources_of(recorded: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Recorded name -> the metrics its rule (`recorded[name]`, the expression) reads; a
    recording over another recording (a quantile over a bucket rate) names what that one
    reads."""
    direct = {name: families_read(expr) for name, expr in recorded.items()}

    def expand(name: str, seen: frozenset[str]) -> list[str]:
        out: list[str] = []
        for f in direct[name]:
            out += expand(f, seen | {f}) if f in direct and f not in seen else [f]
        return out

    return {n: tuple(dict.fromkeys(expand(n, frozenset({n})))) for n in direct}


@cache
def recorded_sources() -> dict[str, tuple[str, ...]]:
    """Recorded name -> the metrics its rule reads (from the rule expressions themselves)."""
    sc = Scope("", ("namespace", "model_name"), ("namespace", "pod", "model_name"), ())
    out = sources_of({r["record"]: r["expr"] for r in dashboard_rules(sc)})
    # the inference router's mapping (epp:* from every EPP naming generation)
    out |= {r["record"]: tuple(families_read(r["expr"])) for r in router.mapping_rules(sc)}
    # kube-state-metrics recordings (their rules depend on the models configured)
    return {**out, **lifecycle.RECORDED_FROM, **capacity.RECORDED_FROM}
