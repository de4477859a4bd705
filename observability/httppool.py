"""httpx pool limits under which a pooled connection is never closed under its request.

httpcore 1.0.x (encode/httpcore#1110, open) hands an idle connection to a queued request
but leaves it IDLE until that request's task runs. A pool pass from another task in the
meantime may still close it: as keep-alive expired (`keepalive_expiry`, 5 s by default),
as surplus idle (more than `max_keepalive_connections`), or to make room at
`max_connections`. It closes every such connection in turn, yielding between them, so a
request can write to one and wait for its answer before the close lands; the read then
fails with `httpx.ReadError` (anyio's ClosedResourceError inside), or hangs to the read
timeout in the sync client. The server never reset anything.

An overloaded event loop widens the window from microseconds to seconds: the simulator
bench at 200 replicas on 2 cores lost 12-30 requests per 8 s run this way, each on a
reused keep-alive connection (bench/sim_capacity.py, tests/test_httppool.py).

With no keep-alive expiry and as many keep-alive slots as connections, none of the three
closes can fire as long as the caller sizes `connections` to its own concurrency (or
leaves it unbounded). A connection the server closed is still dropped: httpcore checks
an idle socket for EOF before reusing it.
"""

from __future__ import annotations

import httpx

__all__ = ["race_free_limits"]


def race_free_limits(connections: int | None = None) -> httpx.Limits:
    """Limits for a client whose concurrency is at most `connections` (None: unbounded)."""
    return httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=None,
    )
