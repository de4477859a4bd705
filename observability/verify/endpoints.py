"""HTTP endpoints verify talks to: a direct URL, or a Service through the API server proxy.

Both answer `get(path, params, timeout) -> Response` and raise `CheckFailed` with the
reason (refused, timed out, TLS, ...) so a component that does not answer becomes a FAIL
with evidence, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from observability.verify.model import CheckFailed

__all__ = ["DirectEndpoint", "Endpoint", "Response"]


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    where: str  # human description of the URL, for evidence

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            snippet = self.body[:120].decode("utf-8", "replace").strip()
            raise CheckFailed(
                f"{self.where} answered HTTP {self.status} with non-JSON: {snippet!r}",
                "the URL points at something else (wrong port or path prefix?)",
            ) from None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Endpoint(Protocol):
    label: str  # "service monitoring/x:9090 via the API server proxy" or the URL

    def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        timeout: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> Response: ...


class DirectEndpoint:
    """An explicit URL (`--prometheus-url`, a port-forward, the local demo stack)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.label = self.base
        self._headers = headers or {}
        self._client = httpx.Client(follow_redirects=True, verify=True)

    def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        timeout: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> Response:
        url = self.base + path
        try:
            r = self._client.get(
                url, params=params, timeout=timeout, headers={**self._headers, **(headers or {})}
            )
        except httpx.TimeoutException:
            raise CheckFailed(
                f"{url} did not answer within {timeout:g}s",
                "the process is hung or overloaded: check its pod logs and resource limits",
            ) from None
        except httpx.HTTPError as err:
            raise CheckFailed(
                f"{url} unreachable: {type(err).__name__}: {err}",
                "check the URL and that the component runs (kubectl get pods)",
            ) from None
        return Response(r.status_code, r.content, url)

    def close(self) -> None:
        self._client.close()
