"""Helpers for the local-stack tests: a throwaway exporter and a Prometheus run."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from observability.local.binaries import find_binary
from observability.local.ports import PortAllocator
from observability.local.prometheus import start_prometheus
from observability.process import Supervisor


@contextmanager
def exporter(ports: PortAllocator) -> Iterator[int]:
    """A prometheus_client exporter with one gauge and one counter (has `_created`)."""
    reg = CollectorRegistry()
    Gauge("vllm:num_requests_running", "running", ["model_name"], registry=reg).labels("m").set(3)
    Counter("vllm:request_success", "ok", ["model_name"], registry=reg).labels("m").inc()
    port = ports.one()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=reg)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def prometheus(config: dict[str, Any], tmp: Path, ports: PortAllocator) -> Iterator[str]:
    sup = Supervisor(tmp / "logs")
    try:
        _, url = start_prometheus(sup, config, tmp, ports.one(), config_name="p.yml")
        yield url
    finally:
        sup.stop()


def query(url: str, expr: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as r:
        return json.loads(r.read())["data"]["result"]


def wait_for(fn: Any, timeout: float, interval: float = 0.2) -> Any:
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            return got
        time.sleep(interval)


def promtool_check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_binary("promtool")), "check", "config", "--syntax-only", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
