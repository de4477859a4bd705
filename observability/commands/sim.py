"""`obsctl sim`: simulated vLLM replicas and DCGM exporters; `obsctl sim fault` switches faults."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer

from observability.commands._common import ConfigOption, die, load_bundle, print_json
from observability.commands._http import TimeoutOption, check_url
from observability.config import BundleConfig
from observability.httppool import shared_client
from observability.metrics.catalog import available_vllm_versions
from observability.sim.faults import FAULTS, FaultError
from observability.sim.latency import DEFAULT_PROFILE, available_profiles

if TYPE_CHECKING:
    from observability.sim.cluster import SimCluster, SimConfig
    from observability.sim.flags import SimFlags

__all__ = ["app", "sim_config_from_bundle"]

app = typer.Typer(no_args_is_help=False, add_completion=False, pretty_exceptions_enable=False)

# The serve flags and KV connectors whose families vLLM registers only when on
# (sim/flags.py); `obsctl demo` takes the same options.
SPEC_DECODE_HELP = "Speculative decoding with N draft tokens (--speculative-config): spec_decode_*."
KV_METRICS_HELP = "vLLM's --kv-cache-metrics: kv_block_* residency histograms (>= 0.26)."
KV_OFFLOAD_HELP = (
    "KV offload connector: cpu (OffloadingConnector, kv_offload_*) or simple "
    "(SimpleCPUOffloadConnector, simple_kv_offload_*); newest catalog only."
)
NIXL_HELP = (
    "NixlConnector prefill/decode pairs (even replicas prefill, odd decode): nixl_*, "
    "num_requests_kv_fetch_by_stage; newest catalog only."
)


def sim_config_from_bundle(
    cfg: BundleConfig, models: str | None, namespace: str | None, **kwargs: Any
) -> SimConfig:
    """SimConfig for `--models a,b` (or `key=namespace`) from bundle.yaml's model registry."""
    from observability.runtimes import runtime_of
    from observability.sim.cluster import SimConfig, SimModel  # the [demo] extra

    wanted = [m.strip() for m in models.split(",") if m.strip()] if models else cfg.vllm.deploy
    out = []
    for item in wanted:
        key, _, ns = item.partition("=")
        if key not in cfg.models:
            raise ValueError(
                f"--models: {key!r} is not in bundle.yaml models ({', '.join(cfg.models)})"
            )
        ns = ns or namespace or cfg.model_namespace(key)
        rt = runtime_of(cfg, key)
        out.append(SimModel.from_profile(key, cfg.models[key], ns, rt.sim_exporter(cfg)))
    return SimConfig(models=tuple(out), monitoring_namespace=cfg.namespaces.monitoring, **kwargs)


def check_flags(
    vllm_version: str, spec_decode: int, kv_cache_metrics: bool, kv_offload: str, nixl: bool
) -> SimFlags:
    """The flag options as SimFlags; exits 2 with one line when the version cannot serve
    one of them (sim/flags.py)."""
    from observability.metrics.catalog import vllm_catalog
    from observability.sim.flags import SimFlags, flag_families

    try:
        flags = SimFlags(spec_decode, kv_cache_metrics, kv_offload, nixl)
        flag_families(vllm_catalog(vllm_version), flags, "both")
    except (ValueError, LookupError) as err:
        die(str(err))
    return flags


def _parse_fault(spec: str) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    """NAME[@TARGET][:k=v,...] -> (name, target, params)."""
    head, _, params = spec.partition(":")
    name, _, target = head.partition("@")
    pairs = []
    for kv in filter(None, params.split(",")):
        k, sep, v = kv.partition("=")
        if not sep:
            raise ValueError(f"--fault {spec!r}: params are k=v pairs, e.g. slow-gpu:factor=5")
        pairs.append((k, v))
    if name not in FAULTS:
        raise ValueError(f"--fault: unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return name, target or "all", tuple(pairs)


@app.callback(invoke_without_command=True)
def sim(
    ctx: typer.Context,
    replicas: int = typer.Option(1, "--replicas", min=1, max=1000, help="Replicas per model."),
    port: int = typer.Option(8000, "--port", help="First replica port (P, P+1, ...)."),
    vllm_version: str = typer.Option(
        "latest", "--vllm-version", help="Metric catalog: 0.7.3, latest or another profile."
    ),
    models: str = typer.Option(None, "--models", help="bundle.yaml model keys, a,b or key=ns."),
    namespace: str = typer.Option(None, "--namespace", help="Pod namespace (default: bundle)."),
    admin_port: int = typer.Option(9300, "--admin-port", help="Admin API port."),
    dcgm_port: int = typer.Option(9400, "--dcgm-port", help="First DCGM exporter port."),
    gpus_per_node: int = typer.Option(4, "--gpus-per-node", min=1, max=16),
    manifest_out: Path = typer.Option(None, "--manifest-out", help="Write manifest JSON here."),
    seed: int = typer.Option(0, "--seed"),
    time_scale: float = typer.Option(
        1.0, "--time-scale", min=0.001, help="Wall seconds per simulated second (0.1 = 10x fast)."
    ),
    profile: str = typer.Option(
        DEFAULT_PROFILE,
        "--gpu-profile",
        "--profile",
        help=f"GPU/model latency profile: {', '.join(available_profiles())} (`--profile` is "
        "the old name; demo and scenario use --profile for their timing profile).",
    ),
    fault: list[str] = typer.Option(
        [], "--fault", help="Start with a fault: NAME[@TARGET][:k=v,...]."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address."),
    spec_decode: int = typer.Option(
        0, "--spec-decode", min=0, max=16, help=SPEC_DECODE_HELP, show_default=False
    ),
    kv_cache_metrics: bool = typer.Option(False, "--kv-cache-metrics", help=KV_METRICS_HELP),
    kv_offload: str = typer.Option("", "--kv-offload", help=KV_OFFLOAD_HELP, show_default=False),
    nixl: bool = typer.Option(False, "--nixl", help=NIXL_HELP),
    config: Path = ConfigOption,
) -> None:
    """Run simulated vLLM replicas and DCGM exporters in the foreground (Ctrl-C stops)."""
    if ctx.invoked_subcommand is not None:
        return
    if vllm_version != "latest" and vllm_version not in available_vllm_versions():
        die(
            f"--vllm-version {vllm_version}: no catalog; use latest or one of "
            f"{', '.join(available_vllm_versions())}"
        )
    if profile not in available_profiles():
        die(f"--gpu-profile {profile}: unknown; use one of {', '.join(available_profiles())}")
    flags = check_flags(vllm_version, spec_decode, kv_cache_metrics, kv_offload, nixl)
    bundle = load_bundle(config)
    try:
        faults = tuple(_parse_fault(f) for f in fault)
        cfg = sim_config_from_bundle(
            bundle,
            models,
            namespace,
            replicas=replicas,
            port=port,
            vllm_version=vllm_version,
            admin_port=admin_port,
            dcgm_port=dcgm_port,
            gpus_per_node=gpus_per_node,
            seed=seed,
            time_scale=time_scale,
            profile=profile,
            host=host,
            faults=faults,
            flags=flags,
        )
        from observability.sim.cluster import SimCluster

        cluster = SimCluster(cfg)
    except (ValueError, LookupError) as err:
        die(str(err))
    try:
        asyncio.run(_serve(cluster, manifest_out))
    except OSError as err:
        die(str(err))
    except FaultError as err:
        die(f"--fault: {err}")


async def _serve(cluster: SimCluster, manifest_out: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    t0 = time.monotonic()

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            sys.stderr.write(f"\rlistening on {done}/{total} ports")
            sys.stderr.flush()

    manifest = await cluster.start(progress)
    sys.stderr.write("\n")
    if manifest_out:
        manifest_out.write_text(json.dumps(manifest, indent=2) + "\n")
    reps, nodes = manifest["replicas"], manifest["nodes"]
    typer.echo(
        f"sim ready in {time.monotonic() - t0:.2f}s: {len(reps)} vLLM {manifest['vllm_version']} "
        f"replicas on ports {reps[0]['port']}-{reps[-1]['port']}, {len(nodes)} DCGM exporters "
        f"from {nodes[0]['dcgm_port']}, admin on {cluster.cfg.admin_port}. Ctrl-C stops."
    )
    try:
        await stop.wait()
    finally:
        typer.echo("stopping sim...", err=True)
        await cluster.stop()
        typer.echo("sim stopped; all ports closed", err=True)


@app.command("fault")
def fault_cmd(
    name: str = typer.Argument(None, help=f"Fault: {', '.join(FAULTS)}. Omit with --clear."),
    target: str = typer.Option("all", "--target", help="Pod name, node name, or all."),
    param: list[str] = typer.Option([], "--param", help="k=v, e.g. --param factor=5."),
    clear: bool = typer.Option(False, "--clear", help="Remove NAME, or every fault."),
    admin: str = typer.Option("http://127.0.0.1:9300", "--admin", help="Sim admin URL."),
    as_json: bool = typer.Option(False, "--json", help="Print the active faults as JSON."),
    timeout: float = TimeoutOption(5.0, "the sim admin API"),
) -> None:
    """Switch a fault on (or off with --clear) in a running `obsctl sim`."""
    base = check_url(admin, "--admin", "http://127.0.0.1:9300")
    try:
        if clear:
            resp = httpx.delete(
                f"{base}/faults/{name}" if name else f"{base}/faults", timeout=timeout
            )
        else:
            if not name:
                die("give a fault NAME (or --clear)")
            params = dict(p.partition("=")[::2] for p in param)
            body = {"fault": name, "target": target, "params": params}
            resp = shared_client().post(f"{base}/faults", json=body, timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL) as err:
        die(
            f"sim admin API at {base} unreachable ({type(err).__name__}): start `obsctl sim` "
            "or pass --admin URL"
        )
    try:
        data = resp.json()
    except ValueError:
        die(f"{base} answered HTTP {resp.status_code} without JSON: is --admin the sim admin URL?")
    if resp.status_code != 200 or not isinstance(data, dict) or "active" not in data:
        error = data.get("error") if isinstance(data, dict) else None
        die(str(error or f"{base} answered HTTP {resp.status_code}: {resp.text[:200]}"))
    if as_json:
        print_json(data)
    else:
        active = data["active"]
        typer.echo(
            "active faults: " + (", ".join(f"{f['fault']}@{f['target']}" for f in active) or "none")
        )
