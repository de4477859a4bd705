"""Past one Prometheus: the external labels a central store tells clusters and replicas
apart by, and remote-write health (failed and dropped samples, queue lag, shards).

Both read the Prometheus being verified: `/api/v1/status/config` for what it runs with,
and its own `prometheus_remote_storage_*` series (kube-prometheus-stack scrapes each
Prometheus itself: `prometheus.serviceMonitor.selfMonitor`, on by default).
"""

from __future__ import annotations

from typing import Any

import yaml

from observability.verify import queries as q
from observability.verify.context import VerifyContext
from observability.verify.model import Check, CheckFailed, Outcome

__all__ = ["CHECKS", "MAX_LAG_S"]

# A queue further behind than this is not catching up (Prometheus' own
# PrometheusRemoteWriteBehind alert uses 120 s).
MAX_LAG_S = 120.0


# Only these top-level sections are read: on a big fleet the rest (scrape_configs, with
# the operator's relabelings per monitor, or static targets) is most of the text.
_SECTIONS = ("global", "remote_write")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def config_sections(text: str, keys: tuple[str, ...] = _SECTIONS) -> str:
    """The top-level `keys` blocks of Prometheus' marshalled config: a line at column 0
    that is not a comment or a list item opens a block. Cheap at any config size."""
    out: list[str] = []
    keep = False
    for line in text.splitlines(keepends=True):
        if line[:1] not in ("", " ", "\t", "-", "#", "\n", "\r"):
            keep = line.split(":", 1)[0].strip() in keys
        if keep:
            out.append(line)
    return "".join(out)


def running_config(ctx: VerifyContext) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        text = config_sections(ctx.prometheus().config_yaml())
        try:
            conf = yaml.load(text, Loader=_Loader) or {}  # a SafeLoader
        except yaml.YAMLError as err:
            raise CheckFailed(f"/api/v1/status/config is not YAML: {err}") from None
        return conf if isinstance(conf, dict) else {}

    return ctx.once("p.config", read)


def _external_labels(ctx: VerifyContext) -> Outcome:
    prom = ctx.cfg.prometheus
    labels = (running_config(ctx).get("global") or {}).get("external_labels") or {}
    problems: list[str] = []
    fixes: list[str] = []
    if prom.cluster_label:
        got = labels.get(prom.cluster_label)
        if got != prom.cluster_name:
            problems.append(
                f"external label {prom.cluster_label}={got!r}, bundle.yaml says "
                f"{prom.cluster_name!r}"
            )
            fixes.append(
                "sync kube-prometheus-stack (prometheusSpec.externalLabels comes from "
                "prometheus.cluster_label/cluster_name)"
            )
    elif prom.remote_write:
        problems.append("remote_write is set but no cluster label: clusters merge in the store")
        fixes.append("set prometheus.cluster_label and cluster_name in bundle.yaml")
    if (prom.replicas > 1 or prom.remote_write) and prom.replica_label not in labels:
        problems.append(
            f"no {prom.replica_label} external label: the store cannot deduplicate the HA pair"
        )
        fixes.append(
            "set prometheusSpec.replicaExternalLabelName (the bundle renders "
            "prometheus.replica_label) and do not clear it"
        )
    if problems:
        return Outcome.fail("; ".join(problems), "; ".join(fixes))
    if not labels:
        return Outcome.ok("no external labels, none needed (no cluster label, no remote write)")
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return Outcome.ok(f"external labels {shown}")


def _queue(row: dict[str, Any]) -> str:
    m = row.get("metric") or {}
    return f"{m.get('remote_name') or m.get('url', '?')}@{m.get('instance', '?')}"


def _remote_write(ctx: VerifyContext) -> Outcome:
    want = ctx.cfg.prometheus.remote_write
    running = running_config(ctx).get("remote_write") or []
    if not want and not running:
        return Outcome.ok("no remote_write in bundle.yaml, none in the running Prometheus")
    running_names = {r.get("name") for r in running if isinstance(r, dict)}
    missing = [rw.name for rw in want if rw.name not in running_names]
    if missing:
        return Outcome.fail(
            f"remote_write queues {missing} are in bundle.yaml but not in the running "
            f"Prometheus config (has {sorted(n for n in running_names if n)})",
            "sync the kube-prometheus-stack Application; check the operator logs",
        )
    prom = ctx.prometheus()
    cfg = ctx.cfg
    queues = prom.query(q.rw_queues(cfg))
    if not queues:
        return Outcome.fail(
            "remote_write is configured but Prometheus exposes no "
            "prometheus_remote_storage_shards series",
            "Prometheus must scrape itself: keep prometheus.serviceMonitor.selfMonitor on",
        )
    problems: list[str] = []
    fixes: list[str] = []
    failed = prom.query(q.rw_failed(cfg))
    if failed:
        problems.append(
            f"samples failed in the last {q.RW_WINDOW}: "
            + ", ".join(f"{_queue(r)} {float(r['value'][1]):.0f}" for r in failed[:4])
        )
        fixes.append("the store rejects writes: check its URL, auth Secret and limits")
    relabelled = any(rw.only_bundle_series for rw in want)
    dropped = [] if relabelled else prom.query(q.rw_dropped(cfg))
    if dropped:
        problems.append(
            f"samples dropped in the last {q.RW_WINDOW}: "
            + ", ".join(f"{_queue(r)} {float(r['value'][1]):.0f}" for r in dropped[:4])
        )
        fixes.append("samples older than the queue kept, or unknown series: see Prometheus logs")
    lag = [r for r in prom.query(q.rw_lag(cfg)) if float(r["value"][1]) > MAX_LAG_S]
    if lag:
        problems.append(
            "queues behind: "
            + ", ".join(f"{_queue(r)} {float(r['value'][1]):.0f}s" for r in lag[:4])
        )
        fixes.append(
            f"more than {MAX_LAG_S:.0f}s behind: the store is down or slow; raise "
            "queue.max_shards if shards are at their maximum"
        )
    short = prom.query(q.rw_shards_short(cfg))
    if short:
        problems.append("shards at maximum: " + ", ".join(_queue(r) for r in short[:4]))
        fixes.append("raise prometheus.remote_write[].queue.max_shards or send fewer series")
    if problems:
        return Outcome.fail("; ".join(problems), "; ".join(fixes))
    note = " (dropped samples not judged: write relabelling drops on purpose)" if relabelled else ""
    return Outcome.ok(
        f"{len(queues)} remote-write queue(s) healthy: no failed samples in "
        f"{q.RW_WINDOW}, lag under {MAX_LAG_S:.0f}s, shards below maximum{note}"
    )


P = ("prometheus.ready",)
CHECKS = [
    Check(
        "prometheus.external_labels",
        "stack",
        "external labels (cluster, replica)",
        _external_labels,
        P,
        local=True,
    ),
    Check("prometheus.remote_write", "stack", "remote write healthy", _remote_write, P, True),
]
