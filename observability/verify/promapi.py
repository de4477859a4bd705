"""Thin clients for the Prometheus and Alertmanager HTTP APIs (shared with `verify --local`).

Every call goes through an `Endpoint`, so the same code reads a Prometheus through the
Kubernetes API server's service proxy, a port-forward, or the local demo stack.
"""

from __future__ import annotations

import contextlib
from typing import Any

from observability.verify.endpoints import Endpoint, Response
from observability.verify.model import CheckFailed

__all__ = ["AlertmanagerAPI", "PrometheusAPI"]


def _ok(resp: Response, what: str) -> Response:
    if resp.status == 401 or resp.status == 403:
        raise CheckFailed(
            f"{resp.where} refused {what} with HTTP {resp.status}",
            "grant the verify ServiceAccount `get` on services/proxy (deploy/verify/), "
            "or pass an explicit URL",
        )
    if resp.status == 503 or resp.status == 502:
        raise CheckFailed(
            f"{resp.where} answered HTTP {resp.status} for {what}: {resp.text()[:160].strip()}",
            "the Service has no ready endpoint: check the pods behind it (kubectl get pods)",
        )
    if resp.status >= 400:
        raise CheckFailed(
            f"{resp.where} answered HTTP {resp.status} for {what}: {resp.text()[:160].strip()}",
            "check the URL, port and path prefix (e.g. --web.route-prefix)",
        )
    return resp


def _ready(ep: Endpoint, timeout: float, fix: str) -> str:
    """`/-/ready` of Prometheus or Alertmanager: its text, or CheckFailed with `fix`."""
    resp = ep.get("/-/ready", None, timeout)
    if resp.status != 200:
        raise CheckFailed(
            f"{resp.where}/-/ready answered HTTP {resp.status}: {resp.text()[:120].strip()}", fix
        )
    return resp.text().strip()


class PrometheusAPI:
    def __init__(self, endpoint: Endpoint, timeout: float = 5.0) -> None:
        self.ep = endpoint
        self.timeout = timeout

    @property
    def label(self) -> str:
        return self.ep.label

    def _data(self, path: str, params: dict[str, str] | None = None) -> Any:
        resp = _ok(self.ep.get(path, params, self.timeout), path)
        body = resp.json()
        if not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error") if isinstance(body, dict) else body
            raise CheckFailed(
                f"{resp.where}: Prometheus API error for {path}: {err}",
                "check the query and Prometheus version (2.x or newer)",
            )
        return body.get("data")

    def ready(self) -> str:
        return _ready(
            self.ep,
            self.timeout,
            "Prometheus is starting (WAL replay) or unhealthy: check its pod logs",
        )

    def build_version(self) -> str:
        try:
            return str(self._data("/api/v1/status/buildinfo").get("version", "?"))
        except CheckFailed:
            return "?"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector/scalar result of `expr` as a list of {metric, value}."""
        data = self._data("/api/v1/query", {"query": expr})
        if data.get("resultType") in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data.get("result") or [])

    def metric_names(self, name_regex: str) -> list[str]:
        """Names of the *current* series matching a regex. An instant query, not the
        label-values API: that one also lists names that went stale hours ago, which would
        hide a fix (or a regression) behind history."""
        rows = self.query(f'count by (__name__) ({{__name__=~"{name_regex}"}})')
        return sorted({r["metric"].get("__name__", "") for r in rows} - {""})

    def targets(self) -> list[dict[str, Any]]:
        return list(self._data("/api/v1/targets", {"state": "active"}).get("activeTargets") or [])

    def rule_groups(self) -> list[dict[str, Any]]:
        return list(self._data("/api/v1/rules").get("groups") or [])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self._data("/api/v1/alerts").get("alerts") or [])

    def notification_counters(self) -> dict[str, float]:
        """sent/errors/dropped totals from Prometheus' own /metrics (why alerts are missing)."""
        resp = self.ep.get("/metrics", None, self.timeout)
        out = {"sent": 0.0, "errors": 0.0, "dropped": 0.0}
        if resp.status != 200:
            return out
        for line in resp.text().splitlines():
            for key in out:
                if line.startswith(f"prometheus_notifications_{key}_total"):
                    with contextlib.suppress(ValueError):
                        out[key] += float(line.rsplit(" ", 1)[1])
        return out

    def alertmanagers(self) -> list[dict[str, Any]]:
        data = self._data("/api/v1/alertmanagers")
        return list(data.get("activeAlertmanagers") or [])


class AlertmanagerAPI:
    def __init__(self, endpoint: Endpoint, timeout: float = 5.0) -> None:
        self.ep = endpoint
        self.timeout = timeout

    @property
    def label(self) -> str:
        return self.ep.label

    def ready(self) -> str:
        return _ready(
            self.ep,
            self.timeout,
            "Alertmanager is not ready: check its pod logs (config errors show there)",
        )

    def status(self) -> dict[str, Any]:
        """`/api/v2/status`: config.original (YAML text), versionInfo, cluster."""
        return _ok(self.ep.get("/api/v2/status", None, self.timeout), "/api/v2/status").json()

    def alerts(self, alertname: str | None = None) -> list[dict[str, Any]]:
        params = {"filter": f'alertname="{alertname}"'} if alertname else None
        resp = _ok(self.ep.get("/api/v2/alerts", params, self.timeout), "/api/v2/alerts")
        return list(resp.json() or [])
