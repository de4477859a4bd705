"""A fake Prometheus that answers what a real one answered (tests/fixtures/verify/
remote-write.json, recorded by scripts/record_verify_remote.py), with knobs that break one
thing at a time: the running config's external labels or remote_write, and the value of
each remote-write health query."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "verify" / "remote-write.json"


class FakeRemotePrometheus:
    def __init__(self) -> None:
        self.rec = json.loads(FIXTURE.read_text(encoding="utf-8"))
        self.config = yaml.safe_load(self.rec["config"]["data"]["yaml"])
        self.answers: dict[str, list[dict[str, Any]]] = {
            q: copy.deepcopy(a["data"]["result"]) for q, a in self.rec["queries"].items()
        }
        self.seen: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _query(self, params: dict[str, list[str]]) -> None:
                expr = params.get("query", [""])[0]
                outer.seen.append(expr)
                result = outer.answers.get(expr, [])
                self._send(
                    200, {"status": "success", "data": {"resultType": "vector", "result": result}}
                )

            def do_GET(self) -> None:
                u = urlsplit(self.path)
                if u.path == "/-/ready":
                    self._send(200, "Prometheus Server is Ready.\n")
                elif u.path == "/api/v1/status/buildinfo":
                    self._send(200, outer.rec["buildinfo"])
                elif u.path == "/api/v1/status/config":
                    text = yaml.safe_dump(outer.config, sort_keys=False)
                    self._send(200, {"status": "success", "data": {"yaml": text}})
                elif u.path == "/api/v1/query":
                    self._query(parse_qs(u.query))
                else:
                    self._send(404, "not found")

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                self._query(parse_qs(self.rfile.read(n).decode()))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, query_fragment: str, rows: list[dict[str, Any]]) -> None:
        """Replace the answer of the one recorded query containing `query_fragment`."""
        hits = [q for q in self.answers if query_fragment in q]
        assert len(hits) == 1, f"{query_fragment!r} matches {hits}"
        self.answers[hits[0]] = rows
