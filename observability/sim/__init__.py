"""Stage: sim. vLLM-compatible and DCGM-compatible simulators with fault injection.

Programmatic use (same thing `obsctl sim` runs)::

    from observability.sim import SimConfig, SimModel, SimThread
    cfg = SimConfig(models=(SimModel("llama", "meta-llama/Meta-Llama-3-8B-Instruct"),),
                    replicas=2, port=18000, admin_port=18900, dcgm_port=18400)
    with SimThread(cfg) as sim:
        print(sim.manifest)

or `await SimCluster(cfg).start()` on your own loop; `sim_config_from_bundle` builds the
config from bundle.yaml as the CLI does.
"""

from __future__ import annotations

import importlib
from typing import Any

from observability.sim.faults import FAULTS, FaultError

__all__ = ["FAULTS", "FaultError", "SimCluster", "SimConfig", "SimModel", "SimThread"]

_LAZY = {"SimCluster", "SimConfig", "SimModel", "SimThread"}


def __getattr__(name: str) -> Any:
    # The cluster needs aiohttp and prometheus-client (the [demo] extra): imported on
    # first use, so `obsctl render/lint/verify` run on the base install.
    if name in _LAZY:
        return getattr(importlib.import_module("observability.sim.cluster"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
