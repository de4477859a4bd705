"""Drift guard: the alerts and panels a serving pod's /metrics would leave blind.

Every alert and panel reads the normalised `vllm:*` families, directly or through the
bundle's recordings; a runtime that exports other names maps them with its rules
(observability/runtimes/). When the exporter moves under the pinned image (Ray's naming
change, an escaped `vllm_` prefix, a vLLM build without stats), the mapping finds nothing
and the alerts stay silent while the pods serve. This module compares what one pod of a
workload exposes with what the runtime's own catalogs say it should, through the
runtime's mapping, and names every alert and panel that reads a missing family.

Only families every supported vLLM version exposes count (a version that lacks an
optional family leaves its panel saying why, which is not drift), and only those the
runtime's reference exporter provides (TGI has no KV cache: its KV alerts are not drift).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from prometheus_client.parser import text_string_to_metric_families

from observability.alerting.rules import rule_groups
from observability.config import BundleConfig
from observability.dashboards import build_all
from observability.dashboards.availability import GATED
from observability.dashboards.exprs import panel_queries
from observability.dashboards.reads import families_read, recorded_sources
from observability.metrics.catalog import available_vllm_versions, vllm_catalog
from observability.metrics.names import SIGNALS, VLLM
from observability.rulebase import scope
from observability.runtimes import Runtime

__all__ = [
    "Blind",
    "Seen",
    "blind_readers",
    "exposed",
    "from_names",
    "reference_families",
    "summary",
]

_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
# request counters of vLLM, Ray's re-export and TGI: above 0 once the pod served a request
_REQUESTS = re.compile(
    r"(request_success_total|request_success|request_count|e2e_request_latency_seconds_count)$"
)
_VERSION_LABELS = ("Version", "version")


@dataclass(frozen=True)
class Seen:
    """What one scrape of a pod showed: family names and the exporter version it named."""

    families: frozenset[str]
    version: str  # from a Version label (Ray), else the nearest vLLM catalog, else ""
    served: bool  # some request counter is above 0 (families created lazily exist by then)


@dataclass(frozen=True)
class Blind:
    kind: str  # alert | panel
    name: str
    missing: tuple[str, ...]  # normalised families it reads that nothing provides


def exposed(text: str) -> Seen:
    """Families in a Prometheus text exposition (sample names with and without suffixes:
    a counter `x_total` is read as `x_total`, a histogram `x_bucket` as `x`)."""
    names: set[str] = set()
    versions: set[str] = set()
    served = False
    for fam in text_string_to_metric_families(text):
        # a labelled family with no child yet shows only # HELP/# TYPE (vLLM before its
        # first request); the parser names a counter without `_total`
        names.add(fam.name)
        if fam.type == "counter":
            names.add(f"{fam.name}_total")
        for s in fam.samples:
            names.add(s.name)
            for suffix in _SUFFIXES:
                if s.name.endswith(suffix):
                    names.add(s.name.removesuffix(suffix))
            versions.update(v for k, v in s.labels.items() if k in _VERSION_LABELS)
            if s.value > 0 and _REQUESTS.search(s.name):
                served = True
    version = sorted(versions)[-1] if versions else _nearest_vllm(names)
    return Seen(frozenset(names), version, served)


def from_names(metrics: Iterable[dict[str, str]]) -> Seen:
    """A Seen from Prometheus' answer to `group by (__name__, Version) (...)`."""
    rows = list(metrics)
    names = {m.get("__name__", "") for m in rows} - {""}
    for n in list(names):
        for suffix in _SUFFIXES:
            if n.endswith(suffix):
                names.add(n.removesuffix(suffix))
    versions = sorted({m["Version"] for m in rows if m.get("Version")})
    version = versions[-1] if versions else _nearest_vllm(names)
    # Prometheus keeps series of a family only once it has samples: it has served
    return Seen(frozenset(names), version, served=True)


def _nearest_vllm(names: set[str]) -> str:
    """The cataloged vLLM versions that expose every `vllm:` family seen (a range: families
    created at first use may be missing), else the nearest catalog by Jaccard."""
    versions = available_vllm_versions()
    known = {f for v in versions for f in vllm_catalog(v).families if f.startswith("vllm:")}
    ours = names & known
    if not ours:
        return ""
    fits = [v for v in versions if ours <= set(vllm_catalog(v).families)]
    if fits:
        return f"vLLM {fits[0]}" if len(fits) == 1 else f"vLLM {fits[0]}-{fits[-1]}"

    def alike(v: str) -> float:
        theirs = set(vllm_catalog(v).families)
        return len(ours & theirs) / len(ours | theirs)

    best = max(versions, key=alike)
    return f"vLLM {best} (nearest catalog: {alike(best):.0%} of families alike)"


# Families vLLM registers only behind a serve flag: absent without it, which is not drift.
_FLAGGED = {*GATED, *VLLM.LORA_INFO.names}


@cache
def _core_signals() -> tuple[tuple[str, ...], ...]:
    """Name sets (newest first) of the signals every supported vLLM version exposes with
    default flags."""
    out = []
    for s in SIGNALS.values():
        names = s.names
        if set(names) & _FLAGGED:
            continue
        if all(set(names) & set(vllm_catalog(v).families) for v in available_vllm_versions()):
            out.append(names)
    return tuple(out)


def _provided(cfg: BundleConfig, runtime: Runtime, families: Iterable[str]) -> set[str]:
    """Normalised names the families give through the runtime's mapping rules."""
    have = set(families)
    for rule in runtime.mapping_rules(cfg, scope(cfg)):
        if set(families_read(rule["expr"])) & have:
            have.add(rule["record"])
    return have


def reference_families(cfg: BundleConfig, runtime: Runtime) -> set[str]:
    """What the runtime's pinned exporter exposes: its own catalogs, or (plain vLLM)
    every cataloged vLLM version (any of them is a supported image)."""
    catalogs = runtime.catalogs() or [vllm_catalog(v) for v in available_vllm_versions()]
    return {name for c in catalogs for name in c.families}


def _expand(names: Iterable[str], sources: dict[str, tuple[str, ...]]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        todo.extend(sources.get(n, ()))
    return out


_READERS: dict[str, tuple[tuple[str, str, frozenset[str]], ...]] = {}


def _readers(cfg: BundleConfig) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(alert | panel, name, every family it reads, recordings expanded), once per bundle."""
    key = cfg.model_dump_json()
    if key not in _READERS:
        _READERS[key] = _read(cfg)
    return _READERS[key]


def _read(cfg: BundleConfig) -> tuple[tuple[str, str, frozenset[str]], ...]:
    groups = rule_groups(cfg)
    sources = dict(recorded_sources())
    for g in groups:
        for r in g.get("rules", []):
            if "record" in r:
                sources[r["record"]] = tuple(families_read(str(r["expr"])))
    out: list[tuple[str, str, frozenset[str]]] = []
    for g in groups:
        for r in g.get("rules", []):
            if "alert" in r:
                fams = _expand(families_read(str(r["expr"])), sources)
                out.append(("alert", r["alert"], frozenset(fams)))
    for dash in build_all(cfg).values():
        for pq in panel_queries(dash):
            out.append(("panel", pq.title, frozenset(_expand(families_read(pq.expr), sources))))
    return tuple(out)


def blind_readers(cfg: BundleConfig, runtime: Runtime, seen: Seen) -> list[Blind]:
    """Alerts and panels that read a family the runtime's exporter should provide (through
    its mapping) and this pod does not: one entry per alert name or panel title."""
    expected = _provided(cfg, runtime, reference_families(cfg, runtime))
    actual = _provided(cfg, runtime, seen.families)
    missing: set[str] = set()
    for names in _core_signals():
        if set(names) & expected and not set(names) & actual:
            missing.update(names)
    out: dict[tuple[str, str], set[str]] = {}
    for kind, name, fams in _readers(cfg):
        hit = fams & missing
        if hit:
            out.setdefault((kind, name), set()).update(hit)
    return [
        Blind(kind, name, tuple(sorted(n for n in hit if not _older_twin(n, hit))))
        for (kind, name), hit in sorted(out.items())
    ]


def _older_twin(name: str, names: set[str]) -> bool:
    """An older generation's name whose newer name is listed too (show the newest)."""
    return any(name in s.names[1:] and s.names[0] in names for s in SIGNALS.values())


def summary(blind: list[Blind], limit: int = 12) -> str:
    """`N alerts (A, B, ...) and M panels` with the families each first one misses."""
    alerts = [b for b in blind if b.kind == "alert"]
    panels = [b for b in blind if b.kind == "panel"]
    names = ", ".join(f"{b.name} ({b.missing[0]})" for b in alerts[:limit])
    more = f", +{len(alerts) - limit}" if len(alerts) > limit else ""
    return f"{len(alerts)} alerts ({names}{more}) and {len(panels)} panels"
