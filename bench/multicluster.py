#!/usr/bin/env python3
"""Two clusters into one central store, with the full 60 s outage of that store.

    python bench/multicluster.py [--outage 60] [--prometheus-replicas 2] [--json]

The same proof as `obsctl demo --clusters 2 --prove` (tests/test_multicluster.py runs it
with a 20 s outage in CI): clusters apart in the store, the HA pair deduplicated, a GPU
fault in cluster-b alerting with cluster-b's label, and per cluster the samples of one
scrape target around the outage, source Prometheus vs central store: missing samples and
the largest gap between stored samples.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability.config import load_config  # noqa: E402
from observability.local.multicluster import MultiClusterStack, MultiOptions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outage", type=float, default=60.0)
    ap.add_argument("--prometheus-replicas", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = load_config(ROOT / "bundle.yaml")
    opts = MultiOptions.of(
        cfg, ROOT, clusters=2, prometheus_replicas=args.prometheus_replicas, users=2
    )
    say = (lambda m: print(f"- {m}", file=sys.stderr)) if args.json else (lambda m: print(f"- {m}"))
    with MultiClusterStack(opts) as multi:
        proof = multi.prove(outage_s=args.outage, say=say)
    if args.json:
        print(json.dumps(proof.to_json(), indent=2))
    else:
        print(
            "\n| cluster | outage s | source samples | stored samples | missing | largest gap s | caught up s |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in proof.clusters["_outage"]["runs"]:
            print(
                f"| {r['cluster']} | {r['outage_s']} | {r['samples_source']} | "
                f"{r['samples_central']} | {r['missing']} | {r['largest_gap_s']} | {r['catch_up_s']} |"
            )
        print(f"\nall parts passed: {proof.ok}")
    sys.exit(0 if proof.ok else 1)


if __name__ == "__main__":
    main()
