"""Companion dashboard "instance drill-down": one vLLM server at a time (pick `pod`):
its API-server process (memory against the container limit, CPU, file descriptors,
uptime, scrape health), engine configuration, sleep mode and RL weight-update
operations, and speculative decoding in depth. Together with the single pane it reads
every family of vLLM's Instances, Speculative Decoding and Service Status dashboards
(tests/test_dashboards_upstream_families.py)."""

from __future__ import annotations

from observability.alerting.targets import vllm_up
from observability.config import BundleConfig
from observability.dashboards.finalize import dashboard_json
from observability.dashboards.layout import laid_out
from observability.dashboards.panels import PanelSpec, Query, thresholds_high
from observability.dashboards.queries import Queries
from observability.dashboards.raw import Raw
from observability.metrics.promql import divide

__all__ = ["COLLAPSED", "build_instance", "rows"]

POD = ("pod",)
M = ("model_name",)
OPS = ("operation",)
SLEEP_OPS = "vllm:sleep_mode_operation_duration_seconds"
WEIGHT_OPS = "vllm:rl_weight_update_operation_duration_seconds"
DRAFTS = "vllm:spec_decode_num_drafts_total"
ACCEPTED = "vllm:spec_decode_num_accepted_tokens_total"
PER_POS = "vllm:spec_decode_num_accepted_tokens_per_pos_total"


def _job(cfg: BundleConfig) -> str:
    """`job=...` of the vLLM scrape targets (the matcher inside vllm_up's `up{...}`)."""
    return vllm_up(cfg).removeprefix("up{").removesuffix("}")


def memory_limit_ratio(q: Queries, job: str) -> str:
    """API-server resident memory / the vllm container's memory limit, per pod (needs
    kube-state-metrics for the limit)."""
    r = Raw(q, frontend=True, extra=job)
    limit = Raw(q, frontend=True, extra='container="vllm", resource="memory"')
    return divide(
        r.agg("process_resident_memory_bytes", POD),
        limit.agg("kube_pod_container_resource_limits", POD),
    )


def process(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    job = _job(cfg)
    limit = cfg.alerting.process_memory_limit_ratio_warning  # VLLMProcessMemoryNearLimit
    p = Raw(q, frontend=True, extra=job)
    return [
        PanelSpec(
            "timeseries",
            "API server resident memory",
            "Resident memory of the vLLM API server process per pod (engine core and GPU "
            "workers not included)",
            "bytes",
            (Query(p.agg("process_resident_memory_bytes", POD), "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Memory vs container limit",
            "API-server resident memory as a share of the vllm container's memory limit, per "
            f"pod; alert VLLMProcessMemoryNearLimit above {limit:.0%}",
            "percentunit",
            (Query(memory_limit_ratio(q, job), "{{pod}}"),),
            thresholds=thresholds_high(limit),
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "API server CPU",
            "CPU cores the API server process uses (tokenization, detokenization, HTTP), per pod",
            "short",
            (Query(p.rate("process_cpu_seconds_total", POD), "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Open file descriptors",
            "Open file descriptors as a share of the process limit, per pod; each client "
            "connection holds one",
            "percentunit",
            (
                Query(
                    divide(p.agg("process_open_fds", POD), p.agg("process_max_fds", POD)), "{{pod}}"
                ),
            ),
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "Uptime",
            "Seconds since each API server process started: a drop is a restart",
            "s",
            (Query(f"time() - {p.agg('process_start_time_seconds', POD, 'max')}", "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Scrape target up",
            "Whether Prometheus reaches each vLLM pod's /metrics (1 up, 0 down); a crashed "
            "server shows here while its vLLM series just stop",
            "short",
            (Query(p.agg("up", POD, "max"), "{{pod}}"),),
            max=1,
        ),
    ]


def configuration(q: Queries) -> list[PanelSpec]:
    e = Raw(q)
    cols = (
        ("pod", "Pod"),
        ("engine", "Engine"),
        ("num_gpu_blocks", "GPU blocks"),
        ("block_size", "Block size"),
        ("cache_dtype", "Cache dtype"),
        ("gpu_memory_utilization", "GPU memory utilization"),
        ("enable_prefix_caching", "Prefix caching"),
        ("num_cpu_blocks", "CPU blocks"),
        ("kv_offloading_backend", "Offloading backend"),
    )
    return [
        PanelSpec(
            "table",
            "KV cache configuration",
            "KV cache settings of each engine, from the cache_config_info info metric "
            "(label names differ by version; missing ones show empty)",
            "none",
            (Query(e.sel("vllm:cache_config_info"), fmt="table", instant=True),),
            width=24,
            height=6,
            columns=cols,
        ),
    ]


def sleep_and_weights(q: Queries) -> list[PanelSpec]:
    f = Raw(q, frontend=True)

    def count_by_op(name: str) -> str:
        # Totals since process start: these operations are too rare for per-second rates.
        return f"sum by ({', '.join(q._by(OPS))}) ({f.sel(name + '_count')})"

    return [
        PanelSpec(
            "timeseries",
            "Sleep level per engine",
            "0 awake, 1 weights offloaded (/sleep?level=1), 2 weights discarded (level 2), "
            "per pod and engine; alert VLLMEngineAsleep when a model stays asleep",
            "short",
            (Query(q.sleep_level(), "{{pod}} engine {{engine}}"),),
            max=2,
        ),
        PanelSpec(
            "timeseries",
            "Sleep and wake calls",
            "Sleep, wake and KV-cache-release calls since each server started, by operation",
            "short",
            (Query(count_by_op(SLEEP_OPS), "{{operation}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Sleep and wake duration",
            "Mean duration of each sleep-mode operation (waking level 2 reloads the weights)",
            "s",
            (Query(f.mean(SLEEP_OPS, OPS), "{{operation}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Operations in flight",
            "Sleep-mode and RL weight-update operations awaited right now, by operation; one "
            "that stays above 0 is stuck (alert VLLMWeightUpdateStuck)",
            "short",
            (
                Query(f.agg("vllm:sleep_mode_operations_in_flight", OPS), "sleep {{operation}}"),
                Query(
                    f.agg("vllm:rl_weight_update_operations_in_flight", OPS),
                    "weights {{operation}}",
                ),
            ),
        ),
        PanelSpec(
            "timeseries",
            "Weight update duration p99",
            "RL weight transfer steps (init, start, update, finish, set_version): p99 "
            "duration by operation",
            "s",
            (Query(f.quantile(0.99, WEIGHT_OPS, OPS), "p99 {{operation}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Weight update errors/s",
            "RL weight transfer operations that ended in an error (or a client disconnect), "
            "per second by operation",
            "short",
            (
                Query(
                    f.rate("vllm:rl_weight_update_operations_total", OPS, 'status="error"'),
                    "{{operation}}",
                ),
            ),
        ),
    ]


def speculative(q: Queries) -> list[PanelSpec]:
    e = Raw(q)
    return [
        PanelSpec(
            "timeseries",
            "Speculative acceptance length",
            "Tokens produced per verification step, bonus token included: 1 + accepted "
            "tokens / drafts, per model (at most num_speculative_tokens + 1)",
            "short",
            (Query(f"1 + {e.ratio(ACCEPTED, DRAFTS, M)}", "{{model_name}}"),),
            width=12,
        ),
        PanelSpec(
            "timeseries",
            "Accepted tokens per draft by position",
            "Accepted tokens per draft at each position, 0 to 1: the share of drafts whose "
            "token there was accepted (falls with position: a token counts only if every "
            "earlier one was)",
            "suffix: tok",
            (
                Query(
                    # every position over the one drafts total: one-to-many on no labels
                    f"({e.rate(PER_POS, ('position',))}) / on () group_left () "
                    f"(({e.rate(DRAFTS, ())}) > 0)",
                    "position {{position}}",
                ),
            ),
            width=12,
            max=1,
        ),
    ]


def rows(cfg: BundleConfig) -> list[tuple[str, list[PanelSpec]]]:
    q = Queries(cfg)
    return [
        ("API server process", process(q, cfg)),
        ("Engine configuration", configuration(q)),
        ("Sleep mode and weight updates", sleep_and_weights(q)),
        ("Speculative decoding (--speculative-config)", speculative(q)),
    ]


# Rows a serve flag fills start collapsed, as vLLM's Instances dashboard keeps its sleep
# row: sleep mode (--enable-sleep-mode) and RL weight updates, speculative decoding.
COLLAPSED = frozenset(
    {"Sleep mode and weight updates", "Speculative decoding (--speculative-config)"}
)


DESCRIPTION = (
    "One vLLM server at a time (pick a pod): its process, configuration, "
    "sleep and weight-update operations, speculative decoding."
)


def build_instance(cfg: BundleConfig) -> dict:
    return dashboard_json(
        cfg, laid_out(rows(cfg), COLLAPSED), companion="instance", description=DESCRIPTION
    )
