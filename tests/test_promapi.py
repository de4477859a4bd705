"""The one Prometheus client against a real Prometheus: query shapes, one error type with
evidence and fix, refused vs hung, and /metrics read with prometheus_client's parser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from local_helpers import prometheus

from observability.local.ports import PortAllocator
from observability.promapi import HttpTransport, PromError, Prometheus


@pytest.fixture(scope="module")
def prom_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus with one always-firing alert and an Alertmanager that refuses."""
    ports = PortAllocator()
    tmp = tmp_path_factory.mktemp("prom")
    rules = tmp / "rules.yml"
    rules.write_text(
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - alert: Always\n    expr: vector(1)\n"
    )
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{ports.one()}"]}]}]
        },
        "scrape_configs": [],
    }
    try:
        with prometheus(config, tmp, ports) as url:
            yield url
    finally:
        ports.release()


def test_query_shapes_vector_scalar_and_string(prom_url: str) -> None:
    with Prometheus(prom_url, timeout=5) as prom:
        assert prom.transport.query_method == "POST"
        (row,) = prom.query('label_replace(vector(2), "a", "b", "", "")')
        assert row["metric"] == {"a": "b"} and row["value"][1] == "2"
        assert [r["value"][1] for r in prom.query("scalar(vector(3))")] == ["3"]
        assert [r["value"][1] for r in prom.query('"text"')] == ["text"]
        assert prom.ready().startswith("Prometheus")  # "Prometheus Server is Ready."


def test_bad_query_is_one_prom_error_with_evidence_and_fix(prom_url: str) -> None:
    with Prometheus(prom_url, timeout=5) as prom, pytest.raises(PromError) as err:
        prom.query("sum(")
    assert "Prometheus API error for /api/v1/query: bad_data" in err.value.evidence
    assert err.value.fix == "check the query and the Prometheus version (2.x or newer)"
    assert not err.value.unreachable


def test_notification_counters_come_from_parsed_metrics(prom_url: str) -> None:
    """Alerts Prometheus could not deliver to the refusing Alertmanager count as dropped
    (Prometheus 2.42 counts `dropped`, not `errors`, when no Alertmanager took them)."""
    with Prometheus(prom_url, timeout=5) as prom:
        end = time.monotonic() + 30
        counters = prom.notification_counters()
        while counters["dropped"] < 1 and time.monotonic() < end:
            time.sleep(0.5)
            counters = prom.notification_counters()
    assert set(counters) == {"sent", "errors", "dropped"}
    assert counters["dropped"] >= 1 and counters["sent"] == 0.0


def test_refused_is_unreachable_and_hung_is_a_timeout() -> None:
    ports = PortAllocator()
    try:
        closed = ports.one()
        with pytest.raises(PromError) as refused:
            Prometheus(f"http://127.0.0.1:{closed}", timeout=2).query("up")
        assert refused.value.unreachable
        assert refused.value.evidence.startswith(
            f"cannot reach Prometheus: http://127.0.0.1:{closed}"
        )

        hung = socket.socket()
        # As every server of the stack does: a TIME_WAIT left on the port by an earlier
        # connection must not refuse the bind (port_is_free probes with SO_REUSEADDR too).
        hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hung.bind(("127.0.0.1", ports.one()))
        hung.listen(8)  # accepts the connection, never answers
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            hung.settimeout(0.2)
            while not stop.is_set():
                try:
                    accepted.append(hung.accept()[0])
                except OSError:
                    continue

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        transport = HttpTransport(f"http://127.0.0.1:{hung.getsockname()[1]}", name="Prometheus")
        t0 = time.monotonic()
        with pytest.raises(PromError) as slow:
            Prometheus(transport, timeout=0.5).query("up")
        assert time.monotonic() - t0 < 3
        assert "did not answer within 0.5s" in slow.value.evidence and not slow.value.unreachable
        stop.set()
        t.join(2)
        for c in accepted:
            c.close()
        hung.close()
    finally:
        ports.release()
