"""Subprocess entry point that runs the simulators for the local stack.

`python -m observability.local.simproc SPEC.json` reads the `SimConfig` that `write_spec`
stored (the sim's programmatic API, see docs/sim.md), starts the cluster on this process's
loop, writes the manifest to `spec["manifest_out"]` once every port listens, and runs until
SIGTERM/SIGINT. A separate process keeps the simulators' CPU work off the demo's own
process and lets the supervisor kill them like any other child.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Any

from observability.sim import SimCluster, SimConfig, SimModel
from observability.sim.flags import SimFlags

__all__ = ["main", "sim_config", "write_spec"]


def write_spec(path: Path, sim: SimConfig, manifest_out: Path) -> None:
    """The spec file this module's `main` reads: the SimConfig and where the manifest goes."""
    spec = {**dataclasses.asdict(sim), "manifest_out": str(manifest_out)}
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")


def sim_config(spec: dict[str, Any]) -> SimConfig:
    models = tuple(SimModel(**m) for m in spec["models"])
    faults = tuple((n, t, tuple(map(tuple, params))) for n, t, params in spec.get("faults", ()))
    flags = SimFlags(**spec.get("flags", {}))
    skip = ("models", "faults", "manifest_out", "flags")
    kw = {k: v for k, v in spec.items() if k not in skip}
    return SimConfig(models=models, faults=faults, flags=flags, **kw)  # type: ignore[arg-type]


async def _run(spec: dict[str, Any]) -> None:
    cluster = SimCluster(sim_config(spec))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    manifest = await cluster.start()
    out = Path(spec["manifest_out"])
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    tmp.replace(out)  # atomic: the parent waits for the file to exist
    try:
        await stop.wait()
    finally:
        await cluster.stop()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m observability.local.simproc SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    try:
        asyncio.run(_run(spec))
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
