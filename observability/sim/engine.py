"""Continuous-batching engine model: waiting queue, token budget, KV blocks, preemption.

The engine steps via `loop.call_later` only while it has work, so an idle replica costs
nothing. Times are kept in *simulated* seconds: wall time divided by `time_scale`
(0.1 runs ten times faster than real and still records realistic latencies).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from observability.sim.kvcache import BlockTable, KVCache
from observability.sim.latency import Profile

__all__ = ["Engine", "EngineConfig", "Request", "StepStats"]

_WORDS = [
    "the",
    "model",
    "answers",
    "with",
    "a",
    "short",
    "and",
    "plain",
    "sentence",
    "about",
    "serving",
    "large",
    "language",
    "models",
    "on",
    "kubernetes",
    "while",
    "prometheus",
    "scrapes",
    "metrics",
    "and",
    "alerts",
    "fire",
    "when",
]


@dataclass(frozen=True)
class EngineConfig:
    max_num_seqs: int = 128
    max_num_batched_tokens: int = 8192
    max_model_len: int = 8192
    time_scale: float = 1.0


@dataclass(eq=False)
class Request:
    rid: str
    prompt_ids: list[int]
    max_tokens: int
    target_len: int  # tokens produced before a natural "stop"
    n_param: int = 1
    max_tokens_param: int | None = None
    arrival: float = 0.0
    scheduled: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    finished: float | None = None
    num_computed: int = 0
    cached_tokens: int = 0
    output: list[int] = field(default_factory=list)
    itl: list[float] = field(default_factory=list)
    table: BlockTable = field(default_factory=BlockTable)
    preemptions: int = 0
    finished_reason: str | None = None
    client_gone: bool = False  # aborted because its client disconnected (see `abort`)
    events: asyncio.Queue[tuple[list[int], str | None]] = field(default_factory=asyncio.Queue)

    @property
    def prefill_target(self) -> int:
        """Tokens to compute before decoding: prompt (+ output again after a preemption)."""
        return len(self.prompt_ids) + (len(self.output) if self.preemptions else 0)

    def text(self, ids: list[int]) -> str:
        return "".join(_WORDS[i % len(_WORDS)] + " " for i in ids)


@dataclass
class StepStats:
    prefill_tokens: int = 0
    decode_tokens: int = 0
    preemptions: int = 0
    prompt_done: list[Request] = field(default_factory=list)
    prefix_queries: int = 0
    prefix_hits: int = 0
    itl: list[float] = field(default_factory=list)  # inter-token gaps of this step's tokens


class Sink(Protocol):
    def step(self, engine: Engine, stats: StepStats) -> None: ...
    def finished(self, engine: Engine, req: Request) -> None: ...
    def gauges(self, engine: Engine) -> None: ...


class Engine:
    def __init__(
        self, profile: Profile, kv: KVCache, cfg: EngineConfig, sink: Sink, seed: int = 0
    ) -> None:
        self.profile, self.kv, self.cfg, self.sink = profile, kv, cfg, sink
        self.rng = random.Random(seed)
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.slow_factor = 1.0
        self.hung = False
        self.busy_wall = 0.0  # wall seconds spent in steps (DCGM utilization)
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_idle: Callable[[], None] | None = None
        self._lag = 0.0
        self._chained: float | None = None  # sim time the previous step ended, if back to back

    # --- clock -------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time() / self.cfg.time_scale - self._lag

    def _absorb_lag(self, expected: float) -> None:
        """Timer and event-loop overhead is not GPU time: drop it from the simulated clock,
        so step times stay the profile's even when time_scale makes steps sub-millisecond."""
        over = self.now() - expected
        if over > 0:
            self._lag += over

    # --- requests ----------------------------------------------------------------------
    def add(self, req: Request) -> None:
        req.arrival = self.now()
        self.waiting.append(req)
        self.sink.gauges(self)
        self._kick()

    def abort(self, req: Request, *, client_gone: bool = False) -> None:
        """End a request early. `client_gone`: its client disconnected and the API server
        aborts it, which vLLM does not count (sim/metrics.py CLIENT_ABORTS)."""
        if req.finished_reason is not None:
            return
        req.client_gone = client_gone
        if req in self.running:
            self.running.remove(req)
        elif req in self.waiting:
            self.waiting.remove(req)
        self._finish(req, "abort")
        self.sink.gauges(self)

    def abort_all(self, reqs: Iterable[Request]) -> None:
        """The engine ends these requests itself (counted as abort, unlike a client's)."""
        for req in list(reqs):
            self.abort(req)

    def set_hung(self, hung: bool) -> None:
        self.hung = hung
        self._kick()

    # --- scheduling --------------------------------------------------------------------
    def _kick(self) -> None:
        if self._handle is None and not self.hung and (self.waiting or self.running):
            self._handle = self.loop.call_soon(self._step)  # type: ignore[assignment]

    def _step(self) -> None:
        self._handle = None
        if self._chained is not None:
            # the GPU starts the next step as soon as the last one ends: the event loop's
            # time in between (HTTP, scrapes of other replicas) is not engine time
            self._absorb_lag(self._chained)
            self._chained = None
        if self.hung:
            return
        start = self.now()  # scheduling below is host work; the step's GPU time starts here
        stats = StepStats()
        budget = self.cfg.max_num_batched_tokens
        plan: list[tuple[Request, int]] = []  # (request, tokens computed this step)
        context = 0
        for req in list(self.running):
            if req not in self.running:
                continue  # preempted below by an earlier request
            if budget <= 0:
                break
            remaining = req.prefill_target - req.num_computed
            if remaining > 0:
                n = min(remaining, budget)
            else:
                n = 1
                # Out of blocks: preempt the newest running request (recompute), as vLLM
                # does; the oldest one alone always gets its block (vLLM refuses to start
                # with a cache that cannot hold one sequence, so it never starves alone).
                while not self.kv.append_slot(
                    req.table, req.num_computed + 1, force=len(self.running) == 1
                ):
                    victim = self.running[-1]
                    self._preempt(victim, stats)
                    if victim is req:
                        break
                if req not in self.running:
                    continue
            budget -= n
            context += req.num_computed
            plan.append((req, n))
        # vLLM V1 admits no waiting request in a step that had to preempt; otherwise it
        # admits in arrival order until a prompt no longer fits (a full cache).
        while (
            not stats.preemptions
            and self.waiting
            and budget > 0
            and len(self.running) < self.cfg.max_num_seqs
        ):
            req = self.waiting[0]
            # a preempted request recomputes its prompt and the output it already produced
            tokens = req.prompt_ids + req.output if req.preemptions else req.prompt_ids
            cached, ok = self.kv.allocate_prompt(req.table, tokens, force=not self.running)
            if not ok:
                break
            self.waiting.popleft()
            if req.scheduled is None:
                # the step's start, not now(): scheduling is host work the clock leaves out
                # (`start` above), and a first token before its scheduled time would give a
                # negative prefill time under a busy CPU
                req.scheduled = start
                # vLLM caps a hit at prompt - 1: the last prompt token is always computed
                hit = min(cached, len(req.prompt_ids) - 1)
                stats.prefix_queries += len(req.prompt_ids)
                stats.prefix_hits += hit
                req.cached_tokens = hit
            req.num_computed = min(cached, req.prefill_target - 1)
            self.running.append(req)
            n = min(req.prefill_target - req.num_computed, budget)
            budget -= n
            plan.append((req, n))
        if not plan:
            self.sink.gauges(self)
            return
        for req, n in plan:
            if req.num_computed < req.prefill_target:
                stats.prefill_tokens += n
            else:
                stats.decode_tokens += n
        seconds = (
            self.profile.step_seconds(stats.prefill_tokens, stats.decode_tokens, context)
            * self.slow_factor
        )
        wall = seconds * self.cfg.time_scale
        self.busy_wall += wall
        # Gauges describe the batch this step runs with: blocks freed by finished requests
        # are refilled by this step's admissions at once (the sim's pools are far smaller
        # than a GPU's, so a whole-step dip would be a coarse artifact of the model).
        self.sink.gauges(self)
        self._handle = self.loop.call_later(wall, self._finish_step, plan, stats, start + seconds)

    def _preempt(self, req: Request, stats: StepStats) -> None:
        self.running.remove(req)
        self.kv.free(req.table)
        req.num_computed = 0
        req.preemptions += 1
        stats.preemptions += 1
        self.waiting.appendleft(req)

    def _finish_step(
        self, plan: list[tuple[Request, int]], stats: StepStats, expected: float
    ) -> None:
        self._handle = None
        self._absorb_lag(expected)
        now = self.now()
        for req, n in plan:
            if req.finished_reason is not None or req not in self.running:
                continue
            if req.num_computed < req.prefill_target:
                req.num_computed += n
                if req.num_computed < req.prefill_target:
                    continue  # chunked prefill goes on next step
                if req.first_token is None:
                    stats.prompt_done.append(req)
                if req.output and req.preemptions:
                    continue  # recomputed after preemption: decoding resumes next step
            else:
                req.num_computed += 1
            self._emit(req, now)
            # vLLM observes inter-token latency per iteration, not when the request ends
            stats.itl.extend(req.itl)
            req.itl.clear()
        self.sink.step(self, stats)
        self.sink.gauges(self)
        if self.hung:
            return
        self._chained = now  # metrics bookkeeping above is host time, not GPU time
        self._kick()
        if self._handle is None:
            self._chained = None

    def _emit(self, req: Request, now: float) -> None:
        token = self.rng.randrange(len(_WORDS))
        if req.first_token is None:
            req.first_token = now
        else:
            req.itl.append(now - (req.last_token or now))
        req.last_token = now
        req.output.append(token)
        reason = None
        if len(req.output) >= req.max_tokens:
            reason = "length"
        elif len(req.output) >= req.target_len:
            reason = "stop"
        req.events.put_nowait(([token], reason))
        if reason:
            self.running.remove(req)
            self._finish(req, reason)

    def _finish(self, req: Request, reason: str) -> None:
        req.finished_reason = reason
        req.finished = self.now()
        self.kv.free(req.table)
        if reason == "abort":
            req.events.put_nowait(([], reason))
        self.sink.finished(self, req)
