#!/usr/bin/env python3
"""What one vLLM replica and one GPU cost a Prometheus and its remote-write link, measured,
and storage extrapolated to 10, 100 and 1,000 replicas at the bundle's retention.

    python bench/sizing.py [--replicas 2] [--seconds 60] [--json]

Runs one simulated cluster (`obsctl demo --clusters 1` machinery: the bundle's monitors and
rules, a Prometheus remote-writing into VictoriaMetrics) under load with a 1 s scrape, then
reads from that Prometheus:
- series per vLLM replica (`count by (pod) ({job="vllm"})`), per GPU (dcgm-exporter series
  over GPUs) and what the recording rules add per model (series of the recorded names);
- remote write: compressed bytes per sample, `rate(prometheus_remote_storage_bytes_total)`
  over `rate(prometheus_remote_storage_samples_total)`.
Per-replica rates at the bundle's scrape interval follow: samples/s = series / interval,
remote-write bytes/s = samples/s x share sent x bytes per sample (share sent: the queue's
samples over the samples appended, 1 unless `--only-bundle-series` applies the keep list). Storage = samples/s x retention x bytes per sample
on disk, where the on-disk figure is Prometheus' documented 1-2 bytes per sample (the upper
end, 2): a one-minute run cannot measure compaction.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability.alerting.rules import rule_groups  # noqa: E402
from observability.config import RemoteWrite, load_config  # noqa: E402
from observability.duration import duration_seconds  # noqa: E402
from observability.local.multicluster import (  # noqa: E402
    MultiClusterStack,
    MultiOptions,
    cluster_config,
)
from observability.promapi import Prometheus  # noqa: E402

DISK_BYTES_PER_SAMPLE = 2.0  # Prometheus storage docs: 1-2 bytes per sample compressed
FLEETS = (10, 100, 1000)


def _one(prom: Prometheus, expr: str) -> float:
    rows = prom.query(expr)
    return float(rows[0]["value"][1]) if rows else 0.0


def measure(replicas: int, seconds: float, say, only_bundle_series: bool = False) -> dict:
    cfg = load_config(ROOT / "bundle.yaml")
    if only_bundle_series:  # the keep list of render/remote_write.py on the queue
        queue = RemoteWrite(name="central", url="http://store.invalid/api/v1/write")
        queue = queue.model_copy(update={"only_bundle_series": True})
        prom_cfg = cfg.prometheus.model_copy(update={"remote_write": [queue]})
        cfg = cfg.model_copy(update={"prometheus": prom_cfg})
    opts = MultiOptions.of(cfg, ROOT, clusters=1, prometheus_replicas=1, replicas=replicas, users=4)
    with MultiClusterStack(opts) as multi:
        say(f"running {seconds:.0f}s of load on {replicas} replica(s) per model")
        time.sleep(seconds)
        stack = multi.stacks[0]
        gpus = len(stack.running.nodes) * opts.stack.gpus_per_node
        pods = len(stack.running.replicas)
        models = len({r.model for r in stack.running.replicas})
        recorded = sorted(
            {
                r["record"]
                for g in rule_groups(cluster_config(cfg, "cluster-a"))
                for r in g["rules"]
                if "record" in r
            }
        )
        with Prometheus(stack.prometheus_url, timeout=30.0) as prom:
            per_pod = [float(r["value"][1]) for r in prom.query('count by (pod) ({job="vllm"})')]
            dcgm = _one(prom, 'count({job="dcgm-exporter"})')
            names = "|".join(recorded)
            rec = _one(prom, f'count({{__name__=~"{names}"}})')
            total = _one(prom, "prometheus_tsdb_head_series")
            rw_bytes = _one(prom, "sum(rate(prometheus_remote_storage_bytes_total[1m]))")
            rw_samples = _one(prom, "sum(rate(prometheus_remote_storage_samples_total[1m]))")
            appended = _one(prom, "rate(prometheus_tsdb_head_samples_appended_total[1m])")
    interval = duration_seconds(cfg.prometheus.scrape_interval)
    retention = duration_seconds(cfg.prometheus.retention)
    per_replica = sum(per_pod) / max(len(per_pod), 1)
    per_gpu = dcgm / max(gpus, 1)
    rec_per_model = rec / max(models, 1)
    bytes_per_sample = rw_bytes / rw_samples if rw_samples else 0.0
    share = rw_samples / appended if appended else 1.0  # what the queue sends of what it scrapes
    gpus_per_replica = max(cfg.models[k].gpus for k in cfg.vllm.deploy)
    unit = per_replica + gpus_per_replica * per_gpu
    out = {
        "measured": {
            "vllm_replicas": pods,
            "gpus": gpus,
            "models": models,
            "series_per_replica": round(per_replica, 1),
            "series_per_gpu": round(per_gpu, 1),
            "recording_series_per_model": round(rec_per_model, 1),
            "head_series_total": int(total),
            "remote_write_bytes_per_sample": round(bytes_per_sample, 2),
            "only_bundle_series": only_bundle_series,
            "share_of_samples_sent": round(rw_samples / appended, 3) if appended else None,
        },
        "bundle": {
            "scrape_interval_s": interval,
            "retention": cfg.prometheus.retention,
            "gpus_per_replica": gpus_per_replica,
        },
        "per_replica": {
            "series": round(unit, 1),
            "samples_per_s": round(unit / interval, 2),
            "remote_write_bytes_per_s": round(unit / interval * share * bytes_per_sample, 1),
        },
        "fleet": [],
    }
    for n in FLEETS:
        samples = n * unit / interval
        out["fleet"].append(
            {
                "replicas": n,
                "series": int(n * unit),
                "samples_per_s": round(samples, 1),
                "remote_write_kib_per_s": round(samples * share * bytes_per_sample / 1024, 1),
                "storage_gib": round(samples * retention * DISK_BYTES_PER_SAMPLE / 2**30, 2),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=2, help="vLLM replicas per model")
    ap.add_argument("--seconds", type=float, default=60.0, help="load before measuring")
    ap.add_argument(
        "--only-bundle-series",
        action="store_true",
        help="send only the series rules and panels read (the rendered keep list)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    say = (lambda m: print(f"- {m}", file=sys.stderr)) if args.json else print
    res = measure(args.replicas, args.seconds, say, args.only_bundle_series)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    m, p, b = res["measured"], res["per_replica"], res["bundle"]
    print(
        f"\nmeasured on {m['vllm_replicas']} replicas, {m['gpus']} GPUs: "
        f"{m['series_per_replica']} series per replica, {m['series_per_gpu']} per GPU, "
        f"{m['recording_series_per_model']} recorded per model, "
        f"{m['remote_write_bytes_per_sample']} remote-write bytes per sample; "
        f"{m['share_of_samples_sent']:.1%} of appended samples sent "
        f"({'keep list' if m['only_bundle_series'] else 'everything'})"
    )
    print(
        f"per replica ({b['gpus_per_replica']} GPU) at {b['scrape_interval_s']:g}s scrape: "
        f"{p['series']} series, {p['samples_per_s']} samples/s, "
        f"{p['remote_write_bytes_per_s']} B/s remote write"
    )
    print(
        f"\n| replicas | series | samples/s | remote write KiB/s | storage ({b['retention']}) GiB |"
    )
    print("|---:|---:|---:|---:|---:|")
    for f in res["fleet"]:
        print(
            f"| {f['replicas']:,} | {f['series']:,} | {f['samples_per_s']:,} | "
            f"{f['remote_write_kib_per_s']:,} | {f['storage_gib']:,} |"
        )


if __name__ == "__main__":
    main()
