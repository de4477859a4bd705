"""`obsctl scenario list|run NAME`: fault scenarios with measured alert timing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer

from observability.commands._common import EXIT_FAILED, ConfigOption, die, load_bundle, print_json
from observability.local.binaries import MissingBinaryError
from observability.local.interrupt import interrupt_on_term
from observability.local.models import ModelsError, parse_models
from observability.promapi import PromError
from observability.scenarios.catalog import REAL_ENGINE_ARGS, REAL_SCENARIOS, SCENARIOS

if TYPE_CHECKING:
    from observability.local.stack import LocalStack

app = typer.Typer(help="Named fault scenarios with measured alert timing.", no_args_is_help=True)


@app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    engine: str = typer.Option(
        "sim", "--engine", help="sim, or vllm-cpu: the scenarios caused on a real vLLM."
    ),
) -> None:
    """List scenarios and the alerts each expects."""
    if engine not in ("sim", "vllm-cpu"):
        die(f"unknown --engine {engine!r}: use sim or vllm-cpu")
    catalog = REAL_SCENARIOS if engine == "vllm-cpu" else SCENARIOS
    if as_json:
        print_json(
            [
                {
                    "name": s.name,
                    "summary": s.summary,
                    "fault": s.fault,
                    "expected": list(s.expected),
                    "needs": list(s.needs),
                }
                for s in catalog.values()
            ]
        )
        return
    for s in catalog.values():
        expects = ", ".join(s.expected) or "nothing but the Watchdog"
        needs = f" (stack: {', '.join(s.needs)})" if s.needs else ""
        typer.echo(f"{s.name:<20} {s.summary}\n{'':<20} expects: {expects}{needs}")


def _killer(stack: LocalStack) -> Callable[[str], None]:
    """`kill(pod)`: SIGKILL the real engine serving that pod (the stack's, in order)."""

    def kill(pod: str) -> None:
        real = [r.pod for r in stack.running.replicas if r.engine == "vllm-cpu"]
        stack.engines[real.index(pod)].kill()

    return kill


@app.command("run")
def run(
    names: list[str] = typer.Argument(..., help="Scenario names (see `list`), or `all`."),
    profile: str = typer.Option("fast", "--profile", help="fast or standard timing profile."),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
    fresh: bool = typer.Option(False, "--fresh", help="Start a new stack even if a demo runs."),
    replicas: int = typer.Option(
        2, "--replicas", min=1, max=8, help="Replicas per model (fresh stack)."
    ),
    models: str = typer.Option(
        "",
        "--models",
        help="Models the stack runs, as `obsctl demo --models` takes them (a count or keys "
        "a,b,c); a running demo is used only if it runs exactly these.",
    ),
    timeout: float = typer.Option(
        0, "--timeout", min=0, help="Seconds per scenario (0 = 1.25x the minimum + 15 s)."
    ),
    runtime: str = typer.Option(
        "", "--runtime", help="Serve the first model through this runtime (as obsctl demo)."
    ),
    ray_version: str = typer.Option(
        "", "--ray-version", help="With --runtime rayservice: Ray naming (as obsctl demo)."
    ),
    engine: str = typer.Option(
        "sim",
        "--engine",
        help="sim, or vllm-cpu: the real-engine scenarios "
        f"({', '.join(REAL_SCENARIOS)}), each on a fresh stack with one real vLLM replica on "
        "CPU, small KV cache (needs `bash scripts/setup.sh --real`; docs/real-engine.md).",
    ),
    config: Path = ConfigOption,
) -> None:
    """Run scenarios on the running demo (same profile) or on a fresh stack; exit 1 when an
    expected alert did not fire or an unexpected one did."""
    if profile not in ("standard", "fast"):
        die(f"unknown --profile {profile!r}: use fast or standard")
    if engine not in ("sim", "vllm-cpu"):
        die(f"unknown --engine {engine!r}: use sim or vllm-cpu")
    catalog = REAL_SCENARIOS if engine == "vllm-cpu" else SCENARIOS
    chosen = list(catalog) if names == ["all"] else names
    unknown = [n for n in chosen if n not in catalog]
    if unknown:
        which = " --engine vllm-cpu" if engine == "vllm-cpu" else ""
        die(f"unknown{which} scenario {unknown[0]!r}: run `obsctl scenario list{which}`")
    real = engine == "vllm-cpu"
    if real:
        from observability.engine.server import MissingEngineError, require_engine

        try:
            require_engine(config.resolve().parent)
        except MissingEngineError as err:
            die(str(err))
        fresh = True  # a stack of its own per scenario, the real engine's KV cache shrunk
    cfg = load_bundle(config)
    try:
        wanted = parse_models(cfg, models) if models else ()
    except ModelsError as err:
        die(str(err))
    from observability.local.stack import (
        STATE_DIR,
        LocalStack,
        StackOptions,
        live_states,
        with_runtime,
    )
    from observability.process import ChildFailedError
    from observability.scenarios import format_result, run_scenario

    if runtime:
        from observability import runtimes

        if runtime not in runtimes.REGISTRY:
            die(f"unknown --runtime {runtime!r}: use one of {', '.join(runtimes.REGISTRY)}")
        cfg = with_runtime(cfg, runtime, wanted[0][0] if wanted else None)
        fresh = True  # a running demo serves its own runtimes
    if ray_version:
        from observability.runtimes.rayservice import with_ray_version

        try:
            cfg = with_ray_version(cfg, ray_version)
        except ValueError as err:
            die(str(err))
        fresh = True
    # A router scenario faults the inference pool's endpoint picker: a running demo must
    # serve one (obsctl demo --inference-pool), and a fresh stack runs with the pool on.
    router = any(catalog[n].needs_pool for n in chosen)
    if router and not cfg.pool.enabled:
        from observability.local.router import with_inference_pool

        cfg = with_inference_pool(cfg, wanted)
    from observability.scenarios.stack import needs_of, stack_for

    needs = needs_of(catalog[n] for n in chosen)
    cfg, sim_flags = stack_for(cfg, wanted, needs)
    if needs:
        fresh = True  # a running demo was started without them
    repo_root = config.resolve().parent
    running = [] if fresh else live_states(repo_root / STATE_DIR)
    matching = [  # newest first
        s
        for s in running
        if s.profile == profile
        and (not wanted or {(r.model_key, r.namespace) for r in s.replicas} == set(wanted))
        and (s.epps or not router)
    ]
    state = matching[0] if matching else None
    if len(matching) > 1:
        typer.echo(
            f"{len(matching)} {profile} demos are running; using the newest (pid "
            f"{state.pid}, {state.state_file})",
            err=True,
        )
    elif running and state is None and not as_json:
        which = f"profile {profile}" + (f" and models {models}" if wanted else "")
        which += " and an inference pool" if router else ""
        typer.echo(f"no running demo has {which}; starting a fresh stack")
    stack: LocalStack | None = None
    results = []
    say = (lambda m: None) if as_json else (lambda m: typer.echo(f"- {m}"))
    with interrupt_on_term():
        try:
            for name in chosen:
                # A real engine's scenarios each get a fresh stack: the pressure's alerts on
                # 5m windows (queue time, latency) would still fire during the next one.
                if state is None or (real and results):
                    if stack is not None:
                        stack.stop()
                    stack = LocalStack(
                        StackOptions(
                            cfg=cfg,
                            repo_root=repo_root,
                            profile=profile,
                            replicas=replicas,
                            models=wanted,
                            # Its own file, outside demo-*.json: verify --local never picks
                            # a scenario's short-lived stack.
                            state_file=repo_root / ".obsctl" / f"scenario-{os.getpid()}.json",
                            real_replicas=1 if real else 0,
                            engine_args=REAL_ENGINE_ARGS if real else (),
                            sim_flags=sim_flags,
                        )
                    )
                    stack.start(progress=say)
                    state = stack.running
                kill = _killer(stack) if stack is not None else None
                say(f"scenario {name}")
                res = run_scenario(
                    catalog[name], state, timeout_s=timeout or None, say=say, kill=kill
                )
                results.append(res)
                if not as_json:
                    typer.echo("\n".join(format_result(res)))
        except KeyboardInterrupt:
            die("interrupted", EXIT_FAILED)
        except (MissingBinaryError, ChildFailedError, RuntimeError) as err:
            die(str(err))
        except (httpx.HTTPError, PromError, OSError, ValueError) as err:
            die(f"the local stack did not answer: {err}")
        finally:
            if stack is not None:
                stack.stop()
    if as_json:
        print_json({"ok": all(r.ok for r in results), "results": [r.to_json() for r in results]})
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_FAILED)
