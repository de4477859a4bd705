"""vLLM servers that already run (`obsctl demo --target URL`): check and describe them.

A target is the server's base URL (`http://HOST:PORT`, the one its `/v1` and `/metrics`
hang off). It must answer `/metrics` with `vllm:` families; `/v1/models` names what it
serves (its series carry that `model_name`). Errors are one line each.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

__all__ = ["ExternalTarget", "TargetError", "check_target", "parse_target"]


class TargetError(ValueError):
    """A bad or unreachable --target (the message is one line)."""


@dataclass(frozen=True)
class ExternalTarget:
    url: str  # http://host:port, no trailing slash
    host: str
    port: int
    served_name: str = ""  # from /v1/models ("" if the server lists none)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_target(url: str) -> ExternalTarget:
    """Validate the URL's shape (no network)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise TargetError(f"--target {url!r}: {err}") from None
    if parts.scheme != "http":
        raise TargetError(
            f"--target {url!r}: use http://HOST:PORT (the local Prometheus scrapes plain "
            "HTTP; for TLS, port-forward to the pod)"
        )
    if not parts.hostname:
        raise TargetError(f"--target {url!r}: no host; use http://HOST:PORT")
    if parts.path.strip("/") not in ("", "metrics", "v1") or parts.query or parts.fragment:
        raise TargetError(f"--target {url!r}: give the server's base URL, http://HOST:PORT")
    if port is None:
        port = 80
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return ExternalTarget(url=f"http://{shown}:{port}", host=shown, port=port)


def check_target(target: ExternalTarget, timeout: float = 5.0) -> ExternalTarget:
    """Reach the server: `/metrics` must expose `vllm:` families; `/v1/models` gives the
    served name. Returns the target with `served_name` filled in."""
    try:
        with httpx.Client(timeout=timeout) as client:
            resp = client.get(f"{target.url}/metrics")
            if resp.status_code != 200:
                raise TargetError(
                    f"--target {target.url}: /metrics answered HTTP {resp.status_code}"
                )
            if "vllm:" not in resp.text and "vllm_" not in resp.text:
                raise TargetError(f"--target {target.url}: /metrics has no vllm: metrics")
            served = ""
            models = client.get(f"{target.url}/v1/models")
            if models.status_code == 200:
                data = models.json().get("data", [])
                served = next((m["id"] for m in data if isinstance(m, dict) and "id" in m), "")
    except httpx.HTTPError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TargetError(f"--target {target.url}: unreachable ({reason})") from None
    except ValueError:
        raise TargetError(f"--target {target.url}: /v1/models is not JSON") from None
    return ExternalTarget(target.url, target.host, target.port, served)
