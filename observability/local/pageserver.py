"""The demo's live snapshot page: the single pane, rendered by `obsctl snapshot`'s code,
served over HTTP on 127.0.0.1 and refreshed in the browser.

`GET /?range=15m` returns the HTML of `observability.dashboards.snapshot` for the last
`range` (default 15m), rendered at most once per `max_age_s` per range (a cached page
otherwise), with a meta refresh so an open tab follows the demo. Rendering runs in the
server's request threads, one at a time, so the demo's supervision loop never waits for
it; a Prometheus that cannot be queried gives a one-line error page (HTTP 503).
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
import warnings
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from observability.config import BundleConfig
from observability.duration import DurationError, duration_seconds

__all__ = ["SnapshotServer"]

MAX_RANGE_S = 7 * 86400
MAX_CACHED = 8  # distinct ranges kept
QUERY_TIMEOUT_S = 5.0  # per Prometheus call: a hung Prometheus cannot hold a render long


def _one_line_page(message: str, refresh_s: int) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{refresh_s}'><title>snapshot unavailable</title>"
        "</head><body style='background:#111217;color:#ccccdc;font-family:sans-serif'>"
        f"<p>{html.escape(message)}</p></body></html>\n"
    )


class SnapshotServer:
    """Serve the single pane for `prometheus_url`; `start()` / `stop()`, idempotent stop."""

    def __init__(
        self,
        prometheus_url: str,
        cfg: BundleConfig,
        scrape_interval: str,
        port: int = 0,
        default_range: str = "15m",
        max_age_s: float = 15.0,
        dashboard: Mapping[str, Any] | None = None,
    ) -> None:
        self.prometheus_url = prometheus_url
        self.cfg = cfg
        self.scrape_interval = scrape_interval
        self.default_range = default_range
        self.max_age_s = max_age_s
        self._dashboard = dashboard
        self._port = port
        self._cache: dict[str, tuple[float, int, str]] = {}  # range -> (at, status, html)
        self._render_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> SnapshotServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path not in ("/", "/index.html"):
                    self._send(404, _one_line_page("not found: the page is at /", 60))
                    return
                rng = parse_qs(parts.query).get("range", [owner.default_range])[0]
                self._send(*owner.page(rng))

            def _send(self, status: int, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                with contextlib.suppress(OSError):  # the browser went away
                    self.wfile.write(data)

            def log_message(self, *_args: object) -> None:  # keep the demo's output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="snapshot-page",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SnapshotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- rendering ------------------------------------------------------------------------
    def page(self, rng: str) -> tuple[int, str]:
        """(HTTP status, HTML) for the last `rng`, from the cache when fresh enough."""
        refresh = max(int(self.max_age_s), 1)
        try:
            seconds = duration_seconds(rng)
        except DurationError:
            seconds = 0.0
        if not 0 < seconds <= MAX_RANGE_S:
            return 400, _one_line_page(
                f"range {rng!r} is not a duration up to 7d: use e.g. ?range=15m, 1h, 6h", 3600
            )
        cached = self._cache.get(rng)
        if cached and time.monotonic() - cached[0] < self.max_age_s:
            return cached[1], cached[2]
        # One render at a time; a request that waits past the bound gets the older page.
        if not self._render_lock.acquire(timeout=30):
            if cached:
                return cached[1], cached[2]
            return 503, _one_line_page("the page is still rendering; it reloads itself", 5)
        try:
            cached = self._cache.get(rng)
            if cached and time.monotonic() - cached[0] < self.max_age_s:
                return cached[1], cached[2]
            status, body = self._render(rng, refresh)
            if len(self._cache) >= MAX_CACHED and rng not in self._cache:
                self._cache.pop(min(self._cache, key=lambda k: self._cache[k][0]))
            self._cache[rng] = (time.monotonic(), status, body)
            return status, body
        finally:
            self._render_lock.release()

    def _render(self, rng: str, refresh: int) -> tuple[int, str]:
        # Imported here: matplotlib and grafanalib load in this thread on the first request,
        # not during the demo's start-up.
        from observability.dashboards import build_single_pane
        from observability.dashboards.snapshot import TimeRange
        from observability.dashboards.snapshot.evaluate import evaluate
        from observability.dashboards.snapshot.page import render_page
        from observability.promapi import PromError, Prometheus

        if self._dashboard is None:
            self._dashboard = build_single_pane(self.cfg)
        end = time.time()
        tr = TimeRange(end - duration_seconds(rng), end)
        try:
            with (
                Prometheus(self.prometheus_url, timeout=QUERY_TIMEOUT_S) as prom,
                warnings.catch_warnings(),  # matplotlib's date-locator notes stay off the demo
            ):
                warnings.simplefilter("ignore")
                prom.check_ready()
                data = evaluate(prom, self._dashboard, tr, self.scrape_interval)
                body = render_page(self._dashboard, data, tr, self.prometheus_url)
        except PromError as err:
            return 503, _one_line_page(f"Prometheus cannot be queried: {err}", refresh)
        except Exception as err:
            return 500, _one_line_page(f"rendering failed: {type(err).__name__}: {err}", refresh)
        banner = (
            "<p style='margin:4px 16px;color:#8e8e8e;font:12px sans-serif'>live: last "
            f"{html.escape(rng)}, rendered {time.strftime('%H:%M:%S')}, reloads every "
            f"{refresh} s · range: <a href='?range=15m'>15m</a> <a href='?range=1h'>1h</a> "
            "<a href='?range=6h'>6h</a></p>"
        )
        body = body.replace("<head>", f"<head><meta http-equiv='refresh' content='{refresh}'>", 1)
        return 200, body.replace("<body>", f"<body>{banner}", 1)
