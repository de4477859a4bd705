"""`obsctl demo`: the whole monitoring path on this machine, with load, until stopped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from observability.autoscaling.evaluate import Desired, desired_now
from observability.commands._common import ConfigOption, die, load_bundle
from observability.commands._running import running, watch
from observability.commands.sim import (
    KV_METRICS_HELP,
    KV_OFFLOAD_HELP,
    NIXL_HELP,
    SPEC_DECODE_HELP,
    check_flags,
)
from observability.config import BundleConfig
from observability.local.models import ModelsError, parse_models
from observability.promapi import PromError, Prometheus

if TYPE_CHECKING:
    from observability.engine.targets import ExternalTarget
    from observability.local.stack import LocalStack


def print_urls(stack: LocalStack) -> None:
    s = stack.running
    typer.echo(f"Prometheus        {s.prometheus_url}  (UI: /graph, alerts: /alerts)")
    typer.echo(f"Alertmanager API  {s.alertmanager_url}/api/v2/alerts")
    typer.echo(f"Webhook sink      {s.webhook_url}/notifications")
    typer.echo(f"Simulator admin   {s.sim_admin_url}/faults")
    for r in s.replicas:
        kind = "" if r.engine == "sim" else f", {r.engine}"
        typer.echo(f"vLLM {r.namespace}/{r.pod:<28} {r.url}  ({r.model}{kind})")
    for n in s.nodes:
        typer.echo(f"DCGM {n.node:<33} http://127.0.0.1:{n.dcgm_port}/metrics")
    if s.snapshot_url:
        typer.echo(
            f"Snapshot page     {s.snapshot_url}  (the single pane, last 15m, reloads "
            "every 15 s; ?range=1h)"
        )
    typer.echo(f"State file        {stack.state_file}")


def check_targets(urls: list[str]) -> tuple[ExternalTarget, ...]:
    """Each --target parsed and reached; exits 2 with one line on the first bad one."""
    from observability.engine.targets import TargetError, check_target, parse_target

    out = []
    for url in urls:
        try:
            out.append(check_target(parse_target(url)))
        except TargetError as err:
            die(str(err))
    return tuple(out)


def keda_desired(stack: LocalStack, cfg: BundleConfig) -> list[Desired]:
    """The ScaledObject query of each Deployment-served demo model, evaluated here."""
    if not cfg.autoscaling.keda.enabled:
        return []
    from observability import runtimes

    keys = [
        k
        for k in dict.fromkeys(r.model_key for r in stack.running.replicas)
        if runtimes.runtime_of(cfg, k).uses_vllm_deployment
    ]
    with Prometheus(stack.prometheus_url, timeout=3.0) as prom:
        return desired_now(prom, cfg, keys)


def demo(
    duration: float = typer.Option(
        0,
        "--duration",
        "-d",
        min=0,
        help="Stop after running this many seconds once every target is up (0 = until Ctrl-C).",
    ),
    replicas: int = typer.Option(2, "--replicas", min=1, max=16, help="Replicas per model."),
    models: str = typer.Option(
        "",
        "--models",
        help="Models to run: a count (3: the first deployed model, then registry models, new "
        "namespaces first) or bundle.yaml keys a,b,c (key=namespace moves one). Each gets the "
        "rules of a deployed model. Default: 2.",
    ),
    profile: str = typer.Option(
        "standard", "--profile", help="standard (bundle timing) or fast (1s scrape, short for)."
    ),
    vllm_version: str = typer.Option(
        "latest", "--vllm-version", help="Simulated vLLM metric profile (0.7.3, latest, ...)."
    ),
    users: int = typer.Option(6, "--users", min=0, help="Load users (0 = no load)."),
    rate: float = typer.Option(3.0, "--rate", min=0, help="Requests/s over all users."),
    interval: float = typer.Option(5.0, "--interval", min=1, help="Seconds between summaries."),
    runtime: str = typer.Option(
        "",
        "--runtime",
        help="Serve the first demo model through this runtime (vllm, rayservice, aibrix): "
        "its exporter's names, scraped through its rendered monitor and mapping rules.",
    ),
    ray_version: str = typer.Option(
        "",
        "--ray-version",
        help="With --runtime rayservice: the Ray release whose names the simulator exports "
        "(2.58.0: ray_vllm_<name> with ReplicaId, vLLM 0.26.0; 2.49.2: ray_vllm:<name>, "
        "vLLM 0.10.1). Default: the bundle's pinned ray-llm image.",
    ),
    inference_pool: bool = typer.Option(
        False,
        "--inference-pool",
        help="Route the demo models of the first model's namespace through an InferencePool: "
        "the simulator serves its endpoint picker (llm-d-router 0.10.0 names, behind a "
        "bearer token), scraped through the rendered monitor, with the router alerts and "
        "single-pane row (docs/router.md).",
    ),
    keda: bool = typer.Option(
        False,
        "--keda",
        help="Show the replicas KEDA would ask for (its ScaledObject query, evaluated here) "
        "even when autoscaling.keda.enabled is false.",
    ),
    clusters: int = typer.Option(
        1,
        "--clusters",
        min=1,
        max=8,
        help="Simulated clusters; 2+ remote-write into one central VictoriaMetrics.",
    ),
    prometheus_replicas: int = typer.Option(
        0,
        "--prometheus-replicas",
        min=0,
        max=4,
        help="Prometheus per cluster with --clusters (0 = bundle's prometheus.replicas).",
    ),
    prove: bool = typer.Option(
        False,
        "--prove",
        help="With --clusters 2+: check clusters apart, a fault's alert and a central-store "
        "outage, print the measurements and exit (0 = all passed).",
    ),
    outage: float = typer.Option(
        60.0, "--outage", min=1, max=600, help="Seconds the central store is down in --prove."
    ),
    json_out: bool = typer.Option(False, "--json", help="With --prove: the result as JSON."),
    engine: str = typer.Option(
        "sim",
        "--engine",
        help="sim (simulated replicas only) or vllm-cpu: --real-replicas more replicas of the "
        "first model are real vLLM servers on CPU serving a tiny model made on the spot "
        "(needs `bash scripts/setup.sh --real`; docs/real-engine.md).",
    ),
    real_replicas: int = typer.Option(
        1, "--real-replicas", min=1, max=4, help="With --engine vllm-cpu: real vLLM servers."
    ),
    targets: list[str] = typer.Option(
        [],
        "--target",
        help="Base URL (http://HOST:PORT) of a vLLM server that already runs, scraped as a "
        "replica with the bundle's labels and rules (repeatable; never sent load).",
    ),
    spec_decode: int = typer.Option(
        0, "--spec-decode", min=0, max=16, help=SPEC_DECODE_HELP, show_default=False
    ),
    kv_cache_metrics: bool = typer.Option(False, "--kv-cache-metrics", help=KV_METRICS_HELP),
    kv_offload: str = typer.Option("", "--kv-offload", help=KV_OFFLOAD_HELP, show_default=False),
    nixl: bool = typer.Option(
        False,
        "--nixl",
        help=NIXL_HELP + " With --inference-pool the pool is disaggregated "
        "(gateway.inference_pool.disaggregation: VLLMNixlTransferFailures).",
    ),
    config: Path = ConfigOption,
) -> None:
    """Run Prometheus, Alertmanager, simulated vLLM replicas and GPUs, a webhook sink and
    load, configured from the bundle's own ServiceMonitors, rules and routing."""
    if profile not in ("standard", "fast"):
        die(f"unknown --profile {profile!r}: use standard or fast")
    if prove and clusters < 2:
        die("--prove checks several clusters: add --clusters 2")
    if engine not in ("sim", "vllm-cpu"):
        die(f"unknown --engine {engine!r}: use sim or vllm-cpu")
    if clusters > 1 and (engine != "sim" or targets):
        die("--engine vllm-cpu and --target run with one cluster: drop --clusters")
    real = real_replicas if engine == "vllm-cpu" else 0
    if real:
        from observability.engine.server import MissingEngineError, require_engine

        try:
            require_engine(config.resolve().parent)
        except MissingEngineError as err:
            die(str(err))
    external = check_targets(targets)
    flags = check_flags(vllm_version, spec_decode, kv_cache_metrics, kv_offload, nixl)
    cfg = load_bundle(config)
    try:
        chosen = parse_models(cfg, models) if models else ()
    except ModelsError as err:
        die(str(err))
    from observability.local.stack import LocalStack, StackOptions, with_runtime  # [demo]
    from observability.local.summary import read_summary

    if runtime:
        from observability import runtimes

        if runtime not in runtimes.REGISTRY:
            die(f"unknown --runtime {runtime!r}: use one of {', '.join(runtimes.REGISTRY)}")
        cfg = with_runtime(cfg, runtime, chosen[0][0] if chosen else None)
    if ray_version:
        from observability.runtimes.rayservice import with_ray_version

        try:
            cfg = with_ray_version(cfg, ray_version)
        except ValueError as err:
            die(str(err))
    if inference_pool:
        from observability.local.router import with_inference_pool

        cfg = with_inference_pool(cfg, chosen, disaggregation=nixl)
    if keda:
        auto = cfg.autoscaling.model_copy(
            update={"keda": cfg.autoscaling.keda.model_copy(update={"enabled": True})}
        )
        cfg = cfg.model_copy(update={"autoscaling": auto})
    opts = StackOptions(
        cfg=cfg,
        repo_root=config.resolve().parent,
        profile=profile,
        replicas=replicas,
        models=chosen,
        vllm_version=vllm_version,
        load=users > 0,
        users=max(users, 1),
        rate=rate,
        real_replicas=real,
        targets=external,
        sim_flags=flags,
    )
    if clusters > 1:
        from observability.commands.demo_clusters import run_clusters

        run_clusters(
            opts,
            clusters=clusters,
            prometheus_replicas=prometheus_replicas or None,
            duration=duration,
            interval=interval,
            prove=prove,
            outage=outage,
            json_out=json_out,
        )
        return
    stack = LocalStack(opts)

    def summary() -> list[str]:
        now = time.strftime("%H:%M:%S")
        try:
            lines = [f"[{now}] {read_summary(stack.prometheus_url).line()}"]
            return lines + [f"           {d.line()}" for d in keda_desired(stack, cfg)]
        except (OSError, PromError) as err:
            return [f"[{now}] Prometheus not answering: {err}"]

    started = time.monotonic()
    with running(stack):
        stack.start(progress=lambda m: typer.echo(f"- {m}"))
        typer.echo(f"all targets up after {time.monotonic() - started:.1f}s\n")
        print_urls(stack)
        watch(stack, duration, interval, summary)  # --duration counts from here
