"""How fast is `obsctl verify` on a big healthy cluster, and what does concurrency buy?

Builds a fake installation of 50 GPU nodes (2 GPUs each) and 100 vLLM pods: the fake
Kubernetes API server from the test suite serving recorded objects (RBAC enforced from
the rendered ClusterRole), real Prometheus and Alertmanager scraping 150 targets, a fake
Grafana. Then runs every check through the real `kubernetes` client and the service proxy,
alternating concurrent (default workers) and sequential (workers=1) runs, and prints both
times and their ratio measured side by side in this one process.

    .venv/bin/python bench/verify_speed.py [--rounds 3] [--nodes 50] [--pods 100] [--target 2]

The issue-sized fleet: `--nodes 500 --pods 1000 --target 3 --scrape-interval 15s
--ready-timeout 240`. On a shared 2-core box (load 6-9) the fake exporter does not keep
1,500 targets up even at 15s (40 scrapes time out), so it reports "not healthy" there
before timing verify: run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from verify_fakes.harness import Harness  # noqa: E402

from observability.config import load_config  # noqa: E402
from observability.verify import Status  # noqa: E402

GPU_NODES, GPUS_PER_NODE, VLLM_PODS = 50, 2, 100


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=GPU_NODES, help="GPU nodes (2 GPUs each)")
    ap.add_argument("--pods", type=int, default=VLLM_PODS, help="vLLM pods")
    ap.add_argument("--target", type=float, default=2.0, help="seconds a concurrent run may take")
    ap.add_argument(
        "--scrape-interval",
        default="2s",
        help="Prometheus scrape interval of the fake fleet: one Python exporter answers "
        "every target, 750 requests/s at 1,500 targets every 2s; a longer interval lowers "
        "that load (verify reads Prometheus the same either way)",
    )
    ap.add_argument("--ready-timeout", type=float, default=90.0, help="seconds to wait for up")
    args = ap.parse_args()
    nodes, pods, target = args.nodes, args.pods, args.target
    cfg = load_config(ROOT / "bundle.yaml")
    print(f"building fake cluster: {nodes} GPU nodes x {GPUS_PER_NODE} GPUs, {pods} vLLM pods")
    h = Harness(
        cfg,
        gpu_nodes=nodes,
        gpus_per_node=GPUS_PER_NODE,
        pods_per_model=pods,
        scrape_interval=args.scrape_interval,
    ).start()
    try:
        t0 = time.monotonic()
        h.wait_healthy(timeout=args.ready_timeout)
        print(f"Prometheus scraping {pods + nodes} targets after {time.monotonic() - t0:.1f}s")
        h.run()  # warm-up: imports, connection pools
        conc: list[float] = []
        seq: list[float] = []
        for _ in range(args.rounds):
            run = h.run()
            bad = [
                f"{r.id}={r.status.value}: {r.evidence}"
                for r in run.results
                if r.status is not Status.PASS
            ]
            if bad:
                print("not healthy:", *bad, sep="\n  ")
                return 1
            conc.append(run.seconds)
            seq.append(h.run(workers=1).seconds)
        c, s = statistics.median(conc), statistics.median(seq)
        print(
            f"checks: {len(run.results)} (all PASS), Kubernetes API requests served in all runs: {h.kube.requests}"
        )
        print(f"concurrent: median {c:.2f}s  (runs {', '.join(f'{x:.2f}' for x in conc)})")
        print(f"sequential: median {s:.2f}s  (runs {', '.join(f'{x:.2f}' for x in seq)})")
        print(
            f"speed-up concurrent vs sequential: {s / c:.1f}x; "
            f"target < {target:g} s: {'met' if c < target else 'MISSED'}"
        )
        return 0 if c < target else 1
    finally:
        h.stop()


if __name__ == "__main__":
    raise SystemExit(main())
