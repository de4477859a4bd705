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

from observability.sim.cluster import SimCluster, SimConfig, SimModel, SimThread
from observability.sim.faults import FAULTS, FaultError

__all__ = ["FAULTS", "FaultError", "SimCluster", "SimConfig", "SimModel", "SimThread"]
