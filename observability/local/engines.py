"""The demo's replicas that are not simulated: real vLLM servers on CPU (`--engine
vllm-cpu`) and servers that already run (`--target URL`). Both join the simulator's
manifest as the replicas Kubernetes discovery would find, so Prometheus scrapes them with
the labels the bundle's monitors give a vLLM pod."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from observability.config import BundleConfig
from observability.engine.server import EngineServer, EngineSpec, require_engine
from observability.engine.targets import ExternalTarget
from observability.engine.tinymodel import ensure_tiny_model
from observability.local.models import DemoModels
from observability.local.ports import PortAllocator
from observability.process import Supervisor
from observability.runtimes import runtime_of

if TYPE_CHECKING:
    from observability.local.stack import StackOptions

__all__ = ["add_replicas", "real_model", "start_engines"]

Say = Callable[[str], None]


def real_model(cfg: BundleConfig, models: DemoModels) -> str:
    """The demo model the real engines serve: the first one a vLLM Deployment runs."""
    for key, _ns in models:
        if runtime_of(cfg, key).uses_vllm_deployment:
            return key
    raise RuntimeError("a real vLLM needs a demo model served by a vLLM Deployment")


def start_engines(
    cfg: BundleConfig,
    models: DemoModels,
    opts: StackOptions,
    sup: Supervisor,
    ports: PortAllocator,
    say: Say,
) -> list[EngineServer]:
    """Start `opts.real_replicas` real vLLM servers on CPU (without waiting for them),
    each with `opts.engine_args` added to its command line."""
    replicas = opts.real_replicas
    if not replicas:
        return []
    python = require_engine(opts.repo_root)
    say("making the tiny model (once; cached)")
    model_dir = ensure_tiny_model(python)
    key = real_model(cfg, models)
    engines = [
        EngineServer(
            EngineSpec(
                model_dir, cfg.models[key].served_name, ports.one(), extra_args=opts.engine_args
            ),
            python,
            name=f"vllm-cpu-{i}",
            sup=sup,
        ).start()
        for i in range(replicas)
    ]
    say(f"starting {replicas} real vLLM server(s) on CPU for {key}")
    return engines


def add_replicas(
    cfg: BundleConfig,
    models: DemoModels,
    manifest: dict[str, Any],
    engines: list[EngineServer],
    targets: tuple[ExternalTarget, ...],
) -> None:
    """Add the (ready) real servers and the --target servers to the manifest as replicas;
    a target serving another demo model's name joins that model."""
    if not engines and not targets:
        return
    key = real_model(cfg, models)
    by_name = {cfg.models[k].served_name: (k, ns) for k, ns in models}
    ns = dict(models)[key]
    replicas = manifest.setdefault("replicas", [])
    for i, engine in enumerate(engines):
        replicas.append(_replica(cfg, key, ns, f"cpu-{i}", engine.spec.port, "vllm-cpu"))
    for i, t in enumerate(targets):
        k, n = by_name.get(t.served_name, (key, ns))
        served = t.served_name or cfg.models[k].served_name
        replicas.append(
            {
                **_replica(cfg, k, n, f"target-{i}", t.port, "external", served),
                "address": t.address,
            }
        )


def _replica(
    cfg: BundleConfig, key: str, ns: str, suffix: str, port: int, engine: str, served: str = ""
) -> dict[str, Any]:
    return {
        "pod": f"vllm-{key}-{suffix}",
        "namespace": ns,
        "service": f"vllm-{key}",
        "container": "vllm",
        "model": served or cfg.models[key].served_name,
        "model_key": key,
        "port": port,
        "node": "cpu-node-0",
        "gpus": [],
        "runtime": "vllm",
        "engine": engine,
    }
