"""Which models the local stack runs, and the config its rules come from.

`demo_models(cfg, count)` picks models from bundle.yaml's registry; `parse_models` reads
`obsctl demo --models` / `obsctl scenario run --models` (a count, or keys `a,b` with an
optional `key=namespace`, like `obsctl sim --models`). `demo_config(cfg, models)` is the
config the stack generates its rules and routing from: `vllm.deploy` = the models it runs,
each in the namespace it runs in. So every model the demo runs has the rules a cluster
with that model deployed would have (VLLMMetricsAbsent, the lifecycle recordings behind
the ready-pods panel), not only the models bundle.yaml deploys.
"""

from __future__ import annotations

import difflib

from observability import runtimes
from observability.config import BundleConfig

__all__ = ["DemoModels", "ModelsError", "demo_config", "demo_models", "parse_models"]

# (model key, namespace) per model the stack runs
DemoModels = tuple[tuple[str, str], ...]


class ModelsError(ValueError):
    """A `--models` value that names no usable set of models (one line, for exit 2)."""


def _vllm_served(cfg: BundleConfig) -> list[str]:
    """Registry models the demo adds first: those of a runtime that says so (vLLM's)."""
    return [k for k in cfg.models if runtimes.runtime_of(cfg, k).demo_default]


def demo_models(cfg: BundleConfig, count: int = 2) -> DemoModels:
    """`count` models, each in the namespace bundle.yaml gives it: the first deployed
    model, then registry models that run on vLLM, each time preferring one in a namespace
    not used yet (fewer if the registry has fewer). With the shipped bundle: 2 gives
    `vllm` and `vllm-llama`; 3 adds a second model in `vllm`. The rendered ServiceMonitor
    selects every model namespace, so the demo scrapes them with no change to it. Other
    runtimes (TGI) show with `obsctl demo --runtime NAME`, which serves the first model
    with them, or by naming their key in `--models`."""
    first = cfg.vllm.deploy[0] if cfg.vllm.deploy else next(iter(cfg.models))
    out = [(first, cfg.model_namespace(first))]
    rest = [k for k in _vllm_served(cfg) if k != first]
    while rest and len(out) < count:
        used = {ns for _, ns in out}
        pick = next((k for k in rest if cfg.model_namespace(k) not in used), rest[0])
        rest.remove(pick)
        out.append((pick, cfg.model_namespace(pick)))
    return tuple(out)


def parse_models(cfg: BundleConfig, spec: str, option: str = "--models") -> DemoModels:
    """`3` (that many, see `demo_models`) or `a,b,c` / `a=namespace,b` (bundle.yaml model
    keys, each in its own namespace unless given). Raises ModelsError naming the fix."""
    text = spec.strip()
    if text.isdigit():
        count, most = int(text), len(demo_models(cfg, len(cfg.models)))
        if not 1 <= count <= most:
            raise ModelsError(
                f"{option} {text}: give 1 to {most} (the models of bundle.yaml the demo "
                f"can run: {', '.join(k for k, _ in demo_models(cfg, most))}), or name them"
            )
        return demo_models(cfg, count)
    out: list[tuple[str, str]] = []
    watched = cfg.monitored_namespaces
    for item in (p.strip() for p in text.split(",")):
        key, sep, ns = (s.strip() for s in item.partition("="))
        if key not in cfg.models:
            close = difflib.get_close_matches(key, list(cfg.models), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ModelsError(
                f"{option}: {key!r} is not a model of bundle.yaml; {hint}"
                f"use a count or keys of `models` ({', '.join(cfg.models)})"
            )
        if any(k == key for k, _ in out):
            raise ModelsError(f"{option}: {key!r} is named twice; name each model once")
        if sep and ns not in watched:
            raise ModelsError(
                f"{option}: namespace {ns!r} of {key!r} is not selected by the rendered vLLM "
                f"ServiceMonitor ({', '.join(watched)}); set models.{key}.namespace: {ns} in "
                "bundle.yaml and run `obsctl render`, or pick one of those"
            )
        ns = ns if sep else cfg.model_namespace(key)
        served = cfg.models[key].served_name
        twin = next((k for k, n in out if n == ns and cfg.models[k].served_name == served), None)
        if twin is not None:
            raise ModelsError(
                f"{option}: {twin!r} and {key!r} both serve {served!r} in namespace {ns!r}, "
                "so their series cannot be told apart; run one of them, or one elsewhere"
            )
        out.append((key, ns))
    return tuple(out)


def demo_config(cfg: BundleConfig, models: DemoModels) -> BundleConfig:
    """`cfg` as a cluster running exactly `models` would have it: `vllm.deploy` lists
    them, each model's namespace is the one it runs in. Rules and routing generated from
    this cover every model the stack runs, one VLLMMetricsAbsent per model; each runtime in
    use adjusts its own settings to what the simulator imitates (`Runtime.demo_config`)."""
    registry = dict(cfg.models)
    for key, ns in models:
        if ns != cfg.model_namespace(key):
            registry[key] = registry[key].model_copy(update={"namespace": ns})
    vllm = cfg.vllm.model_copy(update={"deploy": [k for k, _ in models]})
    out = cfg.model_copy(update={"vllm": vllm, "models": registry})
    # each runtime's settings as the simulator imitates its cluster (KServe's monitors)
    for rt in runtimes.runtimes_in_use(out):
        out = rt.demo_config(out)
    return out
