"""Import dashboards into a running Grafana over its HTTP API (httpx).

Order matters for a clean failure: reach Grafana and authenticate, check the Prometheus
datasource exists (a dashboard bound to a missing datasource shows only errors), ensure
the folder, then overwrite each dashboard by uid and report created/updated/unchanged.
Five endpoints (`/api/health`, `/api/datasources/uid/<uid>`, `/api/folders`,
`/api/dashboards/uid/<uid>`, `/api/dashboards/db`) do not need a client library; the
package speaks HTTP through httpx only.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from observability.kube import GRAFANA_DATASOURCE_UID

__all__ = ["GrafanaAuth", "PushError", "PushResult", "folder_uid", "push_dashboards"]

Status = Literal["created", "updated", "unchanged"]
_VOLATILE = ("id", "version", "iteration")


class PushError(Exception):
    """One line naming what failed and how to fix it."""


@dataclass(frozen=True)
class GrafanaAuth:
    token: str | None = None
    user: str | None = None
    password: str | None = None

    def credential(self) -> str | tuple[str, str] | None:
        if self.token:
            return self.token
        if self.user:
            return (self.user, self.password or "")
        return None


@dataclass(frozen=True)
class PushResult:
    uid: str
    title: str
    status: Status
    folder: str
    url: str


def folder_uid(title: str) -> str:
    """Stable folder uid from its title (Grafana uids: <= 40 chars of [a-zA-Z0-9_-])."""
    slug = re.sub(r"[^a-z0-9-]+", "-", title.lower()).strip("-") or "folder"
    return slug[:40]


class _HTTPStatus(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _explain(err: Exception, url: str, what: str) -> PushError:
    code = getattr(err, "status_code", None)
    if code == 401:
        return PushError(
            f"Grafana at {url} rejected the credentials (401) while {what}: "
            "check --token/GRAFANA_TOKEN or --user/--password (GRAFANA_USER/GRAFANA_PASSWORD)"
        )
    if code == 403:
        return PushError(
            f"Grafana at {url} denied {what} (403): the token or user needs the Editor role "
            "(or folder/dashboard write permission)"
        )
    if isinstance(err, httpx.TimeoutException):
        return PushError(
            f"Grafana at {url} did not answer within the timeout while {what}: check "
            "--url/GRAFANA_URL, or raise --timeout"
        )
    if isinstance(err, httpx.HTTPError):
        reason = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
        return PushError(
            f"cannot reach Grafana at {url} ({reason}): check --url/GRAFANA_URL and the network"
        )
    msg = getattr(err, "message", str(err))
    return PushError(f"Grafana at {url} failed while {what}: {msg}")


class _Grafana:
    """The few Grafana API calls push needs; non-2xx answers raise _HTTPStatus."""

    def __init__(self, url: str, auth: GrafanaAuth, timeout: float) -> None:
        headers = {"Accept": "application/json"}
        basic = None
        if auth.token:
            headers["Authorization"] = f"Bearer {auth.token}"
        elif auth.user:
            basic = httpx.BasicAuth(auth.user, auth.password or "")
        self._http = httpx.Client(base_url=url, headers=headers, auth=basic, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        resp = self._http.request(method, path, json=body)
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 400:
            message = data.get("message") if isinstance(data, dict) else None
            raise _HTTPStatus(resp.status_code, message or f"HTTP {resp.status_code}")
        if data is None:
            raise _HTTPStatus(
                resp.status_code, f"{path} answered without JSON: is --url Grafana's base URL?"
            )
        return data


def _comparable(dashboard: Mapping) -> dict:
    d = {k: v for k, v in dashboard.items() if k not in _VOLATILE}
    return d


def _bind_datasource(dashboard: dict, datasource_uid: str, name: str) -> dict:
    """Preselect the checked datasource so the dashboard opens with data."""
    out = copy.deepcopy(dashboard)
    for var in out.get("templating", {}).get("list", []):
        if var.get("type") == "datasource":
            var["current"] = {"selected": True, "text": name, "value": datasource_uid}
    return out


def push_dashboards(
    url: str,
    auth: GrafanaAuth,
    dashboards: Mapping[str, dict],
    folder: str,
    datasource_uid: str = GRAFANA_DATASOURCE_UID,
    timeout: float = 10.0,
) -> list[PushResult]:
    """Push every dashboard; raise PushError (one line) on the first blocking problem."""
    base = url.rstrip("/")
    api = _Grafana(base, auth, timeout)
    step = "connecting"
    try:
        api.call("GET", "/api/health")
        step = f"looking up datasource uid {datasource_uid!r}"
        try:
            ds = api.call("GET", f"/api/datasources/uid/{datasource_uid}")
        except _HTTPStatus as err:
            if err.status_code == 404:
                raise PushError(
                    f"Grafana at {base} has no datasource with uid {datasource_uid!r}: create it "
                    "(kube-prometheus-stack sets uid `prometheus`) or pass --datasource-uid"
                ) from None
            raise
        if ds.get("type") != "prometheus":
            raise PushError(
                f"datasource {datasource_uid!r} is of type {ds.get('type')!r}, not prometheus: "
                "pass the uid of a Prometheus datasource with --datasource-uid"
            )
        step = f"ensuring folder {folder!r}"
        fuid = _ensure_folder(api, folder)
        results = []
        for dash in dashboards.values():
            step = f"pushing dashboard {dash['uid']!r}"
            body = _bind_datasource(dash, datasource_uid, ds.get("name", datasource_uid))
            results.append(_push_one(api, base, body, fuid, folder))
        return results
    except PushError:
        raise
    except (_HTTPStatus, httpx.HTTPError, httpx.InvalidURL) as err:
        raise _explain(err, base, step) from None
    finally:
        api.close()


def _ensure_folder(api: _Grafana, title: str) -> str:
    for f in api.call("GET", "/api/folders") or []:
        if f.get("title") == title:
            return f["uid"]
    created = api.call("POST", "/api/folders", {"title": title, "uid": folder_uid(title)})
    return created["uid"]


def _push_one(api: _Grafana, base: str, dash: dict, fuid: str, folder: str) -> PushResult:
    uid = dash["uid"]
    try:
        existing = api.call("GET", f"/api/dashboards/uid/{uid}")
    except _HTTPStatus as err:
        if err.status_code != 404:
            raise
        existing = None
    status: Status = "created"
    if existing:
        same_folder = existing.get("meta", {}).get("folderUid") == fuid
        if same_folder and _comparable(existing["dashboard"]) == _comparable(dash):
            url = existing.get("meta", {}).get("url", f"/d/{uid}")
            return PushResult(uid, dash["title"], "unchanged", folder, base + url)
        status = "updated"
    payload = {
        "dashboard": {**dash, "id": None},
        "folderUid": fuid,
        "overwrite": True,
        "message": "obsctl dashboards push",
    }
    resp = api.call("POST", "/api/dashboards/db", payload)
    return PushResult(uid, dash["title"], status, folder, base + resp.get("url", f"/d/{uid}"))
