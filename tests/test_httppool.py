"""httpcore's pool race (encode/httpcore#1110), reproduced against the simulator both ways.

A pool pass closes every expired idle connection, yielding between closes; a connection
already handed to a queued request can be written to before its close lands, and the read
fails with httpx.ReadError. A busy event loop (a blocking call here, CPU starvation in
bench/sim_capacity.py at 200 replicas) is what lets keep-alive expire in that window.
The control proves this setup provokes the race; `race_free_limits` must never lose one.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from sim_helpers import running_sim

from observability.httppool import race_free_limits

REPLICAS = 4
CONNECTIONS = 20  # idle connections that expire together (5 per replica)
IDLE_S = 0.045  # just under the control's expiry ...
BUSY_S = 0.02  # ... which a busy loop then pushes past, mid pass
# Where the window lies depends on the machine's speed (0.045 s lost requests on one idle
# machine, only 0.035-0.04 s on another): the control sweeps down from IDLE_S.
CONTROL_IDLE_S = (0.045, 0.04, 0.035, 0.03, 0.025)


async def _lost_requests(
    urls: list[str], limits: httpx.Limits, rounds: int, idle_s: float = IDLE_S
) -> list[str]:
    lost: list[str] = []
    async with httpx.AsyncClient(limits=limits, timeout=5) as client:

        async def busy_then_get(url: str) -> httpx.Response:
            time.sleep(BUSY_S)  # the event loop is busy: nothing else runs meanwhile
            return await client.get(url)

        await asyncio.gather(*(client.get(u) for u in urls))  # open every connection
        for _ in range(rounds):
            await asyncio.sleep(idle_s)
            half = len(urls) // 2
            answers = await asyncio.gather(
                *(client.get(u) for u in urls[:half]),
                busy_then_get(urls[0]),
                *(client.get(u) for u in urls[half:]),
                return_exceptions=True,
            )
            lost += [type(a).__name__ for a in answers if isinstance(a, BaseException)]
    return lost


def test_race_free_limits_never_lose_a_request_the_default_shape_loses() -> None:
    with running_sim(replicas=REPLICAS) as sim:
        urls = [
            f"http://127.0.0.1:{sim.manifest['replicas'][i % REPLICAS]['port']}/health"
            for i in range(CONNECTIONS)
        ]
        # httpx's default shape (expiring keep-alive), the expiry shortened to fit a test
        control = httpx.Limits(
            max_connections=100, max_keepalive_connections=100, keepalive_expiry=0.05
        )
        lost_control: list[str] = []
        for idle_s in CONTROL_IDLE_S:  # bounded: 10 rounds at the right idle lose several
            lost_control += asyncio.run(_lost_requests(urls, control, 10, idle_s))
            if lost_control:
                break
        assert lost_control, "the control no longer provokes the pool race: the test is blind"
        assert set(lost_control) == {"ReadError"}, lost_control

        assert asyncio.run(_lost_requests(urls, race_free_limits(), rounds=30)) == []
        # and at the idle time that just made the control lose requests
        assert asyncio.run(_lost_requests(urls, race_free_limits(), 30, idle_s)) == []
        assert asyncio.run(_lost_requests(urls, race_free_limits(CONNECTIONS + 1), rounds=10)) == []
