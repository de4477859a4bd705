"""Inhibitions and routing exercised by a real Alertmanager, not only parsed by amtool.

The rendered config keeps its routes, group_by and inhibit_rules; only the receivers are
rewritten to a local webhook (one path per receiver) and group_wait/group_interval are
shortened. Every case below is posted at once; the test then reads `/api/v2/alerts`
(status.state, inhibitedBy) and what each webhook path received.
"""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from observability.alerting.alertmanager import RECEIVERS, alertmanager_config

AM_BIN = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(AM_BIN is None, reason="prometheus-alertmanager not installed")

CONVERGE_S = 20.0  # bound for every expected state and delivery to show up
SETTLE_S = 2.5  # > group_wait + group_interval: anything not muted has been sent by then


@dataclass(frozen=True)
class Case:
    id: str
    labels: dict[str, str]
    receiver: str | None  # webhook path it must reach; None: inhibited, reaches none
    inhibited_by: str | None = None  # id of the case whose alert mutes it


def _a(name: str, severity: str, **labels: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, **labels}


TTFT = "VLLMHighTimeToFirstToken"
KV = "VLLMKVCacheSaturated"
GPU = {"Hostname": "node-1", "UUID": "GPU-0", "modelName": "NVIDIA H100"}

CASES: tuple[Case, ...] = (
    # (1) critical twin silences its warning twin: same alertname, namespace, model, pod, GPU.
    Case("twin-critical", _a(TTFT, "critical", namespace="twin", model_name="m1"), "pager"),
    Case(
        "twin-warning",
        _a(TTFT, "warning", namespace="twin", model_name="m1"),
        None,
        "twin-critical",
    ),
    Case("twin-other-ns", _a(TTFT, "warning", namespace="twin-b", model_name="m1"), "chat"),
    Case("twin-other-model", _a(TTFT, "warning", namespace="twin", model_name="m2"), "chat"),
    Case(
        "twin-other-alertname",
        _a("VLLMHighErrorRate", "warning", namespace="twin", model_name="m1"),
        "chat",
    ),
    Case(
        "kv-critical-p0", _a(KV, "critical", namespace="twin", model_name="m1", pod="p0"), "pager"
    ),
    Case(
        "kv-warning-p0",
        _a(KV, "warning", namespace="twin", model_name="m1", pod="p0"),
        None,
        "kv-critical-p0",
    ),
    Case("kv-warning-p1", _a(KV, "warning", namespace="twin", model_name="m1", pod="p1"), "chat"),
    Case("gpu-critical-0", _a("GPUHighTemperature", "critical", gpu="0", **GPU), "pager"),
    Case(
        "gpu-warning-0",
        _a("GPUHighTemperature", "warning", gpu="0", **GPU),
        None,
        "gpu-critical-0",
    ),
    Case(
        "gpu-warning-1",
        _a("GPUHighTemperature", "warning", gpu="1", **{**GPU, "UUID": "GPU-1"}),
        "chat",
    ),
    # (2) VLLMTargetDown silences the same model's latency and queue alerts.
    Case(
        "down-source",
        _a("VLLMTargetDown", "warning", namespace="down", model_name="m1", pod="p0", job="vllm"),
        "chat",
    ),
    # Written out, not derived from INHIBITED_BY_TARGET_DOWN: dropping an alert from that
    # list must fail here.
    Case(
        "down-mutes-ttft",
        _a("VLLMHighTimeToFirstToken", "warning", namespace="down", model_name="m1"),
        None,
        "down-source",
    ),
    Case(
        "down-mutes-itl",
        _a("VLLMHighInterTokenLatency", "warning", namespace="down", model_name="m1"),
        None,
        "down-source",
    ),
    Case(
        "down-mutes-e2e",
        _a("VLLMHighRequestLatency", "warning", namespace="down", model_name="m1"),
        None,
        "down-source",
    ),
    Case(
        "down-mutes-queue",
        _a("VLLMQueueBacklog", "warning", namespace="down", model_name="m1"),
        None,
        "down-source",
    ),
    # A critical TTFT page on a model with a replica down still pages (the rule mutes
    # warnings only). Own model, so no critical twin rule is involved.
    Case(
        "down-source-m3",
        _a("VLLMTargetDown", "warning", namespace="down", model_name="m3", pod="p0", job="vllm"),
        "chat",
    ),
    # A replica down must never mute a critical page about the replicas still serving.
    Case(
        "down-keeps-critical-ttft",
        _a(TTFT, "critical", namespace="down", model_name="m3"),
        "pager",
    ),
    Case(
        "down-other-model",
        _a("VLLMQueueBacklog", "warning", namespace="down", model_name="m2"),
        "chat",
    ),
    Case("down-other-ns", _a(TTFT, "warning", namespace="down-b", model_name="m1"), "chat"),
    Case(
        "down-keeps-kv",
        _a(KV, "warning", namespace="down", model_name="m1", pod="p1"),
        "chat",
    ),
    Case(
        "down-keeps-slo-page",
        _a("VLLMLatencySLOBurnRate", "critical", namespace="down", model_name="m1"),
        "pager",
    ),
    # (3) VLLMMetricsAbsent silences the same model's target-down and stalled alerts.
    Case(
        "absent-source",
        _a("VLLMMetricsAbsent", "critical", namespace="absent", model_name="m1"),
        "pager",
    ),
    Case(
        "absent-mutes-down",
        _a("VLLMTargetDown", "warning", namespace="absent", model_name="m1", pod="p0", job="vllm"),
        None,
        "absent-source",
    ),
    Case(
        "absent-mutes-stalled",
        _a("VLLMEngineStalled", "critical", namespace="absent", model_name="m1", pod="p0"),
        None,
        "absent-source",
    ),
    Case(
        "absent-other-model",
        _a("VLLMTargetDown", "warning", namespace="absent", model_name="m2", pod="p0", job="vllm"),
        "chat",
    ),
    # (5) lifecycle (kube-state-metrics): a pod that cannot be scheduled pages once, by its
    # cause; its model's "absent" page, its target-down and the replica shortfall stay muted.
    Case(
        "life-pending-source",
        _a(
            "VLLMPodUnschedulable",
            "critical",
            namespace="life",
            pod="p0",
            model_name="m1",
            reason="InsufficientGPU",
        ),
        "pager",
    ),
    Case(
        "life-mutes-absent",
        _a("VLLMMetricsAbsent", "critical", namespace="life", model_name="m1"),
        None,
        "life-pending-source",
    ),
    Case(
        "life-mutes-down",
        _a("VLLMTargetDown", "warning", namespace="life", pod="p0", job="vllm"),
        None,
        "life-pending-source",
    ),
    Case(
        "life-mutes-replicas",
        _a(
            "VLLMReplicasUnavailable",
            "warning",
            namespace="life",
            deployment="vllm-m1",
            model_name="m1",
        ),
        None,
        "life-pending-source",
    ),
    Case(
        "life-other-model-absent",
        _a("VLLMMetricsAbsent", "critical", namespace="life", model_name="m2"),
        "pager",
    ),
    Case(
        "life-other-pod-down",
        _a("VLLMTargetDown", "warning", namespace="life", pod="p9", job="vllm"),
        "chat",
    ),
    # A pod inside its load budget notifies nobody and mutes the same symptoms.
    Case(
        "start-source",
        _a("VLLMModelPodStarting", "none", namespace="start", pod="p0", model_name="m1"),
        "null",
    ),
    Case(
        "start-mutes-absent",
        _a("VLLMMetricsAbsent", "critical", namespace="start", model_name="m1"),
        None,
        "start-source",
    ),
    Case(
        "start-mutes-down",
        _a("VLLMTargetDown", "warning", namespace="start", pod="p0", job="vllm"),
        None,
        "start-source",
    ),
    # An OOM kill names the crash loop it causes (same container).
    Case(
        "oom-source",
        _a(
            "VLLMPodOOMKilled",
            "critical",
            namespace="oom",
            pod="p0",
            container="vllm",
            model_name="m1",
        ),
        "pager",
    ),
    Case(
        "oom-mutes-crashloop",
        _a(
            "VLLMPodCrashLooping",
            "critical",
            namespace="oom",
            pod="p0",
            container="vllm",
            model_name="m1",
            reason="CrashLoopBackOff",
        ),
        None,
        "oom-source",
    ),
    Case(
        "oom-keeps-other-container",
        _a(
            "VLLMPodCrashLooping",
            "critical",
            namespace="oom",
            pod="p1",
            container="vllm",
            model_name="m1",
            reason="CrashLoopBackOff",
        ),
        "pager",
    ),
    # (4) routing by severity; Watchdog to the heartbeat; no severity to the root (chat).
    Case("route-critical", _a("VLLMHighErrorRate", "critical", namespace="route"), "pager"),
    Case("route-warning", _a("VLLMRequestPreemptions", "warning", namespace="route"), "chat"),
    Case("route-info", _a("GPUUnderutilized", "info", namespace="route", **GPU), "ticket"),
    Case("route-watchdog", _a("Watchdog", "none"), "heartbeat"),
    Case("route-none", _a("TestSeverityNone", "none", namespace="route"), "null"),
    Case("route-no-severity", {"alertname": "TestNoSeverity", "namespace": "route"}, "chat"),
)
BY_ID = {c.id: c for c in CASES}


def _key(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Hooks:
    """Webhook receiver: records (path, alert labels) of every firing alert it is sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[str, frozenset[tuple[str, str]]]] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hooks.lock:
                    for a in body["alerts"]:
                        if a["status"] == "firing":
                            hooks.got.append((self.path.strip("/"), _key(a["labels"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def snapshot(self) -> list[tuple[str, frozenset[tuple[str, str]]]]:
        with self.lock:
            return list(self.got)


def _fast(route: dict[str, Any]) -> None:
    """Shorten the timers of a route and its children, in place; nothing else changes."""
    if route.get("group_wait") not in (None, "0s"):
        route["group_wait"] = "1s"
    if "group_interval" in route:
        route["group_interval"] = "1s"
    for child in route.get("routes", []):
        _fast(child)


def _test_config(bundle: Any, hook_port: int) -> dict[str, Any]:
    rendered = alertmanager_config(bundle)
    cfg = copy.deepcopy(rendered)
    assert {r["name"] for r in cfg["receivers"]} == set(RECEIVERS)
    cfg["receivers"] = [
        {
            "name": r["name"],
            "webhook_configs": [
                {"url": f"http://127.0.0.1:{hook_port}/{r['name']}", "send_resolved": False}
            ],
        }
        for r in rendered["receivers"]
    ]
    cfg.pop("templates", None)  # a glob of the in-cluster mount; the webhooks need none
    _fast(cfg["route"])
    assert cfg["inhibit_rules"] == rendered["inhibit_rules"]
    assert cfg["route"]["group_by"] == rendered["route"]["group_by"]
    return cfg


def _http(url: str, data: Any = None) -> Any:
    req = urllib.request.Request(url)
    if data is not None:
        req.data = json.dumps(data).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body.strip().startswith((b"[", b"{")) else body


@dataclass(frozen=True)
class Outcome:
    api: dict[frozenset[tuple[str, str]], dict[str, Any]]  # labels -> /api/v2/alerts entry
    delivered: list[tuple[str, frozenset[tuple[str, str]]]]  # (webhook path, labels)
    converged: bool


def _expected_now(api: dict, delivered: list, fingerprint_of: dict) -> bool:
    paths = {(p, k) for p, k in delivered}
    for c in CASES:
        entry = api.get(_key(c.labels))
        if entry is None:
            return False
        if c.inhibited_by is None:
            if entry["status"]["state"] != "active" or (c.receiver, _key(c.labels)) not in paths:
                return False
        elif fingerprint_of.get(c.inhibited_by) not in entry["status"]["inhibitedBy"]:
            return False
    return True


@pytest.fixture(scope="module")
def outcome(bundle, tmp_path_factory) -> Iterator[Outcome]:
    hooks = _Hooks()
    threading.Thread(target=hooks.server.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("am-inhibit")
    conf = tmp / "alertmanager.yml"
    conf.write_text(yaml.safe_dump(_test_config(bundle, hooks.port), sort_keys=False))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [
            str(AM_BIN),
            f"--config.file={conf}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"alertmanager exited {proc.returncode}: {_tail(tmp)}")
            try:
                _http(f"{base}/-/ready")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"alertmanager not ready in 15 s: {_tail(tmp)}")
                time.sleep(0.1)
        now = datetime.now(UTC).isoformat()
        _http(f"{base}/api/v2/alerts", [{"labels": c.labels, "startsAt": now} for c in CASES])

        deadline = time.monotonic() + CONVERGE_S
        converged = False
        while time.monotonic() < deadline:
            api = {_key(a["labels"]): a for a in _http(f"{base}/api/v2/alerts")}
            fps = {c.id: api[_key(c.labels)]["fingerprint"] for c in CASES if _key(c.labels) in api}
            if _expected_now(api, hooks.snapshot(), fps):
                converged = True
                break
            time.sleep(0.2)
        time.sleep(SETTLE_S)  # a muted alert that leaks would be flushed by now
        api = {_key(a["labels"]): a for a in _http(f"{base}/api/v2/alerts")}
        yield Outcome(api=api, delivered=hooks.snapshot(), converged=converged)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        hooks.server.shutdown()
        hooks.server.server_close()


def _tail(tmp: Path) -> str:
    return (tmp / "alertmanager.log").read_text()[-2000:]


def test_every_expected_state_and_delivery_shows_up_in_time(outcome: Outcome) -> None:
    assert outcome.converged, "see the per-case tests for which expectation was not met"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(outcome: Outcome, case: Case) -> None:
    entry = outcome.api.get(_key(case.labels))
    assert entry is not None, f"{case.id}: alert missing from /api/v2/alerts"
    status = entry["status"]
    reached = sorted(p for p, k in outcome.delivered if k == _key(case.labels))
    if case.inhibited_by is None:
        assert status["state"] == "active" and status["inhibitedBy"] == [], status
        assert reached and set(reached) == {case.receiver}, (
            f"{case.id}: want only /{case.receiver}, got {reached}"
        )
    else:
        source = outcome.api[_key(BY_ID[case.inhibited_by].labels)]["fingerprint"]
        assert status["state"] == "suppressed", status
        assert status["inhibitedBy"] == [source], (
            f"{case.id}: want inhibited by {case.inhibited_by} only, got {status}"
        )
        assert reached == [], f"{case.id}: inhibited alert was delivered to {reached}"


def test_no_webhook_got_an_alert_we_did_not_post(outcome: Outcome) -> None:
    posted = {_key(c.labels) for c in CASES}
    assert [k for _, k in outcome.delivered if k not in posted] == []
