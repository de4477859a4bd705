"""KV cache of fixed-size blocks with prefix caching by chained block hash (vLLM V1 style).

A block whose reference count drops to 0 stays cached (and counts as free, as in vLLM's
`kv_cache_usage_perc = 1 - free/total`) until it is evicted, least recently freed first.

With an `observer` (`--kv-cache-metrics`), block residency is reported as vLLM's
KVCacheMetricsCollector does: at eviction the block's lifetime (allocation to eviction)
and idle time (last access to eviction), at a prefix hit on a cached block the gap since
its last access; times on `clock` (the engine's).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BlockTable", "KVCache"]


@dataclass
class BlockTable:
    """Blocks held by one request, in order; hashes of the full prompt blocks."""

    blocks: list[int] = field(default_factory=list)
    hashes: list[int] = field(default_factory=list)


class KVCache:
    def __init__(self, num_blocks: int, block_size: int, prefix_caching: bool = True) -> None:
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.prefix_caching = prefix_caching
        self._free = list(range(num_blocks - 1, -1, -1))  # never-used blocks
        self._ref = [0] * num_blocks
        self._hash_of: dict[int, int] = {}  # block -> hash (cached blocks only)
        self._by_hash: dict[int, int] = {}  # hash -> block
        self._evictable: OrderedDict[int, None] = OrderedDict()  # ref 0, still cached
        self.limit = num_blocks  # lowered by the kv-pressure fault
        # --kv-cache-metrics: observer(kind, seconds), kind lifetime|idle_before_evict|reuse_gap
        self.observer: Callable[[str, float], None] | None = None
        self.clock: Callable[[], float] = lambda: 0.0
        self._born: dict[int, float] = {}
        self._accessed: dict[int, float] = {}

    @property
    def used_blocks(self) -> int:
        return self.num_blocks - len(self._free) - len(self._evictable)

    @property
    def free_blocks(self) -> int:
        return max(0, self.limit - self.used_blocks)

    def usage(self) -> float:
        """Used share of the usable pool (`limit` blocks under the kv-pressure fault),
        capped at 1 when a lone sequence overcommits a pool smaller than itself."""
        return min(1.0, self.used_blocks / self.limit) if self.limit else 0.0

    def block_hashes(self, token_ids: list[int]) -> list[int]:
        hashes, parent = [], 0
        for start in range(0, len(token_ids) - self.block_size + 1, self.block_size):
            parent = hash((parent, tuple(token_ids[start : start + self.block_size])))
            hashes.append(parent)
        return hashes

    def cached_prefix(self, hashes: list[int]) -> int:
        """Number of leading full blocks already cached."""
        if not self.prefix_caching:
            return 0
        n = 0
        for h in hashes:
            if h not in self._by_hash:
                break
            n += 1
        return n

    def allocate_prompt(
        self, table: BlockTable, token_ids: list[int], force: bool = False
    ) -> tuple[int, bool]:
        """Blocks for the prompt (+1 slot); returns (cached tokens, ok). No change if not ok.
        `force` ignores the kv-pressure limit (never the physical pool): the only sequence."""
        hashes = self.block_hashes(token_ids)
        hit = self.cached_prefix(hashes)
        need_total = len(token_ids) // self.block_size + 1
        new = need_total - hit
        hit_blocks = [self._by_hash[h] for h in hashes[:hit]]
        revive = sum(1 for b in hit_blocks if self._ref[b] == 0)
        if new + revive > self._available(force):
            return 0, False
        for b in hit_blocks:
            self._take(b)
        table.blocks = hit_blocks + [self._new_block() for _ in range(new)]
        table.hashes = hashes
        # full prompt blocks become shareable once computed; register them now (the
        # simulator computes a prompt within the request's own lifetime)
        if self.prefix_caching:
            for i, h in enumerate(hashes[hit:], start=hit):
                self._by_hash.setdefault(h, table.blocks[i])
                self._hash_of.setdefault(table.blocks[i], h)
        return hit * self.block_size, True

    def append_slot(self, table: BlockTable, num_tokens: int, force: bool = False) -> bool:
        """Make room for token number `num_tokens` (1-based); False when out of blocks."""
        if num_tokens <= len(table.blocks) * self.block_size:
            return True
        if self._available(force) < 1:
            return False
        table.blocks.append(self._new_block())
        return True

    def _available(self, force: bool) -> int:
        return self.num_blocks - self.used_blocks if force else self.free_blocks

    def free(self, table: BlockTable) -> None:
        for b in reversed(table.blocks):
            self._ref[b] -= 1
            if self._ref[b] == 0:
                if b in self._hash_of:
                    self._evictable[b] = None
                else:
                    self._free.append(b)
        table.blocks = []

    def _take(self, block: int) -> None:
        if self._ref[block] == 0:
            self._evictable.pop(block, None)
        self._ref[block] += 1
        if self.observer is not None:
            now = self.clock()
            self.observer("reuse_gap", now - self._accessed.get(block, now))
            self._accessed[block] = now

    def _new_block(self) -> int:
        if self._free:
            b = self._free.pop()
        else:
            b, _ = self._evictable.popitem(last=False)
            h = self._hash_of.pop(b)
            if self._by_hash.get(h) == b:
                del self._by_hash[h]
            if self.observer is not None:
                now = self.clock()
                self.observer("lifetime", now - self._born.get(b, now))
                self.observer("idle_before_evict", now - self._accessed.get(b, now))
        self._ref[b] = 1
        if self.observer is not None:
            self._born[b] = self._accessed[b] = self.clock()
        return b
