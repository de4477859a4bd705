"""What a scenario's stack must run (`Scenario.needs`): the bundle as that stack renders
it and the simulator's flags. `obsctl scenario run` starts a fresh stack with them, and
tests/test_scenario_minimums.py computes the minimums from the same rules."""

from __future__ import annotations

from collections.abc import Iterable

from observability.config import BundleConfig
from observability.local.models import DemoModels
from observability.scenarios.catalog import Scenario
from observability.sim.flags import SimFlags

__all__ = ["NEEDS", "needs_of", "stack_for"]

NEEDS = {
    "nixl": "NIXL prefill/decode pairs (obsctl demo --nixl --inference-pool): the simulator's "
    "NixlConnector families and the disaggregated pool's VLLMNixlTransferFailures",
}


def needs_of(scenarios: Iterable[Scenario]) -> set[str]:
    return {n for s in scenarios for n in s.needs}


def stack_for(
    cfg: BundleConfig, models: DemoModels, needs: Iterable[str]
) -> tuple[BundleConfig, SimFlags]:
    """`cfg` and the simulator flags of a stack that can run scenarios with `needs`."""
    wanted = set(needs)
    unknown = wanted - set(NEEDS)
    if unknown:
        raise ValueError(f"unknown scenario need {sorted(unknown)[0]!r}; known: {', '.join(NEEDS)}")
    flags = SimFlags()
    if "nixl" in wanted:
        from observability.local.router import with_inference_pool

        cfg = with_inference_pool(cfg, models, disaggregation=True)
        flags = SimFlags(nixl=True)
    return cfg, flags
