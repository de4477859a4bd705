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

import ssl
from functools import cache
from typing import Any

import httpx

__all__ = ["async_client", "client", "race_free_limits", "shared_client"]


def race_free_limits(connections: int | None = None) -> httpx.Limits:
    """Limits for a client whose concurrency is at most `connections` (None: unbounded)."""
    return httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=None,
    )


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def async_client(connections: int | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient on `race_free_limits(connections)`. Clients share one TLS context:
    httpx builds one per client otherwise (~18 ms each; 2.3 s for a burst's 128 users).

    Many connections are better spread over many clients: httpcore rescans the whole pool
    on every request and response, so one client for hundreds of connections spends its
    CPU there (86 scrapes/s for 225 targets on the 2-core dev machine, against ~1,900 with a
    client per target)."""
    return httpx.AsyncClient(limits=race_free_limits(connections), verify=_tls(), **kwargs)


def client(connections: int | None = None, **kwargs: Any) -> httpx.Client:
    """A sync Client on `race_free_limits(connections)` and the shared TLS context."""
    return httpx.Client(limits=race_free_limits(connections), verify=_tls(), **kwargs)


@cache
def shared_client() -> httpx.Client:
    """One process-wide Client for short requests (health probes, polls of a local stack).
    `httpx.get` builds a Client, and with it a TLS context, per call: polling three demo
    stacks every half second that way kept most of a core busy loading CA certificates."""
    return client()
