"""The serve flags and KV connectors whose families vLLM registers only when they are on,
and what each replica's engine events add to them (`obsctl sim`/`obsctl demo` options).

| option | vLLM needs | families |
|---|---|---|
| `--spec-decode N` | `--speculative-config` (N draft tokens) | `spec_decode_*` (V0 0.7.3: its own five) |
| `--kv-cache-metrics` | `--kv-cache-metrics` (>= 0.26) | `kv_block_{lifetime,idle_before_evict,reuse_gap}_seconds` |
| `--kv-offload cpu` | OffloadingConnector (`--kv-transfer-config`) | `kv_offload_*` |
| `--kv-offload simple` | SimpleCPUOffloadConnector | `simple_kv_offload_*` |
| `--nixl` | NixlConnector, prefill/decode pairs | `nixl_*`, `num_requests_kv_fetch_by_stage` |

The families come from the selected version's catalog (flagged, `default: false`) and,
for the connectors' run-time-named families no release lists, from vLLM main
(`unreleased-vllm-main.json`): those are served only on the newest cataloged version, the
only one the bundle marks them against. A flag the version cannot serve is a ValueError
naming the versions that can (never a silent blank).

Values follow the load the engine serves, per replica:
- spec decode: every decoding request drafts N tokens per step; position p is accepted
  with probability 0.75 * 0.8**p (cumulative, so acceptance falls with position);
  accepted = the per-position sum, drafts = decode steps of requests (deterministic:
  fractional expectations carried over, counters stay integers);
- KV block residency: every block (vLLM samples 1% by default) observes its lifetime and
  idle time when evicted, its reuse gap when a cached block is hit again, on the engine's
  clock;
- CPU offload: each computed prompt stores its new full blocks (bytes = blocks x block
  size x KV bytes per token) into a CPU pool 4x the GPU blocks (least recently stored
  evicted); blocks already there are skipped; GPU misses found there are loaded;
  transfer times at 25 GB/s (store) and 20 GB/s (load);
- NIXL: the replicas of a model form prefill/decode pairs (even index prefill, odd
  decode; an unpaired last replica does both); a decode worker pulls each prompt's
  computed KV from its prefill peer (one transfer per request: bytes, descriptors = 2 per
  block, post time, transfer time at 25 GB/s); those tokens count as
  `external_kv_transfer`. The `nixl-transfer-failures` fault fails a share of transfers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from observability.metrics.catalog import (
    Catalog,
    MetricFamily,
    available_vllm_versions,
    vllm_main_catalog,
)

if TYPE_CHECKING:
    from observability.sim.engine import Request
    from observability.sim.metrics import ReplicaMetrics

__all__ = [
    "KV_OFFLOAD",
    "NIXL_ROLES",
    "SimFlags",
    "flag_families",
    "nixl_role",
]

KV_OFFLOAD = ("", "cpu", "simple")  # "" off; OffloadingConnector; SimpleCPUOffloadConnector
NIXL_ROLES = ("", "prefill", "decode", "both")
KV_FETCH_STAGES = ("waiting_to_start", "in_progress", "completed_waiting")
SIMPLE_OUTCOMES = (
    "stored",
    "dropped_cpu_full",
    "dropped_request_gone",
    "dropped_null_block",
    "dropped_not_hashed",
    "skipped_already_cached",
    "skipped_in_flight",
)
_ACCEPT_FIRST, _ACCEPT_DECAY = 0.75, 0.8
_CPU_POOL_FACTOR = 4
_STORE_BPS, _LOAD_BPS, _NIXL_BPS = 25e9, 20e9, 25e9


@dataclass(frozen=True)
class SimFlags:
    """What every vLLM replica of the simulator runs with beyond `vllm serve`'s defaults."""

    spec_decode: int = 0  # draft tokens per step (--speculative-config); 0 = off
    kv_cache_metrics: bool = False
    kv_offload: str = ""  # one of KV_OFFLOAD
    nixl: bool = False

    def __post_init__(self) -> None:
        if self.kv_offload not in KV_OFFLOAD:
            raise ValueError(f"--kv-offload {self.kv_offload!r}: use cpu or simple")
        if not 0 <= self.spec_decode <= 16:
            raise ValueError(f"--spec-decode {self.spec_decode}: give 1 to 16 draft tokens")

    @property
    def any(self) -> bool:
        return bool(self.spec_decode or self.kv_cache_metrics or self.kv_offload or self.nixl)


def nixl_role(index: int, replicas: int) -> str:
    """A model's replica `index` of `replicas` in prefill/decode pairs."""
    if index == replicas - 1 and replicas % 2:
        return "both"
    return "prefill" if index % 2 == 0 else "decode"


def _main(prefix: str) -> list[MetricFamily]:
    return [f for n, f in vllm_main_catalog().families.items() if n.startswith(prefix)]


def flag_families(catalog: Catalog, flags: SimFlags, role: str = "") -> list[MetricFamily]:
    """The families `flags` add on this version (registered by vLLM only with them);
    ValueError when the version has none for a flag that is on."""
    version = catalog.version
    newest = available_vllm_versions()[-1]
    v0 = version.startswith("0.7.")
    out: list[MetricFamily] = []

    def listed(prefix: str, option: str) -> list[MetricFamily]:
        found = [f for n, f in catalog.families.items() if n.startswith(prefix)]
        if not found:
            have = [
                v
                for v in available_vllm_versions()
                if any(n.startswith(prefix) for n in _catalog(v).families)
            ]
            raise ValueError(
                f"{option}: vLLM {version} has no {prefix.removeprefix('vllm:')}* family; "
                f"use --vllm-version {' or '.join(have) or newest}"
            )
        return found

    def unreleased(prefix: str, option: str) -> list[MetricFamily]:
        if version != newest:
            raise ValueError(
                f"{option}: the {prefix.removeprefix('vllm:')}* families are read from vLLM "
                f"main (no release lists them); the simulator serves them on the newest "
                f"catalog only: use --vllm-version latest ({newest})"
            )
        return _main(prefix)

    if flags.spec_decode:
        # V0 registers its five at start; V1 only with --speculative-config
        out += [] if v0 else listed("vllm:spec_decode_", "--spec-decode")
    if flags.kv_cache_metrics:
        out += listed("vllm:kv_block_", "--kv-cache-metrics")
    if flags.kv_offload == "cpu":
        out += unreleased("vllm:kv_offload_", "--kv-offload cpu")
    elif flags.kv_offload == "simple":
        out += unreleased("vllm:simple_kv_offload_", "--kv-offload simple")
    if flags.nixl:
        out += unreleased("vllm:nixl_", "--nixl")
        if role in ("decode", "both"):
            out += listed("vllm:num_requests_kv_fetch_by_stage", "--nixl")
    return out


def _catalog(version: str) -> Catalog:
    from observability.metrics.catalog import vllm_catalog

    return vllm_catalog(version)


class _Carry:
    """Fractional expectations turned into integer increments (no randomness)."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = {}

    def take(self, key: str, expected: float) -> int:
        total = self.acc.get(key, 0.0) + expected
        whole = int(total)
        self.acc[key] = total - whole
        return whole


class FlagEvents:
    """What the engine's events add to one replica's flag families (through the replica's
    ReplicaMetrics helpers: this module never touches prometheus_client)."""

    def __init__(
        self,
        m: ReplicaMetrics,
        flags: SimFlags,
        role: str,
        block_size: int,
        kv_bytes_per_token: int,
        gpu_blocks: int,
    ) -> None:
        self.m, self.flags, self.role = m, flags, role
        self.block_size = block_size
        self.block_bytes = block_size * kv_bytes_per_token
        self.kv_bytes_per_token = kv_bytes_per_token
        self.cpu_capacity = _CPU_POOL_FACTOR * gpu_blocks
        self._cpu: OrderedDict[int, None] = OrderedDict()  # block hashes in the CPU pool
        self._carry = _Carry()
        self.nixl_failure_ratio = 0.0  # the nixl-transfer-failures fault

    # --- start --------------------------------------------------------------------------
    def precreate(self) -> None:
        m = self.m
        if self.flags.spec_decode and not m.v0:
            for name in (
                "vllm:spec_decode_num_drafts_total",
                "vllm:spec_decode_num_draft_tokens_total",
                "vllm:spec_decode_num_accepted_tokens_total",
            ):
                m._l(name)
            for p in range(self.flags.spec_decode):
                m._l("vllm:spec_decode_num_accepted_tokens_per_pos_total", position=str(p))
        if self.flags.spec_decode and m.v0:
            for name in (
                "vllm:spec_decode_num_draft_tokens_total",
                "vllm:spec_decode_num_accepted_tokens_total",
                "vllm:spec_decode_num_emitted_tokens_total",
            ):
                m._l(name)
        if self.flags.kv_cache_metrics:
            for name in (
                "vllm:kv_block_lifetime_seconds",
                "vllm:kv_block_idle_before_evict_seconds",
                "vllm:kv_block_reuse_gap_seconds",
            ):
                m._l(name)
        if self.flags.kv_offload == "cpu":
            for name in (
                "vllm:kv_offload_load_bytes_total",
                "vllm:kv_offload_load_time_total",
                "vllm:kv_offload_store_bytes_total",
                "vllm:kv_offload_store_time_total",
                "vllm:kv_offload_allocation_failure_total",
                "vllm:kv_offload_stores_skipped_total",
                "vllm:kv_offload_load_size",
                "vllm:kv_offload_store_size",
                "vllm:kv_offload_lookup_sync_delay_seconds",
                "vllm:kv_offload_lookup_async_delay_seconds",
            ):
                m._l(name)
            for name in (
                "vllm:kv_offload_cpu_cache_usage_perc",
                "vllm:kv_offload_cpu_cache_write_usage_perc",
                "vllm:kv_offload_cpu_cache_read_usage_perc",
            ):
                m._set(name, 0.0)
        if self.flags.kv_offload == "simple":
            for outcome in SIMPLE_OUTCOMES:
                m._l("vllm:simple_kv_offload_save_outcomes_total", outcome=outcome)
            m._l("vllm:simple_kv_offload_load_blocks_total")
            m._set("vllm:simple_kv_offload_used_blocks", 0)
            m._set("vllm:simple_kv_offload_pending_store_blocks", 0)
        if self.flags.nixl:
            for name in (
                "vllm:nixl_xfer_time_seconds",
                "vllm:nixl_post_time_seconds",
                "vllm:nixl_bytes_transferred",
                "vllm:nixl_num_descriptors",
                "vllm:nixl_num_failed_transfers_total",
                "vllm:nixl_num_failed_notifications_total",
                "vllm:nixl_num_kv_expired_reqs_total",
                "vllm:nixl_num_notifications_after_expiry_total",
            ):
                m._l(name)
            if self.role in ("decode", "both"):
                for stage in KV_FETCH_STAGES:
                    m._set("vllm:num_requests_kv_fetch_by_stage", 0, stage=stage)

    # --- engine events --------------------------------------------------------------------
    def decode_step(self, decoding: int) -> None:
        """`decoding` requests each drafted `spec_decode` tokens this step."""
        k = self.flags.spec_decode
        if not k or not decoding:
            return
        m, carry = self.m, self._carry
        accepted = 0
        for p in range(k):
            rate = _ACCEPT_FIRST * _ACCEPT_DECAY**p
            n = carry.take(f"pos{p}", decoding * rate)
            accepted += n
            if not m.v0:
                m._inc("vllm:spec_decode_num_accepted_tokens_per_pos_total", n, position=str(p))
        m._inc("vllm:spec_decode_num_draft_tokens_total", decoding * k)
        m._inc("vllm:spec_decode_num_accepted_tokens_total", accepted)
        if m.v0:
            # V0: emitted = accepted + one bonus token per draft; its two gauges
            m._inc("vllm:spec_decode_num_emitted_tokens_total", accepted + decoding)
            self._v0_drafts = getattr(self, "_v0_drafts", 0) + decoding * k
            self._v0_accepted = getattr(self, "_v0_accepted", 0) + accepted
            m._set("vllm:spec_decode_draft_acceptance_rate", self._v0_accepted / self._v0_drafts)
            m._set(
                "vllm:spec_decode_efficiency",
                (self._v0_accepted + self._v0_drafts / k) / (self._v0_drafts / k * (k + 1)),
            )
        else:
            m._inc("vllm:spec_decode_num_drafts_total", decoding)

    def block_residency(self, kind: str, seconds: float) -> None:
        """kv cache events: lifetime / idle (at eviction), reuse gap (at a hit)."""
        self.m._obs(f"vllm:kv_block_{kind}_seconds", seconds)

    def prompt_done(self, r: Request) -> int:
        """A computed prompt; returns its tokens that came over NIXL (decode side)."""
        external = 0
        if self.flags.kv_offload:
            self._offload(r)
        if self.flags.nixl and self.role in ("decode", "both"):
            external = self._nixl_pull(r)
        return external

    def _offload(self, r: Request) -> None:
        m = self.m
        hashes = r.table.hashes
        gpu_hit = r.cached_tokens // self.block_size
        # GPU misses the CPU pool holds: loaded back instead of recomputed
        loaded = 0
        for h in hashes[gpu_hit:]:
            if h not in self._cpu:
                break
            self._cpu.move_to_end(h)
            loaded += 1
        new = [h for h in hashes[gpu_hit:] if h not in self._cpu]
        skipped = len(hashes) - gpu_hit - len(new)
        for h in new:
            self._cpu[h] = None
        while len(self._cpu) > self.cpu_capacity:
            self._cpu.popitem(last=False)
        store_bytes = len(new) * self.block_bytes
        load_bytes = loaded * self.block_bytes
        if self.flags.kv_offload == "cpu":
            m._obs("vllm:kv_offload_lookup_sync_delay_seconds", 2e-5 + 1e-6 * len(hashes))
            if loaded:
                m._obs("vllm:kv_offload_lookup_async_delay_seconds", load_bytes / _LOAD_BPS)
                m._inc("vllm:kv_offload_load_bytes_total", load_bytes)
                m._inc("vllm:kv_offload_load_time_total", load_bytes / _LOAD_BPS)
                m._obs("vllm:kv_offload_load_size", load_bytes)
            if new:
                m._inc("vllm:kv_offload_store_bytes_total", store_bytes)
                m._inc("vllm:kv_offload_store_time_total", store_bytes / _STORE_BPS)
                m._obs("vllm:kv_offload_store_size", store_bytes)
            m._inc("vllm:kv_offload_stores_skipped_total", skipped)
            # blocks pinned by in-flight transfers: this prompt's, against the pool
            pinned = (len(new) + loaded) / self.cpu_capacity if self.cpu_capacity else 0.0
            m._set("vllm:kv_offload_cpu_cache_usage_perc", min(1.0, pinned))
            cap = max(1, self.cpu_capacity)
            m._set("vllm:kv_offload_cpu_cache_write_usage_perc", min(1.0, len(new) / cap))
            m._set("vllm:kv_offload_cpu_cache_read_usage_perc", min(1.0, loaded / cap))
        else:
            m._inc("vllm:simple_kv_offload_save_outcomes_total", len(new), outcome="stored")
            m._inc(
                "vllm:simple_kv_offload_save_outcomes_total",
                skipped,
                outcome="skipped_already_cached",
            )
            m._inc("vllm:simple_kv_offload_load_blocks_total", loaded)
            m._set("vllm:simple_kv_offload_used_blocks", loaded + gpu_hit)
            m._set("vllm:simple_kv_offload_pending_store_blocks", len(new))

    def _nixl_pull(self, r: Request) -> int:
        """The decode worker reads the prompt's KV its prefill peer computed."""
        m = self.m
        tokens = len(r.prompt_ids) - r.cached_tokens
        if tokens <= 0:
            return 0
        if self.nixl_failure_ratio and self._carry.take("nixl-fail", self.nixl_failure_ratio):
            m._inc("vllm:nixl_num_failed_transfers_total", 1)
            return 0  # the decode side recomputes the prompt
        blocks = -(-tokens // self.block_size)
        nbytes = tokens * self.kv_bytes_per_token
        descriptors = 2 * blocks
        m._obs("vllm:nixl_bytes_transferred", nbytes)
        m._obs("vllm:nixl_num_descriptors", descriptors)
        m._obs("vllm:nixl_post_time_seconds", 5e-5 + 2e-6 * descriptors)
        m._obs("vllm:nixl_xfer_time_seconds", 5e-4 + nbytes / _NIXL_BPS)
        return tokens

    def waiting(self, waiting: int) -> None:
        """A decode worker's queued requests wait on their KV pull (`in_progress`); the
        simulator starts each pull at once and admits the request when it lands."""
        if not (self.flags.nixl and self.role in ("decode", "both")):
            return
        for stage in KV_FETCH_STAGES:
            n = waiting if stage == "in_progress" else 0
            self.m._set("vllm:num_requests_kv_fetch_by_stage", n, stage=stage)
