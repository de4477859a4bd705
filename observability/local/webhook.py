"""A webhook receiver for Alertmanager that records every notification with a timestamp.

Alertmanager POSTs its webhook payload (version 4) to `/` (any path); the sink stores it
with the time it arrived and the path (one path per receiver, so a scenario can tell which
route delivered). `GET /notifications?since=EPOCH` returns what arrived, as JSON, so a
separate `obsctl scenario run` can query a running demo's sink.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from observability.httppool import shared_client

__all__ = ["Notification", "WebhookSink", "fetch_notifications"]


@dataclass(frozen=True)
class Notification:
    received_at: float  # epoch seconds
    path: str  # /<receiver name> as configured by the local Alertmanager config
    receiver: str
    status: str  # firing | resolved
    alerts: list[dict[str, Any]]  # each: status, labels, annotations, startsAt, ...
    group_labels: dict[str, str]

    def alertnames(self, status: str | None = "firing") -> set[str]:
        return {
            a.get("labels", {}).get("alertname", "")
            for a in self.alerts
            if status is None or a.get("status") == status
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request logs
        pass

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._reply(400, {"error": "body is not JSON"})
            return
        note = Notification(
            received_at=time.time(),
            path=urllib.parse.urlsplit(self.path).path,
            receiver=str(payload.get("receiver", "")),
            status=str(payload.get("status", "")),
            alerts=list(payload.get("alerts", [])),
            group_labels=dict(payload.get("groupLabels", {})),
        )
        self.server.sink._record(note)
        self._reply(200, {"status": "ok"})

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/-/healthy", "/health"):
            self._reply(200, {"status": "ok"})
            return
        if url.path != "/notifications":
            self._reply(404, {"error": "GET /notifications?since=EPOCH"})
            return
        since = float(urllib.parse.parse_qs(url.query).get("since", ["0"])[0] or 0)
        self._reply(200, [asdict(n) for n in self.server.sink.notifications(since)])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sink: WebhookSink


class WebhookSink:
    """Runs in a thread of the demo process; `stop()` closes the port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._notes: list[Notification] = []
        self._server = _Server((host, port), _Handler)
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebhookSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, note: Notification) -> None:
        with self._lock:
            self._notes.append(note)

    def notifications(self, since: float = 0.0) -> list[Notification]:
        with self._lock:
            return [n for n in self._notes if n.received_at >= since]

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fetch_notifications(
    url: str, since: float = 0.0, timeout: float = 5.0, attempts: int = 3
) -> list[Notification]:
    """Read a (possibly other process's) sink over HTTP. A read that times out is asked
    again (up to `attempts` times): the sink is a thread of a process that a CPU-bound
    neighbour (a real engine under a burst) can starve for seconds, and a poll loop must
    not die of one slow answer. A refused connection is not retried: the sink is gone."""
    for attempt in range(attempts):
        try:
            resp = shared_client().get(
                f"{url}/notifications", params={"since": since}, timeout=timeout
            )
            break
        except httpx.TimeoutException:
            if attempt == attempts - 1:
                raise
    resp.raise_for_status()
    return [Notification(**n) for n in resp.json()]
