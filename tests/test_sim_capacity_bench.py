"""bench/sim_capacity.py at 200 replicas, short: it completes (no request lost) and prints
its figures. Before the pool fix one run in three failed here with httpx.ReadError; the
race itself is pinned in tests/test_httppool.py, the figures live in docs/sim.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_capacity_bench_completes_at_200_replicas() -> None:
    run = subprocess.run(
        [sys.executable, "bench/sim_capacity.py", "--replicas", "200", "--seconds", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "replicas=200 dcgm_exporters=25" in out
    figures = {
        key: float(value) for key, value in re.findall(r"=> (.+?): (\d+)$", out, flags=re.MULTILINE)
    }
    assert set(figures) == {
        "replicas per core at 1 s scrape, idle",
        next(k for k in figures if k.startswith("replicas per core at 1 s scrape, streaming")),
        "streamed tokens/s per core",
    }, out
    assert all(v > 0 for v in figures.values()), out
    tokens = int(re.search(r"\((\d+) tokens in", out).group(1))
    assert tokens > 200 * 16, out  # every replica streamed at least a request's worth
