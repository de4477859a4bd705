"""Local-stack building blocks: ports, process supervision (no orphans), webhook sink,
binaries lookup, Alertmanager config rewrite against a real Alertmanager."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from observability.local.binaries import MissingBinaryError, find_binary
from observability.local.ports import PortAllocator, port_is_free, port_is_open
from observability.local.webhook import WebhookSink, fetch_notifications
from observability.process import ChildFailedError, Supervisor


def test_two_allocators_never_share_a_port() -> None:
    with PortAllocator(seed=1) as a, PortAllocator(seed=1) as b:  # same random sequence
        first = a.block(4)
        second = b.block(4)
        assert set(range(first, first + 4)).isdisjoint(range(second, second + 4))
        assert all(port_is_free(p) for p in a.ports + b.ports)


def test_missing_binary_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("OBSCTL_PROMETHEUS", "/nonexistent/prometheus")
    with pytest.raises(MissingBinaryError, match="OBSCTL_PROMETHEUS"):
        find_binary("prometheus")
    monkeypatch.delenv("OBSCTL_PROMETHEUS")
    monkeypatch.setattr("os.access", lambda *_a: False)
    with pytest.raises(MissingBinaryError, match="apt-get install -y prometheus"):
        find_binary("prometheus")


def test_stop_kills_the_whole_tree(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    child = sup.start("tree", ["bash", "-c", "sleep 300 & sleep 300 & wait"])
    sup.wait_ready(child, lambda: len(psutil.Process(child.pid).children()) == 2, 10)
    pids = [child.pid, *(c.pid for c in psutil.Process(child.pid).children())]
    sup.stop(timeout=3)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_a_child_that_dies_during_start_reports_its_log(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path)
    child = sup.start("bad", ["bash", "-c", "echo 'bad flag --x'; exit 3"])
    with pytest.raises(ChildFailedError, match="bad flag --x"):
        sup.wait_ready(child, lambda: False, 10)
    sup.stop()


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL of obsctl (no cleanup code runs) still leaves no orphan (PR_SET_PDEATHSIG)."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from observability.process import Supervisor\n"
        f"c = Supervisor(Path({str(tmp_path)!r})).start('s', ['sleep', '300'])\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())  # type: ignore[union-attr]
    assert psutil.pid_exists(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(5)
    deadline = time.monotonic() + 5
    while psutil.pid_exists(child_pid) and time.monotonic() < deadline:
        try:
            if psutil.Process(child_pid).status() == "zombie":
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    gone = not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == "zombie"
    assert gone, "child outlived its killed parent"


def test_webhook_records_and_serves_notifications() -> None:
    with PortAllocator() as ports, WebhookSink(port=ports.one()) as sink:
        before = time.time()
        payload = {
            "receiver": "pager",
            "status": "firing",
            "alerts": [{"status": "firing", "labels": {"alertname": "VLLMTargetDown"}}],
            "groupLabels": {"alertname": "VLLMTargetDown"},
        }
        req = urllib.request.Request(
            f"{sink.url}/pager", data=json.dumps(payload).encode(), method="POST"
        )
        urllib.request.urlopen(req, timeout=5).close()
        notes = fetch_notifications(sink.url, since=before)
        assert len(notes) == 1
        assert notes[0].path == "/pager" and notes[0].alertnames() == {"VLLMTargetDown"}
        assert notes[0].received_at >= before
        assert fetch_notifications(sink.url, since=time.time() + 1) == []
        port = sink.port
    assert not port_is_open(port)


def test_demo_without_binaries_is_one_line(tmp_path: Path, repo_root: Path) -> None:
    env = {**os.environ, "OBSCTL_PROMETHEUS": str(tmp_path / "nope")}
    res = subprocess.run(
        [sys.executable, "-m", "observability.cli", "demo", "--duration", "1"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "OBSCTL_PROMETHEUS" in res.stderr


def test_a_slow_sink_answer_is_asked_again_not_fatal() -> None:
    """A poll of the webhook sink survives one answer slower than its timeout (a sink
    starved by a CPU-bound neighbour); with no retry left the timeout is raised."""
    import json as _json
    import threading
    import time as _time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from observability.local.webhook import fetch_notifications

    calls: list[float] = []

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            calls.append(_time.monotonic())
            if len(calls) % 2 == 1:
                _time.sleep(1.0)  # every other answer comes after the caller gave up
            body = _json.dumps([]).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fetch_notifications(url, timeout=0.3, attempts=2) == []
        assert len(calls) == 2
        with pytest.raises(httpx.TimeoutException):
            fetch_notifications(url, timeout=0.3, attempts=1)
    finally:
        server.shutdown()
        server.server_close()
