"""The one client of the Prometheus and Alertmanager HTTP APIs.

Snapshot, data checks, the demo summary, the scenarios and `obsctl verify` all use
`Prometheus` / `Alertmanager`. What carries the requests is a `Transport`:

- `HttpTransport(url)`: a direct URL (the local stack, a port-forward, `--prometheus-url`),
  on httpx, with separate connect and read timeouts;
- verify's `ProxyTransport` (verify/k8s.py): a Service reached through the Kubernetes API
  server's service proxy, with the kubeconfig's credentials.

Every failure (refused, timed out, HTTP error, not JSON, API error) is one `PromError`
carrying `evidence` (what failed, where) and `fix`; verify turns it into a FAIL check,
commands into one line and exit 2.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from observability.httppool import client

__all__ = [
    "Alertmanager",
    "Call",
    "HttpTransport",
    "PromError",
    "Prometheus",
    "Response",
    "Transport",
]


class PromError(Exception):
    """One failed API call: `evidence` (what, where) and `fix`; str() is both on one line."""

    def __init__(self, evidence: str, fix: str = "", unreachable: bool = False) -> None:
        super().__init__(f"{evidence}: {fix}" if fix else evidence)
        self.evidence = evidence
        self.fix = fix
        self.unreachable = unreachable  # nothing answered (refused, DNS, TLS), not an error reply


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    where: str  # the URL (or proxy path) asked, for evidence

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            snippet = self.body[:120].decode("utf-8", "replace").strip()
            raise PromError(
                f"{self.where} answered HTTP {self.status} with non-JSON: {snippet!r}",
                "the URL points at something else (wrong port or path prefix?)",
            ) from None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Call:
    """One API call: `params` go in the query string for GET, as a form body for POST
    (a long PromQL expression never hits a URL length limit); `timeout` bounds the answer."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    timeout: float = 5.0
    headers: dict[str, str] | None = None

    @property
    def form(self) -> bool:
        return self.method == "POST"


class Transport(ABC):
    """What carries the API calls: `send` one Call; `request` and `get` build it."""

    label: str  # the base URL, or "service ns/name:port (API server proxy)"
    # How queries travel: POST (a form body, no URL length limit) where the transport
    # allows it; GET through the API server proxy, where verify holds only `get`.
    query_method: str

    @abstractmethod
    def send(self, call: Call) -> Response:
        """Nothing answering, or no answer within `call.timeout`, is a PromError."""

    def request(self, method: str, path: str, *args: Any, **options: Any) -> Response:
        """`send(Call(method, path, params, timeout, headers))`."""
        return self.send(Call(method, path, *args, **options))

    def get(self, path: str, *args: Any, **options: Any) -> Response:
        return self.request("GET", path, *args, **options)


class HttpTransport(Transport):
    """A direct base URL, on httpx: connect bounded separately from the read."""

    def __init__(
        self, base_url: str, headers: dict[str, str] | None = None, name: str = "the server"
    ) -> None:
        self.base = base_url.rstrip("/")
        self.label = self.base
        self.name = name
        self.query_method = "POST"
        self._headers = headers or {}
        # verify asks from a thread pool: its bound is the connections' bound
        self._client = client(follow_redirects=True)

    def send(self, call: Call) -> Response:
        url = self.base + call.path
        timeout = call.timeout
        try:
            r = self._client.request(
                call.method,
                url,
                params=None if call.form else call.params,
                data=call.params if call.form else None,
                timeout=httpx.Timeout(timeout, connect=min(3.0, timeout)),
                headers={**self._headers, **(call.headers or {})},
            )
        except httpx.TimeoutException:
            raise PromError(
                f"{url} did not answer within {timeout:g}s",
                "the process is hung or overloaded: check its logs and resource limits",
            ) from None
        except httpx.HTTPError as err:
            raise PromError(
                f"cannot reach {self.name}: {url} unreachable ({type(err).__name__}: {err})",
                "check the URL and that the component runs (kubectl get pods)",
                unreachable=True,
            ) from None
        return Response(r.status_code, r.content, url)

    def close(self) -> None:
        self._client.close()


def _ok(resp: Response, what: str) -> Response:
    if resp.status in (401, 403):
        raise PromError(
            f"{resp.where} refused {what} with HTTP {resp.status}",
            "grant the verify ServiceAccount `get` on services/proxy (deploy/verify/), "
            "or pass an explicit URL",
        )
    if resp.status in (502, 503):
        raise PromError(
            f"{resp.where} answered HTTP {resp.status} for {what}: {resp.text()[:160].strip()}",
            "the Service has no ready endpoint: check the pods behind it (kubectl get pods)",
        )
    if resp.status >= 400 and resp.status != 422 and resp.status != 400:
        raise PromError(
            f"{resp.where} answered HTTP {resp.status} for {what}: {resp.text()[:160].strip()}",
            "check the URL, port and path prefix (e.g. --web.route-prefix)",
        )
    return resp


def _ready(transport: Transport, timeout: float, fix: str) -> str:
    """`/-/ready` of Prometheus or Alertmanager: its text, or PromError with `fix`."""
    resp = transport.request("GET", "/-/ready", None, timeout)
    if resp.status != 200:
        raise PromError(
            f"{resp.where} answered HTTP {resp.status}: {resp.text()[:120].strip()}", fix
        )
    return resp.text().strip()


def _transport(target: Transport | str, name: str) -> Transport:
    return HttpTransport(target, name=name) if isinstance(target, str) else target


class Prometheus:
    """`Prometheus("http://127.0.0.1:9090")` or `Prometheus(transport)`."""

    def __init__(self, target: Transport | str, timeout: float = 30.0) -> None:
        self.transport = _transport(target, "Prometheus")
        self.url = self.transport.label
        self.timeout = timeout

    @property
    def label(self) -> str:
        return self.transport.label

    def close(self) -> None:
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _data(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        resp = _ok(self.transport.request(method, path, params, self.timeout), path)
        body = resp.json()
        if not isinstance(body, dict) or body.get("status") != "success":
            err = (
                f"{body.get('errorType')}: {body.get('error')}" if isinstance(body, dict) else body
            )
            raise PromError(
                f"{resp.where}: Prometheus API error for {path}: {err}",
                "check the query and the Prometheus version (2.x or newer)",
            )
        return body.get("data")

    # -- queries ------------------------------------------------------------------------
    def query(self, expr: str, time: float | None = None) -> list[dict[str, Any]]:
        """Instant result as [{metric, value}]; a scalar or string is one row, no labels."""
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self._data(self.transport.query_method, "/api/v1/query", params)
        if data.get("resultType") in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data.get("result") or [])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": start, "end": end, "step": step}
        data = self._data(self.transport.query_method, "/api/v1/query_range", params)
        return list(data.get("result") or [])

    def current_names(self, name_regex: str) -> list[str]:
        """Names of the *current* series matching a regex. An instant query, not the
        label-values API: that one also lists names that went stale hours ago, which would
        hide a fix (or a regression) behind history."""
        rows = self.query(f'count by (__name__) ({{__name__=~"{name_regex}"}})')
        return sorted({r["metric"].get("__name__", "") for r in rows} - {""})

    # -- listings (GET) -----------------------------------------------------------------
    def label_values(
        self, label: str, match: str, start: float | None = None, end: float | None = None
    ) -> list[str]:
        """Values of `label` on series matching `match` (index only: cheap at any scale)."""
        params: dict[str, Any] = {"match[]": match}
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        return list(self._data("GET", f"/api/v1/label/{label}/values", params) or [])

    def targets(self) -> list[dict[str, Any]]:
        data = self._data("GET", "/api/v1/targets", {"state": "active"})
        return list(data.get("activeTargets") or [])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._data("GET", "/api/v1/alerts").get("alerts") or [])

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self._data("GET", "/api/v1/rules").get("groups") or [])

    def alertmanagers(self) -> list[dict[str, Any]]:
        data = self._data("GET", "/api/v1/alertmanagers")
        return list(data.get("activeAlertmanagers") or [])

    def config_yaml(self) -> str:
        """The configuration Prometheus runs with (`/api/v1/status/config`), as YAML text."""
        return str((self._data("GET", "/api/v1/status/config") or {}).get("yaml") or "")

    def build_version(self) -> str:
        try:
            return str(self._data("GET", "/api/v1/status/buildinfo").get("version", "?"))
        except PromError:
            return "?"

    def ready(self) -> str:
        return _ready(
            self.transport,
            self.timeout,
            "Prometheus is starting (WAL replay) or unhealthy: check its logs",
        )

    def check_ready(self) -> None:
        """PromError unless a trivial query answers."""
        self.query("vector(1)")

    def notification_counters(self) -> dict[str, float]:
        """sent/errors/dropped totals from Prometheus' own /metrics (why alerts are missing)."""
        resp = self.transport.request("GET", "/metrics", None, self.timeout)
        out = {"sent": 0.0, "errors": 0.0, "dropped": 0.0}
        if resp.status != 200:
            return out
        try:
            families = list(text_string_to_metric_families(resp.text()))
        except ValueError:
            return out
        for fam in families:
            for key in out:
                if fam.name == f"prometheus_notifications_{key}":
                    out[key] += sum(s.value for s in fam.samples if s.name.endswith("_total"))
        return out


class Alertmanager:
    def __init__(self, target: Transport | str, timeout: float = 5.0) -> None:
        self.transport = _transport(target, "Alertmanager")
        self.timeout = timeout

    @property
    def label(self) -> str:
        return self.transport.label

    def ready(self) -> str:
        return _ready(
            self.transport,
            self.timeout,
            "Alertmanager is not ready: check its logs (config errors show there)",
        )

    def status(self) -> dict[str, Any]:
        """`/api/v2/status`: config.original (YAML text), versionInfo, cluster."""
        resp = self.transport.request("GET", "/api/v2/status", None, self.timeout)
        return _ok(resp, "/api/v2/status").json()

    def alerts(self, alertname: str | None = None) -> list[dict[str, Any]]:
        params = {"filter": f'alertname="{alertname}"'} if alertname else None
        resp = self.transport.request("GET", "/api/v2/alerts", params, self.timeout)
        return list(_ok(resp, "/api/v2/alerts").json() or [])
