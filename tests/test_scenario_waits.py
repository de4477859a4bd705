"""The scenario runner's waits before a fault outlast a Prometheus that answers late or
with an error now and then (a loaded 2-core machine running four stacks), instead of
ending the whole run with an error document: a local HTTP server plays the Prometheus
API, answering 503 first, then a pending short alert, then nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from observability.local.state import StackState
from observability.scenarios.run import wait_quiet, wait_traffic


class FlakyPrometheus:
    """Answers `errors` requests with 503, then the `answers` in turn (the last repeats)."""

    def __init__(self, errors: int, answers: list[dict]) -> None:
        self.errors, self.answers, self.requests = errors, answers, 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                n = owner.requests - 1
                if n < owner.errors:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"overloaded")
                    return
                data = owner.answers[min(n - owner.errors, len(owner.answers) - 1)]
                body = json.dumps({"status": "success", "data": data}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # queries come as POST

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _stack(url: str) -> StackState:
    return StackState.model_construct(prometheus_url=url, replicas=())


def _alert(name: str, state: str) -> dict:
    return {"labels": {"alertname": name}, "state": state}


@pytest.fixture
def flaky() -> Iterator[list[FlakyPrometheus]]:
    made: list[FlakyPrometheus] = []
    yield made
    for p in made:
        p.close()


def test_wait_quiet_retries_errors_and_waits_out_a_short_pending_alert(
    flaky: list[FlakyPrometheus],
) -> None:
    pending = {"alerts": [_alert("VLLMLatencySLOBurnRate", "pending")]}
    prom = FlakyPrometheus(errors=3, answers=[pending, pending, {"alerts": []}])
    flaky.append(prom)
    left = wait_quiet(
        _stack(prom.url), 20.0, lambda _m: None, frozenset({"VLLMLatencySLOBurnRate"})
    )
    assert left == set()
    assert prom.requests == 6  # three errors, two pending, one quiet


def test_wait_quiet_reports_what_stays_active(flaky: list[FlakyPrometheus]) -> None:
    firing = {"alerts": [_alert("Watchdog", "firing"), _alert("VLLMTargetDown", "firing")]}
    prom = FlakyPrometheus(errors=1, answers=[firing])
    flaky.append(prom)
    said: list[str] = []
    assert wait_quiet(_stack(prom.url), 2.0, said.append) == {"VLLMTargetDown"}
    assert said == ["still active before injection: VLLMTargetDown"]


def test_wait_traffic_retries_errors(flaky: list[FlakyPrometheus]) -> None:
    tokens = {"resultType": "vector", "result": [{"metric": {"pod": "p0"}, "value": [0, "5"]}]}
    prom = FlakyPrometheus(errors=2, answers=[tokens])
    flaky.append(prom)
    stack = StackState.model_construct(
        prometheus_url=prom.url, replicas=(type("R", (), {"pod": "p0"})(),)
    )
    wait_traffic(stack, ["p0"], timeout=20.0)
    assert prom.requests == 3
