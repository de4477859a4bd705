"""GPU/model profiles: KV-cache size from memory, and step times that grow with the batch."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

__all__ = ["DEFAULT_PROFILE", "GpuSpec", "Profile", "available_profiles", "load_profile"]

DEFAULT_PROFILE = "h100-80gb-llama-8b"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuSpec:
    model_name: str
    memory_mib: int
    idle_power_w: float
    max_power_w: float
    ambient_c: float
    max_load_c: float
    sm_clock_mhz: int
    mem_clock_mhz: int
    driver_version: str


@dataclass(frozen=True)
class Profile:
    name: str
    gpu: GpuSpec
    weights_gib: float
    activation_gib: float
    kv_bytes_per_token: int
    block_size: int
    base_s: float
    prefill_per_token_s: float
    decode_per_seq_s: float
    decode_per_context_token_s: float

    def num_gpu_blocks(self, gpu_memory_utilization: float, gpus: int = 1) -> int:
        """Blocks vLLM would allocate: budget - weights - activations, split into blocks."""
        budget = self.gpu.memory_mib * _MIB * gpu_memory_utilization * gpus
        free = budget - (self.weights_gib + self.activation_gib) * 1024 * _MIB
        return max(16, int(free // (self.kv_bytes_per_token * self.block_size)))

    def step_seconds(self, prefill_tokens: int, decode_seqs: int, context_tokens: int) -> float:
        """One engine step: fixed launch cost + prefill compute + per-sequence decode cost."""
        return (
            self.base_s
            + prefill_tokens * self.prefill_per_token_s
            + decode_seqs * self.decode_per_seq_s
            + context_tokens * self.decode_per_context_token_s
        )


def available_profiles() -> list[str]:
    files = resources.files("observability.sim").joinpath("profiles").iterdir()
    return sorted(p.name.removesuffix(".yaml") for p in files if p.name.endswith(".yaml"))


def load_profile(name: str = DEFAULT_PROFILE) -> Profile:
    if name not in available_profiles():
        raise LookupError(
            f"unknown sim profile {name!r}; available: {', '.join(available_profiles())}"
        )
    raw = yaml.safe_load(
        resources.files("observability.sim").joinpath("profiles", f"{name}.yaml").read_text()
    )
    return Profile(name=raw["name"], gpu=GpuSpec(**raw["gpu"]), **raw["model"], **raw["step"])
