"""Shared helpers for the simulator tests: a config on reserved ports, a running sim,
scrape parsing. conftest.py's `make_sim` fixture starts sims from these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client.parser import text_string_to_metric_families

from observability.httppool import shared_client
from observability.local.ports import PortAllocator
from observability.runtimes import get as get_runtime
from observability.runtimes.base import SIM_RAY
from observability.sim import SimConfig, SimModel, SimThread
from observability.sim.cluster import gpu_nodes

MODEL = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"


# Ports stay reserved (lock files shared with `obsctl demo`) for the test session.
_PORTS = PortAllocator()


def free_port() -> int:
    """A free port, reserved for the session (a Prometheus beside a sim)."""
    return _PORTS.one()


def sim_config(
    models: tuple[SimModel, ...] = (),
    replicas: int = 1,
    gpus_per_node: int = 4,
    ksm: bool = False,
    **kw: object,
) -> SimConfig:
    """A SimConfig whose every port is reserved here: replicas, DCGM exporters (one per
    node), admin, kube-state-metrics when `ksm`, a Ray head per Ray model and the AIBrix
    gateway and controller when a model needs them. Tests never compute ports."""
    models = models or (SimModel("deepseek-r1-distill-llama-8b", MODEL, max_model_len=8192),)
    n_replicas = replicas * len(models)
    nodes = gpu_nodes(models, replicas, gpus_per_node)
    heads = sum(1 for m in models if get_runtime(m.runtime).sim_mode == SIM_RAY)
    if heads:
        kw.setdefault("head_port", _PORTS.block(heads))
    if any(get_runtime(m.runtime).sim_gateway for m in models):
        kw.setdefault("aibrix_port", _PORTS.block(2))  # gateway plugins, controller
    return SimConfig(
        models=models,
        replicas=replicas,
        gpus_per_node=gpus_per_node,
        port=_PORTS.block(n_replicas),
        dcgm_port=_PORTS.block(nodes),
        admin_port=_PORTS.one(),
        ksm_port=_PORTS.one() if ksm else 0,
        **kw,  # type: ignore[arg-type]
    )


@contextmanager
def running_sim(version: str = "latest", replicas: int = 1, **kw: object) -> Iterator[SimThread]:
    """A sim on free ports; time_scale 0.02 makes a 100-token request take ~30 ms."""
    kw.setdefault("time_scale", 0.02)
    with SimThread(sim_config(replicas=replicas, vllm_version=version, **kw)) as sim:
        yield sim


def scrape(port: int, path: str = "/metrics") -> str:
    return shared_client().get(f"http://127.0.0.1:{port}{path}", timeout=5).text


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
