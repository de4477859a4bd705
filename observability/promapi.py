"""The one Prometheus HTTP API client of the snapshot, data checks, demo and scenarios.

(`obsctl verify` has its own, behind an Endpoint that can be the Kubernetes API server's
service proxy; it raises check failures with fixes rather than PromError.)
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["PromError", "Prometheus"]


class PromError(Exception):
    """One line: what failed against which Prometheus, and the fix."""


class Prometheus:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            resp = self._http.post(path, data=params)
        except httpx.HTTPError as err:
            raise PromError(
                f"cannot reach Prometheus at {self.url} ({type(err).__name__}: {err}): "
                "check --prometheus-url"
            ) from None
        try:
            body = resp.json()
        except ValueError:
            raise PromError(
                f"{self.url}{path} answered HTTP {resp.status_code} without JSON: is this "
                "the Prometheus base URL?"
            ) from None
        if body.get("status") != "success":
            raise PromError(f"query failed: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> list[dict]:
        params: dict[str, Any] = {"query": expr}
        if time is not None:
            params["time"] = time
        data = self._get("/api/v1/query", params)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": start, "end": end, "step": step}
        return self._get("/api/v1/query_range", params)["result"]

    def label_values(
        self, label: str, match: str, start: float | None = None, end: float | None = None
    ) -> list[str]:
        """Values of `label` on series matching `match` (index only: cheap at any scale)."""
        params: dict[str, Any] = {"match[]": match}
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        return self._get_data(f"/api/v1/label/{label}/values", params)

    def check_ready(self) -> None:
        self.query("vector(1)")

    def _get_data(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET for the read-only listing endpoints (targets, alerts, rules)."""
        try:
            resp = self._http.get(path, params=params)
            body = resp.json()
        except (httpx.HTTPError, ValueError) as err:
            raise PromError(
                f"cannot read {self.url}{path} ({type(err).__name__}: {err}): "
                "check --prometheus-url"
            ) from None
        if body.get("status") != "success":
            raise PromError(f"{path} failed: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def targets(self) -> list[dict]:
        return self._get_data("/api/v1/targets", {"state": "active"})["activeTargets"]

    def alerts(self) -> list[dict]:
        return self._get_data("/api/v1/alerts")["alerts"]

    def rule_groups(self) -> list[dict]:
        return self._get_data("/api/v1/rules")["groups"]
