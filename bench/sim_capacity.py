#!/usr/bin/env python3
"""How many simulated replicas one core sustains: startup, scrape cost, streamed tokens/s.

    python bench/sim_capacity.py [--replicas 100] [--seconds 10] [--rps 0.2]

Runs the sim in a subprocess (`obsctl sim`) and reads its CPU time over three phases of
`--seconds` each, side by side in this one run:

1. stream: a client streams completions at `--rps` requests/s per replica (64 tokens,
   ignore_eos). This also fills every family a replica that served traffic exposes.
2. scrape: every replica and DCGM exporter scraped once a second, as a 1 s Prometheus
   scrape would, with the replicas idle (after traffic: full-size expositions).
3. both: the scrape of 2 while the stream of 1 runs; the scrape's share is the phase's
   CPU less phase 1's cost per token times the tokens streamed.

Prints CPU per scrape idle and busy, CPU per streamed token, replicas per core at a 1 s
scrape (idle, and streaming what this client achieved), streamed tokens/s per core, and
startup time to all healthy. One client process drives everything: on a 2-core machine it
cannot offer the full `--rps` at 200 replicas, so the busy figure uses the achieved rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

from observability.httppool import async_client  # noqa: E402
from observability.local.ports import PortAllocator  # noqa: E402

# Held for the whole run: the sim subprocess binds them; a concurrent demo skips them.
_PORTS = PortAllocator()


def _free_base(n: int) -> int:
    return _PORTS.block(n)


async def _scraper(clients: dict[str, httpx.AsyncClient], urls: list[str], stop: float) -> int:
    n = 0
    while time.monotonic() < stop:
        t = time.monotonic()
        await asyncio.gather(*(clients[u].get(u) for u in urls))
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
            async for chunk in resp.aiter_bytes():  # counting, not parsing: a light client
                tokens += chunk.count(b"data: {")
        # not past the phase's end: the longest of 200 waits would add ~25 s of idle wall
        await asyncio.sleep(min(random.expovariate(rps), max(0.0, stop - time.monotonic())))
    return tokens


async def _drive(
    manifest: dict, seconds: float, rps: float, scrape: bool, stream: bool
) -> tuple[int, int]:
    urls = [f"http://127.0.0.1:{r['port']}/metrics" for r in manifest["replicas"]]
    urls += [f"http://127.0.0.1:{n['dcgm_port']}/metrics" for n in manifest["nodes"]]
    async with contextlib.AsyncExitStack() as stack:
        # One client per target, like one Prometheus scrape loop per target. A single
        # client for all 425 (scrape + stream) connections rescans its whole pool on every
        # request and managed 86 scrapes/s on this machine, far from a 1 s round. httpx's
        # default limits also close pooled connections under their requests once the loop
        # lags (observability/httppool.py): that, not the sim, was the ReadError at 200
        # replicas.
        clients = {u: await stack.enter_async_context(async_client(timeout=30)) for u in urls}
        stop = time.monotonic() + seconds
        jobs = [_scraper(clients, urls, stop)] if scrape else []
        for r in manifest["replicas"] if stream else []:
            url = f"http://127.0.0.1:{r['port']}/v1/completions"
            client = clients[f"http://127.0.0.1:{r['port']}/metrics"]
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
                ("stream", False, True),
                ("scrape", True, False),
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
    per_scrape_busy = max(0.0, cpu_b - per_token * tokens_b) / max(scrapes_b, 1)
    tokens_per_replica_s = tokens / wall_t / n  # what the client achieved, per replica
    idle_replica = per_scrape * targets / n  # its scrape + its share of DCGM exporters
    busy_replica = per_scrape_busy * targets / n + per_token * tokens_per_replica_s
    print(
        f"replicas={n} dcgm_exporters={len(manifest['nodes'])} "
        f"startup_to_all_healthy_s={startup:.2f} rss_mib={rss:.0f}"
    )
    print(
        f"sim cpu per streamed token: {per_token * 1e6:.0f} us "
        f"({tokens} tokens in {wall_t:.1f} s, {cpu_t / wall_t:.2f} cores)"
    )
    print(
        f"sim cpu per /metrics scrape, idle replicas: {per_scrape * 1e3:.3f} ms "
        f"({scrapes} scrapes in {wall_s:.1f} s, {cpu_s / wall_s:.2f} cores)"
    )
    print(
        f"sim cpu per /metrics scrape, streaming replicas: {per_scrape_busy * 1e3:.3f} ms "
        f"({scrapes_b} scrapes + {tokens_b} tokens in {wall_b:.1f} s, {cpu_b / wall_b:.2f} cores)"
    )
    print(f"=> replicas per core at 1 s scrape, idle: {1 / idle_replica:.0f}")
    print(
        f"=> replicas per core at 1 s scrape, streaming {tokens_per_replica_s:.1f} tokens/s "
        f"each: {1 / busy_replica:.0f}"
    )
    print(f"=> streamed tokens/s per core: {1 / per_token:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
