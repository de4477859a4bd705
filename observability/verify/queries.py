"""Every PromQL expression `obsctl verify` sends, built in one place.

Each keeps the cluster label (`prometheus.cluster_label`) in its `by`, so pointed at a
store that holds several clusters (Thanos Query, Mimir, VictoriaMetrics) verify never
merges two clusters' pods, nodes or queues; `obsctl lint` parses every expression here
(lint/clusters.py) to hold that.
"""

from __future__ import annotations

from observability.config import BundleConfig
from observability.metrics.names import DCGM, VLLM

__all__ = ["all_queries"]

RW = "prometheus_remote_storage_"
# Counters over this window: a failure an hour ago that stopped is not a FAIL now.
RW_WINDOW = "10m"


def by(cfg: BundleConfig, *labels: str) -> str:
    keep = [cfg.prometheus.cluster_label, *labels] if cfg.prometheus.cluster_label else labels
    return f"by ({', '.join(keep)}) " if keep else ""


def count_of(cfg: BundleConfig, selector: str, *labels: str) -> str:
    return f"count {by(cfg, *labels)}({selector})"


def running_pods(cfg: BundleConfig) -> str:
    return count_of(cfg, VLLM.RUNNING.v1, "namespace", "pod", "model_name")


def escaped_running(cfg: BundleConfig) -> str:
    return count_of(cfg, VLLM.RUNNING.v1.replace(":", "_"))


def gpu_hosts(cfg: BundleConfig) -> str:
    """Distinct GPUs (UUIDs) per node: a second exporter on the same GPU must not hide a gap."""
    per_gpu = f"group {by(cfg, 'Hostname', 'hostname', 'UUID')}({DCGM.GPU_UTIL})"
    return count_of(cfg, per_gpu, "Hostname", "hostname")


def gpu_sources(cfg: BundleConfig) -> str:
    """One row per GPU and the scrape (job, Service) that reports it."""
    return f"group {by(cfg, 'UUID', 'job', 'service')}({DCGM.GPU_UTIL})"


def pods_with(cfg: BundleConfig, name: str) -> str:
    return count_of(cfg, name, "pod")


def names_matching(cfg: BundleConfig, regex: str) -> str:
    return count_of(cfg, f'{{__name__=~"{regex}"}}', "__name__")


POD = ("namespace", "pod")


def running_by_naming(cfg: BundleConfig) -> str:
    """Pods by the name their running-requests gauge has: `vllm:` or escaped `vllm_`.
    One family, so the cost grows with pods, not with every series of every pod."""
    run = VLLM.RUNNING.v1 or ""
    either = run.replace(":", "[:_]", 1)
    return count_of(cfg, f'{{__name__=~"{either}"}}', "__name__", *POD)


def pod_names(cfg: BundleConfig, regex: str, pod: dict[str, str]) -> str:
    """Names of the current series of one pod (its labels `pod`) matching `regex`."""
    keep = [k for k in (cfg.prometheus.cluster_label, *POD) if k]
    sel = "".join(f', {k}="{pod.get(k, "")}"' for k in keep)
    return count_of(cfg, f'{{__name__=~"{regex}"{sel}}}', "__name__")


def families_current(cfg: BundleConfig, names: list[str]) -> str:
    """Current series names of `names` (gauge, counter `_total`, histogram `_count`):
    never a histogram's buckets, so a fleet costs a few series per pod."""
    alt = "|".join(names)
    return count_of(cfg, f'{{__name__=~"({alt})(_count|_total)?"}}', "__name__")


def family_exists(cfg: BundleConfig, name: str) -> str:
    return count_of(cfg, f'{{__name__=~"{name}(_bucket|_total|_sum|_count)?"}}')


_QUEUE = ("instance", "remote_name", "url")


def rw_queues(cfg: BundleConfig) -> str:
    return f"max {by(cfg, *_QUEUE)}({RW}shards)"


def rw_failed(cfg: BundleConfig) -> str:
    return f"sum {by(cfg, *_QUEUE)}(increase({RW}samples_failed_total[{RW_WINDOW}])) > 0"


def rw_dropped(cfg: BundleConfig) -> str:
    return f"sum {by(cfg, *_QUEUE)}(increase({RW}samples_dropped_total[{RW_WINDOW}])) > 0"


def rw_lag(cfg: BundleConfig) -> str:
    """Seconds the newest sent sample trails the newest sample appended, per queue."""
    return (
        f"max {by(cfg, *_QUEUE)}({RW}highest_timestamp_in_seconds"
        f" - ignoring(remote_name, url) group_right {RW}queue_highest_sent_timestamp_seconds)"
    )


def rw_shards_short(cfg: BundleConfig) -> str:
    """Queues that want more shards than they may run (falling behind)."""
    return f"max {by(cfg, *_QUEUE)}({RW}shards_desired) > max {by(cfg, *_QUEUE)}({RW}shards_max)"


def all_queries(cfg: BundleConfig) -> dict[str, str]:
    """name -> expression, every query verify can send (lint parses each)."""
    return {
        "scrape.series/running": running_pods(cfg),
        "scrape.series/escaped": escaped_running(cfg),
        "scrape.series/gpus": gpu_hosts(cfg),
        "scrape.dcgm_duplicates/sources": gpu_sources(cfg),
        "scrape.generation/pods": pods_with(cfg, VLLM.KV_CACHE_USAGE.v1 or ""),
        "scrape.escaping/pods": running_by_naming(cfg),
        "scrape.escaping/names": pod_names(cfg, "vllm[:_].+", {"namespace": "ns", "pod": "p"}),
        "scrape.generation/names": families_current(cfg, ["vllm:kv_cache_usage_perc"]),
        "grafana.panels/exists": family_exists(cfg, VLLM.RUNNING.v1 or ""),
        "prometheus.remote_write/queues": rw_queues(cfg),
        "prometheus.remote_write/failed": rw_failed(cfg),
        "prometheus.remote_write/dropped": rw_dropped(cfg),
        "prometheus.remote_write/lag": rw_lag(cfg),
        "prometheus.remote_write/shards": rw_shards_short(cfg),
    }
