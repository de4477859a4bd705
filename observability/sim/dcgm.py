"""dcgm-exporter simulator: the default counter set for one node's GPUs, computed at scrape.

Rendered with dcgm-exporter's own template (internal/pkg/rendermetrics): counters keep
their field name (no `_total`), labels gpu, UUID, pci_bus_id, device, modelName, Hostname,
then the sorted extra labels (DCGM_FI_DRIVER_VERSION, and container/namespace/pod for a GPU
a pod uses). Values follow the replica on the GPU: utilization = busy fraction of the
engine, framebuffer = vLLM's preallocation, power and temperature lag the load.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from observability.metrics.catalog import dcgm_catalog
from observability.sim.exporter import PROMETHEUS_TEXT

if TYPE_CHECKING:
    from observability.sim.engine import Engine
    from observability.sim.faults import Faults
    from observability.sim.latency import GpuSpec

__all__ = ["CONTENT_TYPE", "Gpu", "Node"]

CONTENT_TYPE = PROMETHEUS_TEXT  # dcgm-exporter writes the text format 0.0.4
_POWER_TAU_S = 5.0
_TEMP_TAU_S = 60.0


@dataclass(eq=False)
class Gpu:
    index: int
    uuid: str
    pci_bus_id: str
    spec: GpuSpec
    engine: Engine | None = None
    gpu_memory_utilization: float = 0.0
    pod: dict[str, str] = field(default_factory=dict)  # pod/namespace/container
    power_w: float = 0.0
    temp_c: float = 0.0
    energy_mj: float = 0.0
    util: float = 0.0
    # DCGM_FI_DEV_XID_ERRORS is the last XID seen, kept until the next XID or a driver /
    # exporter restart (NVIDIA/dcgm-exporter#500), not a count that clears by itself.
    last_xid: int = 0
    _busy: float = 0.0
    _t: float = 0.0

    def update(self, now: float) -> None:
        if not self._t:
            self._t, self.power_w, self.temp_c = now, self.spec.idle_power_w, self.spec.ambient_c
            self._busy = self.engine.busy_wall if self.engine else 0.0
            return
        dt = now - self._t
        if dt <= 0:
            return
        busy = self.engine.busy_wall if self.engine else 0.0
        self.util = max(0.0, min(1.0, (busy - self._busy) / dt))
        target_p = self.spec.idle_power_w + (self.spec.max_power_w - self.spec.idle_power_w) * (
            self.util
        )
        self.power_w += (target_p - self.power_w) * (1 - math.exp(-dt / _POWER_TAU_S))
        load = (self.power_w - self.spec.idle_power_w) / (
            self.spec.max_power_w - self.spec.idle_power_w
        )
        target_t = self.spec.ambient_c + (self.spec.max_load_c - self.spec.ambient_c) * load
        self.temp_c += (target_t - self.temp_c) * (1 - math.exp(-dt / _TEMP_TAU_S))
        self.energy_mj += self.power_w * dt * 1000
        self._busy, self._t = busy, now


@dataclass(eq=False)
class Node:
    """One GPU node's dcgm-exporter (an `Exporter`, sim/exporter.py)."""

    name: str
    gpus: list[Gpu]
    faults: Faults
    port: int = 0
    content_type: ClassVar[str] = CONTENT_TYPE

    def exposition(self) -> bytes:
        now = time.monotonic()
        for gpu in self.gpus:
            gpu.update(now)
        out: list[str] = []
        for fam in dcgm_catalog().families.values():
            out.append(f"# HELP {fam.name} {fam.help}")
            out.append(f"# TYPE {fam.name} {fam.type}")
            for gpu in self.gpus:
                out.append(f"{fam.name}{{{self._labels(gpu)}}} {_fmt(self._value(fam.name, gpu))}")
        return ("\n".join(out) + "\n").encode()

    def _labels(self, gpu: Gpu) -> str:
        s = gpu.spec
        parts = [
            f'gpu="{gpu.index}"',
            f'UUID="{gpu.uuid}"',
            f'pci_bus_id="{gpu.pci_bus_id}"',
            f'device="nvidia{gpu.index}"',
            f'modelName="{s.model_name}"',
            f'Hostname="{self.name}"',
            f'DCGM_FI_DRIVER_VERSION="{s.driver_version}"',
        ]
        parts += [f'{k}="{v}"' for k, v in sorted(gpu.pod.items())]
        return ",".join(parts)

    def _value(self, name: str, gpu: Gpu) -> float:
        s = gpu.spec
        used = 0.0
        if gpu.engine is not None:
            used = s.memory_mib * gpu.gpu_memory_utilization + 500  # + CUDA context
        hot = self.faults.get("gpu-overheat", self.name)
        xid = self.faults.get("gpu-xid", self.name)
        if xid:
            gpu.last_xid = int(xid.params["xid"])
        util = gpu.util
        values = {
            "DCGM_FI_DEV_SM_CLOCK": s.sm_clock_mhz if util > 0 else 345,
            "DCGM_FI_DEV_MEM_CLOCK": s.mem_clock_mhz,
            "DCGM_FI_DEV_GPU_TEMP": hot.params["celsius"] if hot else gpu.temp_c,
            "DCGM_FI_DEV_MEMORY_TEMP": (hot.params["celsius"] if hot else gpu.temp_c) + 4,
            "DCGM_FI_DEV_POWER_USAGE": gpu.power_w,
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": gpu.energy_mj,
            "DCGM_FI_DEV_GPU_UTIL": round(util * 100),
            "DCGM_FI_DEV_MEM_COPY_UTIL": round(util * 60),
            "DCGM_FI_DEV_XID_ERRORS": gpu.last_xid,
            "DCGM_FI_DEV_FB_USED": round(used),
            "DCGM_FI_DEV_FB_FREE": round(s.memory_mib - used),
            "DCGM_FI_DEV_FB_RESERVED": 512,
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": util,
            "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": util * 0.45,
            "DCGM_FI_PROF_DRAM_ACTIVE": util * 0.7,
        }
        return float(values.get(name, 0))


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"
