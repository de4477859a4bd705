"""Companion dashboard "KV cache & disaggregation": where prompt KV comes from, how long
blocks live, and the KV connectors that move it (NIXL between prefill and decode workers,
CPU offloading). Every family of vLLM's own KV Cache dashboard is read here or on the
single pane (tests/test_dashboards_upstream_families.py). Panels whose families need a
flag or connector say which in their "No data" text (availability.GATED)."""

from __future__ import annotations

from observability.alerting import recording as rec
from observability.config import BundleConfig
from observability.dashboards.finalize import dashboard_json
from observability.dashboards.layout import laid_out
from observability.dashboards.panels import PanelSpec, Query
from observability.dashboards.queries import Queries
from observability.dashboards.raw import Raw

__all__ = ["COLLAPSED", "build_kv_disagg", "rows"]

M = ("model_name",)
POD = ("pod",)
NIXL = "vllm:nixl_"
OFFLOAD = "vllm:kv_offload_"
SIMPLE = "vllm:simple_kv_offload_"
TOK, TOK_S = "suffix: tok", "suffix: tok/s"
FAILURE_COLORS = (
    ("failed transfers", "red"),
    ("failed notifications", "orange"),
    ("expired KV", "purple"),
    ("late notifications", "yellow"),
)


def _quantiles(r: Raw, histogram: str, by: tuple[str, ...] = M) -> tuple[Query, ...]:
    legend = " ".join(f"{{{{{b}}}}}" for b in by)
    return tuple(
        Query(r.quantile(q, histogram, by), f"p{round(q * 100)} {legend}") for q in (0.5, 0.99)
    )


def cache(r: Raw) -> list[PanelSpec]:
    return [
        PanelSpec(
            "timeseries",
            "Prompt tokens served from cache",
            "Share of prompt tokens that skipped prefill because their KV was cached "
            "locally or loaded through a KV connector, per model (over prompt tokens by "
            "source: both counters come with the same vLLM versions)",
            "percentunit",
            (
                Query(
                    r.ratio(
                        "vllm:prompt_tokens_cached_total", "vllm:prompt_tokens_by_source_total", M
                    ),
                    "{{model_name}}",
                ),
            ),
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "Cached prompt tokens by tier",
            "Prompt tokens/s served from cache by the tier that held them: device (GPU), "
            "host (CPU), disk, p2p (another vLLM instance) or external_unspecified",
            TOK_S,
            (
                Query(
                    r.rate("vllm:prompt_tokens_cached_by_source_total", ("source",)), "{{source}}"
                ),
            ),
            stack=True,
            colors=(("device", "green"), ("host", "blue"), ("disk", "purple"), ("p2p", "yellow")),
        ),
        PanelSpec(
            "timeseries",
            "Prompt vs computed tokens per request",
            "Mean prompt length against the tokens prefill had to compute, per model: the "
            "gap is the work caching saved",
            TOK,
            (
                Query(r.mean("vllm:request_prompt_tokens", M), "prompt {{model_name}}"),
                Query(
                    r.mean("vllm:request_prefill_kv_computed_tokens", M), "computed {{model_name}}"
                ),
            ),
        ),
    ]


def residency(r: Raw) -> list[PanelSpec]:
    """Recorded p50/p99 per (namespace,) model (rec.RESIDENCY_QUANTILE_RATE1M): the raw
    bucket quantiles were the costliest queries of the bundle's dashboards."""
    out = []
    for title, name, text in (
        ("KV block lifetime", "vllm:kv_block_lifetime_seconds",
         "Time from a KV block's allocation to its eviction, p50/p99 per model"),
        ("KV block idle before eviction", "vllm:kv_block_idle_before_evict_seconds",
         "How long an evicted block went unused; short idle times mean useful blocks are "
         "evicted under pressure"),
        ("KV block reuse gap", "vllm:kv_block_reuse_gap_seconds",
         "Time between consecutive uses of a KV block, p50/p99 per model"),
    ):  # fmt: skip
        recorded = rec.RESIDENCY_QUANTILE_RATE1M[name]
        queries = tuple(
            Query(r.q.recorded_quantile(recorded, p), f"p{round(p * 100)} {{{{model_name}}}}")
            for p in rec.RESIDENCY_QUANTILES
        )
        out.append(PanelSpec("timeseries", title, text, "s", queries))
    return out


def connector(r: Raw) -> list[PanelSpec]:
    return [
        PanelSpec(
            "timeseries",
            "Requests waiting on KV loads",
            "Waiting requests on a KV consumer (decode worker) by async load stage, summed",
            "short",
            (Query(r.agg("vllm:num_requests_kv_fetch_by_stage", ("stage",)), "{{stage}}"),),
            stack=True,
        ),
        PanelSpec(
            "timeseries",
            "Prompt tokens loaded via KV transfer",
            "Prompt tokens/s whose KV came through the KV connector instead of prefill, per model",
            TOK_S,
            (
                Query(
                    r.rate(
                        "vllm:prompt_tokens_by_source_total", M, 'source="external_kv_transfer"'
                    ),
                    "{{model_name}}",
                ),
            ),
        ),
    ]


def nixl(r: Raw) -> list[PanelSpec]:
    xfer, nbytes = f"{NIXL}xfer_time_seconds", f"{NIXL}bytes_transferred"
    return [
        PanelSpec(
            "timeseries",
            "NIXL transfer duration",
            "Duration of NIXL KV transfers, p50/p99 per model",
            "s",
            _quantiles(r, xfer),
        ),
        PanelSpec(
            "timeseries",
            "NIXL transfer post time",
            "Time to post a NIXL transfer request, p50/p99 per model",
            "s",
            _quantiles(r, f"{NIXL}post_time_seconds"),
        ),
        PanelSpec(
            "timeseries",
            "NIXL throughput",
            "KV bytes moved per second per pod, and per transfer: bytes / transfer time",
            "Bps",
            (
                Query(r.rate(nbytes + "_sum", POD), "{{pod}}"),
                Query(r.ratio(nbytes + "_sum", xfer + "_sum", POD), "per transfer {{pod}}"),
            ),
        ),
        PanelSpec(
            "timeseries",
            "NIXL transfers/s",
            "Completed NIXL transfers per second, per pod",
            "short",
            (Query(r.rate(xfer + "_count", POD), "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "NIXL descriptors per transfer",
            "Mean memory descriptors per NIXL transfer, per model; many small descriptors "
            "make transfers inefficient",
            "short",
            (Query(r.mean(f"{NIXL}num_descriptors", M), "{{model_name}}"),),
        ),
        PanelSpec(
            "timeseries",
            "NIXL bytes per transfer",
            "Mean size of one NIXL KV transfer, per model",
            "bytes",
            (Query(r.mean(nbytes, M), "{{model_name}}"),),
        ),
        PanelSpec(
            "timeseries",
            "NIXL failures/s",
            "failed transfers (handshake included) and notifications; expired KV: requests "
            "whose KV lease expired on the prefill worker before the decode worker read it; "
            "late notifications arrived after expiry, so the blocks may have been reused. "
            "Alerts: VLLMNixlTransferFailures, VLLMNixlKVExpired",
            "short",
            (
                Query(r.rate(f"{NIXL}num_failed_transfers_total", POD), "failed transfers {{pod}}"),
                Query(
                    r.rate(f"{NIXL}num_failed_notifications_total", POD),
                    "failed notifications {{pod}}",
                ),
                Query(r.rate(f"{NIXL}num_kv_expired_reqs_total", POD), "expired KV {{pod}}"),
                Query(
                    r.rate(f"{NIXL}num_notifications_after_expiry_total", POD),
                    "late notifications {{pod}}",
                ),
            ),
            colors=FAILURE_COLORS,
        ),
    ]


def offload(r: Raw) -> list[PanelSpec]:
    load, store = f"{OFFLOAD}load", f"{OFFLOAD}store"
    return [
        PanelSpec(
            "timeseries",
            "Offload throughput",
            "Bytes/s between GPU memory and the offload medium, per pod: load = offload to "
            "GPU, store = GPU to offload",
            "Bps",
            (
                Query(r.rate(f"{load}_bytes_total", POD), "load {{pod}}"),
                Query(r.rate(f"{store}_bytes_total", POD), "store {{pod}}"),
            ),
            colors=(("load", "green"), ("store", "blue")),
        ),
        PanelSpec(
            "timeseries",
            "Offload bandwidth",
            "Bytes moved per second of transfer time: the effective bandwidth of loads and "
            "stores, per model",
            "Bps",
            (
                Query(
                    r.ratio(f"{load}_bytes_total", f"{load}_time_total", M), "load {{model_name}}"
                ),
                Query(
                    r.ratio(f"{store}_bytes_total", f"{store}_time_total", M),
                    "store {{model_name}}",
                ),
            ),
            colors=(("load", "green"), ("store", "blue")),
        ),
        PanelSpec(
            "timeseries",
            "Mean offload transfer size",
            "Mean size of one offload load or store, per model",
            "bytes",
            (
                Query(r.mean(f"{load}_size", M), "load {{model_name}}"),
                Query(r.mean(f"{store}_size", M), "store {{model_name}}"),
            ),
        ),
        PanelSpec(
            "timeseries",
            "Offload lookup latency p99",
            "sync: one offload lookup call; async: from a lookup first deferring until it "
            "resolves or the request finishes, per model",
            "s",
            (
                Query(
                    r.quantile(0.99, f"{OFFLOAD}lookup_sync_delay_seconds", M),
                    "sync {{model_name}}",
                ),
                Query(
                    r.quantile(0.99, f"{OFFLOAD}lookup_async_delay_seconds", M),
                    "async {{model_name}}",
                ),
            ),
        ),
        PanelSpec(
            "timeseries",
            "CPU offload buffer usage",
            "Share of the CPU KV cache pinned by in-flight transfers (total, stores, loads), "
            "max per pod; sustained high values mean stores may be dropped",
            "percentunit",
            (
                Query(r.agg(f"{OFFLOAD}cpu_cache_usage_perc", POD, "max"), "total {{pod}}"),
                Query(r.agg(f"{OFFLOAD}cpu_cache_write_usage_perc", POD, "max"), "stores {{pod}}"),
                Query(r.agg(f"{OFFLOAD}cpu_cache_read_usage_perc", POD, "max"), "loads {{pod}}"),
            ),
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "Offload allocation failures and skipped stores/s",
            "allocation failures: stores that found no offload space (alert "
            "VLLMKVOffloadAllocationFailures); skipped: stores below the reuse threshold",
            "short",
            (
                Query(
                    r.rate(f"{OFFLOAD}allocation_failure_total", POD), "allocation failures {{pod}}"
                ),
                Query(r.rate(f"{OFFLOAD}stores_skipped_total", POD), "skipped {{pod}}"),
            ),
            colors=(("allocation failures", "red"), ("skipped", "blue")),
        ),
    ]


def simple_offload(r: Raw) -> list[PanelSpec]:
    return [
        PanelSpec(
            "timeseries",
            "Store admission outcomes",
            "Simple CPU offload store decisions per second, by outcome",
            "short",
            (Query(r.rate(f"{SIMPLE}save_outcomes_total", ("outcome",)), "{{outcome}}"),),
            stack=True,
        ),
        PanelSpec(
            "timeseries",
            "Blocks restored from offload/s",
            "KV blocks loaded back to GPU from the offload pool (prefill avoided), per pod",
            "short",
            (Query(r.rate(f"{SIMPLE}load_blocks_total", POD), "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Offload pool blocks",
            "Pool blocks pinned by in-flight transfers or hits, and blocks in pending stores, "
            "per pod; a pending count that only grows is a stuck transfer",
            "short",
            (
                Query(r.agg(f"{SIMPLE}used_blocks", POD), "pinned {{pod}}"),
                Query(r.agg(f"{SIMPLE}pending_store_blocks", POD), "pending {{pod}}"),
            ),
        ),
    ]


def rows(cfg: BundleConfig) -> list[tuple[str, list[PanelSpec]]]:
    r = Raw(Queries(cfg))
    return [
        ("Prompt KV: cache and compute", cache(r)),
        ("KV block residency (--kv-cache-metrics)", residency(r)),
        ("KV connector (--kv-transfer-config)", connector(r)),
        ("NIXL transfers between prefill and decode (NixlConnector)", nixl(r)),
        ("KV offloading (OffloadingConnector)", offload(r)),
        ("Simple CPU offload (SimpleCPUOffloadConnector)", simple_offload(r)),
    ]


# Rows only a KV connector fills start collapsed, as in vLLM's KV Cache dashboard: a
# deployment without that connector is not shown (or asked for) a screen of empty panels,
# and one with it opens the row. Block residency stays open: one flag, recorded queries.
COLLAPSED = frozenset(
    {
        "KV connector (--kv-transfer-config)",
        "NIXL transfers between prefill and decode (NixlConnector)",
        "KV offloading (OffloadingConnector)",
        "Simple CPU offload (SimpleCPUOffloadConnector)",
    }
)


DESCRIPTION = (
    "Where prompt KV comes from, how long KV blocks live, and the KV "
    "connectors moving it: NIXL between prefill and decode workers, CPU offloading."
)


def build_kv_disagg(cfg: BundleConfig) -> dict:
    return dashboard_json(
        cfg, laid_out(rows(cfg), COLLAPSED), companion="kv", description=DESCRIPTION
    )
