#!/usr/bin/env python3
"""How many simulated replicas one core sustains: startup, scrape cost, streamed tokens/s.

    python bench/sim_capacity.py [--replicas 100] [--seconds 10] [--rps 0.2]

Runs the sim in a subprocess (`obsctl sim`), scrapes every replica and DCGM exporter once
a second (as a 1 s Prometheus scrape would) while a client streams completions at
`--rps` requests/s per replica, and reads the sim process's CPU time. Prints ratios
measured side by side in this one run: CPU cores used by the sim, replicas per core,
streamed tokens/s per core, and startup time to all healthy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability.httppool import race_free_limits  # noqa: E402
from observability.local.ports import PortAllocator  # noqa: E402

# Held for the whole run: the sim subprocess binds them; a concurrent demo skips them.
_PORTS = PortAllocator()


def _free_base(n: int) -> int:
    return _PORTS.block(n)


async def _scraper(client: httpx.AsyncClient, urls: list[str], stop: float) -> int:
    n = 0
    while time.monotonic() < stop:
        t = time.monotonic()
        await asyncio.gather(*(client.get(u) for u in urls))
        n += len(urls)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
    return n


async def _streamer(
    client: httpx.AsyncClient, url: str, model: str, rps: float, stop: float
) -> int:
    tokens = 0
    await asyncio.sleep(random.random() / rps)
    while time.monotonic() < stop:
        body = {
            "model": model,
            "prompt": "benchmark prompt " * 20,
            "max_tokens": 64,
            "stream": True,
            "ignore_eos": True,
        }
        async with client.stream("POST", url, json=body) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data: {"):
                    tokens += 1
        await asyncio.sleep(random.expovariate(rps))
    return tokens


async def _drive(
    manifest: dict, seconds: float, rps: float, scrape: bool, stream: bool
) -> tuple[int, int]:
    # httpx's default limits close pooled connections under their requests once the loop
    # lags (observability/httppool.py): that, not the sim, was the ReadError at 200 replicas
    async with httpx.AsyncClient(timeout=30, limits=race_free_limits()) as client:
        stop = time.monotonic() + seconds
        urls = [f"http://127.0.0.1:{r['port']}/metrics" for r in manifest["replicas"]]
        urls += [f"http://127.0.0.1:{n['dcgm_port']}/metrics" for n in manifest["nodes"]]
        jobs = [_scraper(client, urls, stop)] if scrape else []
        for r in manifest["replicas"] if stream else []:
            url = f"http://127.0.0.1:{r['port']}/v1/completions"
            jobs.append(_streamer(client, url, r["model"], rps, stop))
        res = await asyncio.gather(*jobs)
        return (res[0] if scrape else 0), sum(res[1 if scrape else 0 :])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rps", type=float, default=0.2, help="requests/s per replica")
    args = ap.parse_args()
    base = _free_base(args.replicas + 64)
    with tempfile.TemporaryDirectory() as tmp:
        manifest_path = Path(tmp, "manifest.json")
        cmd = [
            sys.executable,
            "-m",
            "observability.cli",
            "sim",
            "--replicas",
            str(args.replicas),
            "--port",
            str(base),
            "--dcgm-port",
            str(base + args.replicas),
            "--admin-port",
            str(base + args.replicas + 60),
            "--gpus-per-node",
            "8",
            "--manifest-out",
            str(manifest_path),
        ]
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ}
        )
        try:
            while not manifest_path.exists():
                if proc.poll() is not None:
                    raise SystemExit("sim exited early")
                time.sleep(0.02)
            startup = time.monotonic() - t0
            while True:  # the sim writes the manifest while we poll for it
                try:
                    manifest = json.loads(manifest_path.read_text())
                    break
                except ValueError:
                    time.sleep(0.05)
            ps = psutil.Process(proc.pid)
            phases = {}
            for phase, scrape, stream in (
                ("scrape", True, False),
                ("stream", False, True),
                ("both", True, True),
            ):
                cpu0, w0 = sum(ps.cpu_times()[:2]), time.monotonic()
                done = asyncio.run(_drive(manifest, args.seconds, args.rps, scrape, stream))
                wall = time.monotonic() - w0
                phases[phase] = (sum(ps.cpu_times()[:2]) - cpu0, wall, *done)
            rss = ps.memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(10)
    n = args.replicas
    targets = n + len(manifest["nodes"])
    cpu_s, wall_s, scrapes, _ = phases["scrape"]
    cpu_t, wall_t, _, tokens = phases["stream"]
    cpu_b, wall_b, scrapes_b, tokens_b = phases["both"]
    per_scrape = cpu_s / max(scrapes, 1)
    per_token = cpu_t / max(tokens, 1)
    # one replica at a 1 s scrape (+ its share of DCGM exporters) and the offered stream load
    tokens_per_replica_s = tokens / wall_t / n
    per_replica = per_scrape * targets / n + per_token * tokens_per_replica_s
    print(
        f"replicas={n} dcgm_exporters={len(manifest['nodes'])} "
        f"startup_to_all_healthy_s={startup:.2f} rss_mib={rss:.0f}"
    )
    print(
        f"sim cpu per /metrics scrape: {per_scrape * 1e3:.2f} ms "
        f"({scrapes} scrapes in {wall_s:.1f} s, {cpu_s / wall_s:.2f} cores)"
    )
    print(
        f"sim cpu per streamed token: {per_token * 1e6:.0f} us "
        f"({tokens} tokens in {wall_t:.1f} s, {cpu_t / wall_t:.2f} cores)"
    )
    print(
        f"combined phase: {scrapes_b / wall_b:.0f} scrapes/s + {tokens_b / wall_b:.0f} "
        f"tokens/s used {cpu_b / wall_b:.2f} cores"
    )
    print(f"=> replicas per core at 1 s scrape + {args.rps} req/s each: {1 / per_replica:.0f}")
    print(f"=> streamed tokens/s per core: {1 / per_token:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
