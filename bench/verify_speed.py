"""How fast is `obsctl verify` on a big healthy cluster, and what does concurrency buy?

Builds a fake installation of 50 GPU nodes (2 GPUs each) and 100 vLLM pods: the fake
Kubernetes API server from the test suite serving recorded objects (RBAC enforced from
the rendered ClusterRole), real Prometheus and Alertmanager scraping 150 targets, a fake
Grafana. Then runs every check through the real `kubernetes` client and the service proxy,
alternating concurrent (default workers) and sequential (workers=1) runs, and prints both
times, their ratio, each check's time, verify's own CPU time and what it asked the API
server (list and get calls, proxied Prometheus queries).

The fake fleet runs in a child process (its exporters, scraped by Prometheus, in
`--scrape-processes` more), so verify, in this process, shares no interpreter lock with
it: the CPU time printed is verify's alone. They still share the machine's cores with
Prometheus.

    .venv/bin/python bench/verify_speed.py [--rounds 3] [--nodes 50] [--pods 100] [--target 2]

The issue-sized fleet: `--nodes 500 --pods 1000 --target 3 --scrape-interval 15s
--ready-timeout 300 --no-sequential`. Prometheus evaluates the bundle's rules at the
scrape interval (1,000 pods' recording rules every second would hold both cores).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from observability.config import load_config  # noqa: E402
from observability.verify import Options, Status, VerifyRun, run_verify  # noqa: E402

GPU_NODES, GPUS_PER_NODE, VLLM_PODS = 50, 2, 100


def _fleet(args: dict[str, Any], conn: Any) -> None:
    """Child process: the fake cluster, until the parent says stop."""
    sys.path.insert(0, str(ROOT / "tests"))
    from verify_fakes.harness import Harness

    h = Harness(
        load_config(ROOT / "bundle.yaml"),
        gpu_nodes=args["nodes"],
        gpus_per_node=GPUS_PER_NODE,
        pods_per_model=args["pods"],
        scrape_interval=args["scrape_interval"],
        evaluation_interval=args["scrape_interval"],
        scrape_timeout=_scrape_timeout(args["scrape_interval"]),
        scrape_processes=args["scrape_processes"],
    )
    try:
        h.start()
        t0 = time.monotonic()
        h.wait_healthy(timeout=args["ready_timeout"])
        conn.send(("ready", str(h.kubeconfig), time.monotonic() - t0))
        while (msg := conn.recv()) != "stop":
            if msg == "routes":
                conn.send((dict(h.kube.routes), h.kube.requests, list(h.kube.denied)))
    except BaseException as err:  # reported to the parent
        conn.send(("error", f"{type(err).__name__}: {err}", 0.0))
    finally:
        h.stop()


def _scrape_timeout(interval: str) -> str:
    """Prometheus' default 10 s where the interval allows, else 90% of the interval."""
    secs = float(interval[:-2]) / 1000 if interval.endswith("ms") else float(interval[:-1])
    return "10s" if secs >= 10 else f"{int(secs * 900)}ms"


class Fleet:
    def __init__(self, **args: Any) -> None:
        mp = multiprocessing.get_context("spawn")
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=_fleet, args=(args, child), daemon=False)
        self.proc.start()
        child.close()
        if not self.conn.poll(args["ready_timeout"] + 120):
            raise TimeoutError("the fake fleet did not come up")
        state, self.kubeconfig, self.ready_s = self.conn.recv()
        if state != "ready":
            raise RuntimeError(f"the fake fleet failed: {self.kubeconfig}")

    def routes(self) -> tuple[dict[str, int], int, list[str]]:
        self.conn.send("routes")
        return self.conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send("stop")
        self.proc.join(timeout=60)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=GPU_NODES, help="GPU nodes (2 GPUs each)")
    ap.add_argument("--pods", type=int, default=VLLM_PODS, help="vLLM pods")
    ap.add_argument("--target", type=float, default=2.0, help="seconds a concurrent run may take")
    ap.add_argument(
        "--scrape-interval",
        default="2s",
        help="Prometheus scrape and rule evaluation interval of the fake fleet: 1,500 "
        "targets every 2s are 750 requests/s; a longer interval lowers that load (verify "
        "reads Prometheus the same either way)",
    )
    ap.add_argument(
        "--scrape-processes", type=int, default=2, help="exporter processes Prometheus scrapes"
    )
    ap.add_argument("--ready-timeout", type=float, default=90.0, help="seconds to wait for up")
    ap.add_argument("--no-sequential", action="store_true", help="skip the one-at-a-time runs")
    args = ap.parse_args()
    # `kill` stops the fleet too (the finally below); the child stops when its pipe closes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    nodes, pods, target = args.nodes, args.pods, args.target
    cfg = load_config(ROOT / "bundle.yaml")
    print(f"building fake cluster: {nodes} GPU nodes x {GPUS_PER_NODE} GPUs, {pods} vLLM pods")
    fleet = Fleet(
        nodes=nodes,
        pods=pods,
        scrape_interval=args.scrape_interval,
        scrape_processes=args.scrape_processes,
        ready_timeout=args.ready_timeout,
    )

    def run(workers: int = 16) -> tuple[VerifyRun, float]:
        cpu = time.process_time()
        out = run_verify(
            cfg,
            Options(http_timeout=4.0),
            kubeconfig=fleet.kubeconfig,
            workers=workers,
            check_timeout=8.0,
            total_timeout=25.0,
        )
        return out, time.process_time() - cpu

    try:
        print(f"Prometheus scraping {pods + nodes} targets after {fleet.ready_s:.1f}s")
        run()  # warm-up: imports, connection pools
        conc: list[float] = []
        cpus: list[float] = []
        seq: list[float] = []
        per_check: dict[str, list[float]] = {}
        routes: dict[str, int] = {}
        for _ in range(args.rounds):
            before = fleet.routes()[0]
            out, cpu = run()
            routes = {k: v - before.get(k, 0) for k, v in fleet.routes()[0].items()}
            for r in out.results:
                per_check.setdefault(r.id, []).append(r.seconds)
            bad = [
                f"{r.id}={r.status.value} in {r.seconds:.2f}s: {r.evidence}"
                for r in out.results
                if r.status is not Status.PASS
            ]
            if bad:
                print("not healthy:", *bad, sep="\n  ")
                _per_check(per_check)
                return 1
            conc.append(out.seconds)
            cpus.append(cpu)
            if not args.no_sequential:
                seq.append(run(workers=1)[0].seconds)
        _per_check(per_check)
        _requests(routes)
        _, total, denied = fleet.routes()
        c = statistics.median(conc)
        print(
            f"checks: {len(out.results)} (all PASS), Kubernetes API requests served in all "
            f"runs: {total}, denied: {len(denied)}"
        )
        print(f"concurrent: median {c:.2f}s  (runs {', '.join(f'{x:.2f}' for x in conc)})")
        print(
            f"verify's own CPU per concurrent run: median {statistics.median(cpus):.2f}s "
            f"(runs {', '.join(f'{x:.2f}' for x in cpus)})"
        )
        if seq:
            s = statistics.median(seq)
            print(f"sequential: median {s:.2f}s  (runs {', '.join(f'{x:.2f}' for x in seq)})")
            print(f"speed-up concurrent vs sequential: {s / c:.1f}x")
        print(f"target < {target:g} s: {'met' if c < target else 'MISSED'}")
        return 0 if c < target else 1
    finally:
        fleet.stop()


def _per_check(per_check: dict[str, list[float]]) -> None:
    """Each check's median seconds, slowest first (its wall time inside the concurrent run)."""
    print("per check (median s over the concurrent runs):")
    rows = sorted(per_check.items(), key=lambda kv: -statistics.median(kv[1]))
    for cid, xs in rows:
        print(f"  {statistics.median(xs):6.2f}  {cid}")


def _requests(routes: dict[str, int]) -> None:
    """What one concurrent run asked the API server (lists, gets, proxied paths)."""
    print(f"API server requests in the last concurrent run: {sum(routes.values())}")
    for k, v in sorted(routes.items(), key=lambda kv: (-kv[1], kv[0])):
        if v:
            print(f"  {v:4d}  {k}")


if __name__ == "__main__":
    raise SystemExit(main())
