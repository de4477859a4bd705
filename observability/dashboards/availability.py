"""Which panels may be empty, and why: "not exposed by this vLLM" vs "something is wrong".

A panel query reads exporter families (`vllm:*`, `http_*`), directly or through our
recordings. A family is *optional* when some supported vLLM version does not expose it
with default `vllm serve` flags (per the committed catalogs) or when vLLM registers it
only behind a flag (`GATED`). A query comes back empty *as expected* when every family it
reads is optional and absent from the Prometheus it runs against; the panel then says so
in its own text (`no_data_note`, rendered as Grafana's `noValue`). Any other empty query
is unexplained: a scrape, rename or rule problem, which the snapshot, the data checks and
`obsctl verify` report.

`ALERTS` is the one non-exporter series whose absence is normal (no alert firing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

from observability.dashboards.reads import families_read, recorded_sources
from observability.metrics.catalog import (
    available_vllm_versions,
    runtime_catalog,
    vllm_catalog,
    vllm_main_catalog,
)
from observability.metrics.names import VLLM

__all__ = [
    "ALERTS_QUIET",
    "GATED",
    "IDLE",
    "OPTIONAL_EXPORTERS",
    "UNRELEASED",
    "expected_empty",
    "exporter_families",
    "family_note",
    "lacking_versions",
    "no_data_note",
]

ALERTS_QUIET = "No alert firing"

# Families vLLM registers only behind a serve flag, whatever the catalog's default says
# (0.7.3 defines the spec-decode metrics always but sets them only with a draft model).
GATED: dict[str, str] = {
    VLLM.SPEC_DRAFT_TOKENS.v1 or "": "--speculative-config",
    VLLM.SPEC_ACCEPTED_TOKENS.v1 or "": "--speculative-config",
    "vllm:spec_decode_num_emitted_tokens_total": "--speculative-config",
    "vllm:spec_decode_draft_acceptance_rate": "--speculative-config",
    "vllm:spec_decode_efficiency": "--speculative-config",
    "vllm:spec_decode_num_drafts_total": "--speculative-config",
    "vllm:spec_decode_num_accepted_tokens_per_pos_total": "--speculative-config",
    "vllm:kv_block_lifetime_seconds": "--kv-cache-metrics",
    "vllm:kv_block_idle_before_evict_seconds": "--kv-cache-metrics",
    "vllm:kv_block_reuse_gap_seconds": "--kv-cache-metrics",
    "vllm:num_requests_kv_fetch_by_stage": "a KV connector (--kv-transfer-config)",
    # read from vLLM main: each family's flag or connector (unreleased-vllm-main.json)
    **{n: f.condition for n, f in vllm_main_catalog().families.items() if f.condition},
}
# Families no cataloged release lists (read from vLLM main): their note says so. The
# NIXL families the router stream read from the 0.33.0 wheel are released.
UNRELEASED = frozenset(vllm_main_catalog().families) - frozenset(
    runtime_catalog("nixl-vllm-0.33.0.json").families
)
_EXPORTER_PREFIXES = ("vllm:", "http_")
# Exporters the bundle reads but does not run itself: a Prometheus without them (a test
# stack, a cluster without Karpenter) leaves their panels empty, and the panel says why.
OPTIONAL_EXPORTERS: dict[str, str] = {
    "kube_": "kube-state-metrics (kube-prometheus-stack installs it)",
    "karpenter_": "Karpenter",
    # the API server's prometheus_client process collector: not exported with
    # --api-server-count > 1 (the simulator models them per replica)
    "process_": "the vLLM API server's process metrics (absent with --api-server-count > 1)",
}


def optional_families(expr: str) -> list[str]:
    """Families of OPTIONAL_EXPORTERS an expression reads, recordings expanded."""
    sources = recorded_sources()
    out: list[str] = []
    for name in families_read(expr):
        for fam in sources.get(name, (name,)):
            if fam.startswith(tuple(OPTIONAL_EXPORTERS)) and fam not in out:
                out.append(fam)
    return out


def _optional_note(fams: Iterable[str]) -> str:
    needs = sorted({v for f in fams for p, v in OPTIONAL_EXPORTERS.items() if f.startswith(p)})
    return f"Needs {' and '.join(needs)}"


# Hit-ratio families whose lookups stay at 0 where the feature is not in use, and eviction
# histograms with no eviction yet: a ratio or quantile over them has no sample then
# (divide by `den > 0`), which is normal, not a fault.
IDLE: dict[str, str] = {
    VLLM.MM_CACHE_QUERIES.v1 or "": "No lookups: text-only model (no image or audio inputs)",
    VLLM.MM_CACHE_HITS.v1 or "": "No lookups: text-only model (no image or audio inputs)",
    VLLM.EXTERNAL_PREFIX_CACHE_QUERIES.v1 or "": "No lookups: no KV connector "
    "(--kv-transfer-config)",
    VLLM.EXTERNAL_PREFIX_CACHE_HITS.v1 or "": "No lookups: no KV connector (--kv-transfer-config)",
    # --kv-cache-metrics observes a block's lifetime and idle time only when it is evicted:
    # until the cache has cycled through every free block, none is (demo load never does)
    "vllm:kv_block_lifetime_seconds": "No eviction yet: the KV cache has not filled",
    "vllm:kv_block_idle_before_evict_seconds": "No eviction yet: the KV cache has not filled",
}


def exporter_families(expr: str) -> list[str]:
    """Exporter families an expression reads, recordings expanded to their sources."""
    sources = recorded_sources()
    out: list[str] = []
    for name in families_read(expr):
        for fam in sources.get(name, (name,)):
            if fam.startswith(_EXPORTER_PREFIXES) and fam not in out:
                out.append(fam)
    return out


@cache
def _default_sets() -> dict[str, frozenset[str]]:
    """Version -> families plain `vllm serve` exposes (catalog `default`, less GATED)."""
    return {
        v: frozenset(n for n, f in vllm_catalog(v).families.items() if f.default and n not in GATED)
        for v in available_vllm_versions()
    }


def lacking_versions(families: Iterable[str]) -> list[str]:
    """Supported versions whose default flags expose none of `families` (a query with `or`
    fallbacks is limited only where every alternative is missing)."""
    fams = set(families)
    return [v for v, exposed in _default_sets().items() if not fams & exposed]


def family_note(families: Iterable[str]) -> str:
    """`Not exposed by vLLM 0.7.3, 0.10.1` / `Only with --speculative-config`."""
    fams = list(families)
    flags = sorted({GATED[f] for f in fams if f in GATED})
    if flags and all(f in GATED for f in fams):
        return f"Only with {', '.join(flags)}"
    lacking = ", ".join(lacking_versions(fams))
    if VLLM.LORA_INFO.v1 in fams:
        return f"Only with --enable-lora (vLLM {lacking})"
    return f"Not exposed by vLLM {lacking}"


def _query_note(expr: str) -> str:
    if optional := optional_families(expr):
        return _optional_note(optional)
    fams = exporter_families(expr)
    if not fams or not lacking_versions(fams):
        return ""
    return f"{family_note(fams)} ({_names(fams)})"


def no_data_note(exprs: Iterable[str]) -> str:
    """The panel's "No data" text: why the families it reads may be absent.

    Empty when every query has a family every supported version exposes."""
    exprs = list(exprs)
    if exprs and all(not exporter_families(e) and "ALERTS" in families_read(e) for e in exprs):
        return ALERTS_QUIET
    notes = [_query_note(e) for e in exprs]
    if not notes or not all(notes):
        return ""
    idle = [IDLE[f] for e in exprs for f in exporter_families(e) if f in IDLE]
    heads = {family_note(exporter_families(e)) for e in exprs}
    if len(notes) > 1 and len(heads) == 1 and not any(optional_families(e) for e in exprs):
        # one reason for every query: say it once, naming every family
        fams = list(dict.fromkeys(f for e in exprs for f in exporter_families(e)))
        notes = [f"{heads.pop()} ({_names(fams)})"]
    return "; ".join(dict.fromkeys(notes + idle[:1]))


def _short(name: str) -> str:
    return name.removeprefix("vllm:")


def _names(fams: Iterable[str]) -> str:
    """`a, b from vLLM main`: the families, those no cataloged release has marked."""
    return ", ".join(_short(f) + (" from vLLM main" if f in UNRELEASED else "") for f in fams)


def expected_empty(expr: str, present: Callable[[str], bool]) -> str | None:
    """Why `expr` may be empty here (None: it should have data).

    `present(family)` tells whether the Prometheus holds any series of that family."""
    if optional := optional_families(expr):
        # empty as expected when one optional exporter it needs has no series at all
        # (process memory over kube-state-metrics' limit needs both)
        by_exporter = [[f for f in optional if f.startswith(p)] for p in OPTIONAL_EXPORTERS]
        missing = [fs for fs in by_exporter if fs and not any(present(f) for f in fs)]
        return _optional_note([f for fs in missing for f in fs]) if missing else None
    fams = exporter_families(expr)
    if not fams:
        return ALERTS_QUIET if "ALERTS" in families_read(expr) else None
    if all(f in IDLE for f in fams) and all(present(f) for f in fams):
        return IDLE[fams[0]]
    if all(f in GATED for f in fams) and not all(present(f) for f in fams):
        # behind a flag, and some family of it missing: the flag is off, or this vLLM lacks
        # one (0.7.3 registers spec-decode accepted tokens always, drafts never)
        return _query_note(expr) or None
    if any(present(f) for f in fams) or not lacking_versions(fams):
        return None
    return _query_note(expr)
