"""A demand burst on chosen replicas while a scenario's fault is active.

KV-cache saturation is a demand problem: a cache only stays full while more sequences
want blocks than it holds. The stack's steady load leaves a replica idle most of the
time, so the kv-saturation scenario adds this burst: `users` clients sending the seed
mix back to back, non-streaming (the client then costs one response per request, not
one per token, on a shared CPU).

Latency-degradation uses it with short requests (`max_tokens`): Locust's users are a
closed loop, so a slowed model gets new requests only as fast as the slow ones finish
(a user waits ~60 s on a 100-token reply at 0.6 s a step). Real clients keep arriving;
short back-to-back requests give the slowed engine first tokens to time at that pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading

import httpx

from observability.httppool import async_client
from observability.load.mix import MIX, PROMPTS

__all__ = ["Burst"]


class Burst:
    """`with Burst(targets, users):` runs the burst on a background thread until exit."""

    def __init__(
        self,
        targets: list[tuple[str, str]],
        users: int,
        seed: int = 0,
        max_tokens: int | None = None,
    ) -> None:
        self.targets = targets  # (base URL, served model name)
        self.users = users
        self.max_tokens = max_tokens  # None: the seed mix's lengths
        self.sent = 0
        self.failed = 0
        self._rng = random.Random(seed)
        self._weights = [g.weight for g in MIX]
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            # One client (one connection) per user: 128 users sharing one pool spent the
            # CPU the burst needs on pool scans (22 instead of ~70 requests/s, so the cache
            # never filled; observability/httppool.py).
            users = []
            for i in range(self.users):
                client = await stack.enter_async_context(async_client(1, timeout=120))
                target = self.targets[i % len(self.targets)]
                users.append(asyncio.ensure_future(self._user(client, target)))
            await self._stop.wait()
            for u in users:
                u.cancel()
            await asyncio.gather(*users, return_exceptions=True)

    async def _user(self, client: httpx.AsyncClient, target: tuple[str, str]) -> None:
        url, model = target
        assert self._stop is not None
        while not self._stop.is_set():
            gen = self._rng.choices(MIX, self._weights)[0]
            body = {
                "model": model,
                "prompt": self._rng.choice(PROMPTS),
                "max_tokens": self.max_tokens or gen.max_tokens,
            }
            self.sent += 1
            try:
                r = await client.post(f"{url}/v1/completions", json=body)
                self.failed += r.status_code != 200
            except httpx.HTTPError:
                self.failed += 1
                await asyncio.sleep(0.2)

    def __enter__(self) -> Burst:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        while self._stop is None and self._thread.is_alive():
            threading.Event().wait(0.01)
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
