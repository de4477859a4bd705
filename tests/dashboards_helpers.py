"""A small in-memory Grafana HTTP API on 127.0.0.1 for push tests.

grafana-client talks through niquests, so HTTP mocking libraries cannot intercept it; this
is a real server answering the endpoints `obsctl dashboards push` uses, with the status
codes and bodies Grafana 11 returns (401 for bad credentials, 403 for a Viewer, 404 with a
`message`, 412 for a uid clash without overwrite).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FakeGrafana", "backfilled_prometheus"]

VERSION = "11.3.0"


@dataclass
class FakeGrafana:
    tokens: dict[str, str] = field(default_factory=lambda: {"editor-token": "Editor"})
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # user -> (password, role)
    datasources: dict[str, dict] = field(
        default_factory=lambda: {
            "prometheus": {
                "id": 1,
                "uid": "prometheus",
                "name": "Prometheus",
                "type": "prometheus",
                "url": "http://kube-prometheus-stack-prometheus.monitoring:9090/",
                "access": "proxy",
                "isDefault": True,
            }
        }
    )
    folders: dict[str, dict] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)  # uid -> {dashboard, meta}
    requests: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGrafana:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- request handling -------------------------------------------------------------
    def role(self, headers: Any) -> str | None:
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return self.tokens.get(auth[7:])
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            got = self.users.get(user)
            return got[1] if got and got[0] == pw else None
        return None

    def handle(self, method: str, path: str, role: str | None, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path))
        if path == "/api/health":
            return 200, {"commit": "abc123", "database": "ok", "version": VERSION}
        if role is None:
            return 401, {"message": "Invalid API key", "messageId": "auth.unauthorized"}
        writes = method in ("POST", "PUT", "DELETE")
        if writes and role not in ("Editor", "Admin"):
            return 403, {"message": "Permission denied", "messageId": "accesscontrol.denied"}
        with self._lock:
            return self._route(method, path, body)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/api/frontend/settings":
            return 200, {"buildInfo": {"version": VERSION, "commit": "abc123", "edition": "OSS"}}
        if m := re.fullmatch(r"/api/datasources/uid/([^/]+)", path):
            ds = self.datasources.get(m.group(1))
            return (200, ds) if ds else (404, {"message": "Data source not found"})
        if path == "/api/folders" and method == "GET":
            return 200, [
                {"id": f["id"], "uid": f["uid"], "title": f["title"]} for f in self.folders.values()
            ]
        if path == "/api/folders" and method == "POST":
            uid = body.get("uid") or f"f{len(self.folders) + 1}"
            if uid in self.folders or any(
                f["title"] == body["title"] for f in self.folders.values()
            ):
                return 409, {"message": "a folder with the same name already exists"}
            f = {"id": len(self.folders) + 1, "uid": uid, "title": body["title"], "version": 1}
            f["url"] = f"/dashboards/f/{uid}/"
            self.folders[uid] = f
            return 200, f
        if m := re.fullmatch(r"/api/dashboards/uid/([^/]+)", path):
            got = self.dashboards.get(m.group(1))
            return (200, got) if got else (404, {"message": "Dashboard not found"})
        if path == "/api/dashboards/db" and method == "POST":
            return self._save(body)
        if path == "/api/search":
            return 200, [
                {
                    "uid": uid,
                    "title": d["dashboard"]["title"],
                    "type": "dash-db",
                    "folderUid": d["meta"]["folderUid"],
                }
                for uid, d in self.dashboards.items()
            ]
        return 404, {"message": "Not found"}

    def _save(self, body: dict) -> tuple[int, Any]:
        dash = dict(body["dashboard"])
        uid = dash.get("uid")
        fuid = body.get("folderUid", "")
        if fuid and fuid not in self.folders:
            return 400, {"message": "folder not found", "status": "folder-not-found"}
        prev = self.dashboards.get(uid)
        if prev and not body.get("overwrite"):
            return 412, {"message": "A dashboard with the same uid already exists"}
        version = (prev["dashboard"]["version"] + 1) if prev else 1
        did = prev["dashboard"]["id"] if prev else len(self.dashboards) + 1
        dash.update(id=did, version=version)
        slug = re.sub(r"[^a-z0-9]+", "-", dash["title"].lower()).strip("-")
        url = f"/d/{uid}/{slug}"
        self.dashboards[uid] = {
            "dashboard": dash,
            "meta": {
                "folderUid": fuid,
                "folderTitle": self.folders.get(fuid, {}).get("title", "General"),
                "url": url,
                "slug": slug,
                "version": version,
            },
        }
        return 200, {
            "id": did,
            "uid": uid,
            "url": url,
            "status": "success",
            "version": version,
            "slug": slug,
        }


def _handler(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?", 1)[0]
            code, payload = fake.handle(self.command, path, fake.role(self.headers), body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def backfilled_prometheus(
    fleet, tmp: Path, cfg=None, scrape_configs: list | None = None
) -> Iterator[str]:
    """A real Prometheus serving `fleet`'s synthetic history (promtool backfill) at a free
    port. With `cfg` it loads the bundle's rule files (`rule_groups(cfg)`) and holds the
    dashboard recordings over the whole history (backfilled with promtool from the raw
    history, then Prometheus restarts), as a Prometheus that ran our rules would."""
    from observability.local.binaries import find_binary
    from observability.local.ports import PortAllocator
    from observability.local.prometheus import start_prometheus
    from observability.process import Supervisor
    from testkit.rulefill import backfill_recordings, write_rule_files
    from testkit.synthetic import backfill

    promtool = str(find_binary("promtool"))
    backfill(fleet, tmp / "data", promtool=promtool)
    rule_files = write_rule_files(cfg, tmp / "rules") if cfg is not None else []
    ports = PortAllocator()
    port = ports.one()
    sup = Supervisor(tmp / "logs")
    url = f"http://127.0.0.1:{port}"

    def start(rules: list[Path]) -> None:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "15s"},
            "rule_files": [str(p) for p in rules],
            "scrape_configs": scrape_configs or [],
        }
        start_prometheus(sup, config, tmp, port, extra_args=["--storage.tsdb.retention.time=30d"])

    try:
        start([])
        if rule_files:
            start_s = fleet.end - fleet.seconds
            backfill_recordings(
                url,
                rule_files[0],
                tmp / "data",
                start_s,
                fleet.end,
                "15s",
                promtool,
                300,
                restart=lambda: (sup.stop(), start([])),
            )
            sup.stop()
            start(rule_files)
        yield url
    finally:
        sup.stop()
        ports.release()
