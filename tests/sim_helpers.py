"""Shared fixtures for the simulator tests: free ports, a running sim, scrape parsing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from prometheus_client.parser import text_string_to_metric_families

from observability.local.ports import PortAllocator
from observability.sim import SimConfig, SimModel, SimThread

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"


# Ports stay reserved (lock files shared with `obsctl demo`) for the test session.
_PORTS = PortAllocator()


def free_range(n: int) -> int:
    """First port of `n` consecutive free ports."""
    return _PORTS.block(n)


def free_ports(n: int) -> list[int]:
    return [_PORTS.one() for _ in range(n)]


@contextmanager
def running_sim(version: str = "latest", replicas: int = 1, **kw: object) -> Iterator[SimThread]:
    """A sim on free ports; time_scale 0.02 makes a 100-token request take ~30 ms."""
    base = free_range(replicas + 2)
    cfg = SimConfig(
        models=(SimModel("deepseek-r1-distill-llama-8b", MODEL, max_model_len=8192),),
        replicas=replicas,
        port=base,
        admin_port=base + replicas + 1,
        dcgm_port=base + replicas,
        vllm_version=version,
        time_scale=float(kw.pop("time_scale", 0.02)),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    with SimThread(cfg) as sim:
        yield sim


def scrape(port: int, path: str = "/metrics") -> str:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).text


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels`."""
    total = 0.0
    for (n, lbls), v in samples(text).items():
        if n == name and all(dict(lbls).get(k) == val for k, val in labels.items()):
            total += v
    return total
