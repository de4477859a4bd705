"""`obsctl verify` on the inference router: router.inferencepool against the fake API server
with the rendered least-privilege RBAC enforced (accepted and resolved passes; missing, no
parent Gateway, ResolvedRefs False each FAIL), and router.epp_scrape against a real
Prometheus scraping a bearer-token endpoint (refused with 401: FAIL naming the token; the
right token: PASS; the endpoint gone: FAIL; no target: FAIL)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from verify_fakes.backends import PromStack, free_port
from verify_fakes.cluster import write_kubeconfig
from verify_fakes.kube import FakeKube, wait_until

from observability.config import BundleConfig, parse_config
from observability.metrics.router import EPP_JOB
from observability.render.rbac import rbac
from observability.verify import Options, Status
from observability.verify.checks_router import CHECKS
from observability.verify.context import VerifyContext
from observability.verify.k8s import Cluster

ROOT = Path(__file__).resolve().parent.parent
RUN = {c.id: c.run for c in CHECKS}


@pytest.fixture(scope="module")
def cfg() -> BundleConfig:
    data = yaml.safe_load((ROOT / "bundle.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["gateway"] = {"inference_pool": {"enabled": True}}
    return parse_config(data)


def _pool(accepted: str = "True", resolved: str = "True", parents: bool = True) -> dict:
    def cond(kind: str, status: str, reason: str) -> dict[str, Any]:
        return {"type": kind, "status": status, "reason": reason, "message": "",
                "lastTransitionTime": "2026-12-01T00:00:00Z"}  # fmt: skip

    parent = {
        "parentRef": {"kind": "Gateway", "name": "inference-gateway", "namespace": "vllm"},
        "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
        "conditions": [
            cond("Accepted", accepted, "Accepted" if accepted == "True" else "NotSupportedByGateway"),
            cond("ResolvedRefs", resolved, "ResolvedRefs" if resolved == "True" else "InvalidExtensionRef"),
        ],
    }  # fmt: skip
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": {"name": "vllm-pool", "namespace": "vllm"},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm"}},
            "targetPorts": [{"number": 8000}],
            "endpointPickerRef": {"name": "vllm-pool-epp", "port": {"number": 9002}},
        },
        "status": {"parents": [parent] if parents else []},
    }


@pytest.fixture
def kube(cfg: BundleConfig) -> Iterator[FakeKube]:
    fake = FakeKube(rbac=rbac(cfg)).start()
    try:
        yield fake
    finally:
        fake.stop()


def _pool_check(cfg: BundleConfig, kube: FakeKube, tmp_path: Path):
    kc = write_kubeconfig(tmp_path / "kubeconfig", kube.url)
    return RUN["router.inferencepool"](VerifyContext(cfg, Cluster.connect(str(kc)), Options()))


def test_accepted_pool_passes_under_the_rendered_rbac(cfg, kube, tmp_path) -> None:
    kube.add(_pool())
    out = _pool_check(cfg, kube, tmp_path)
    assert out.status == Status.PASS, out
    assert "Gateway vllm/inference-gateway" in out.evidence
    assert not kube.denied


@pytest.mark.parametrize(
    ("pool", "wanted"),
    [
        (None, "does not exist"),
        (_pool(parents=False), "no status.parents"),
        (_pool(resolved="False"), "ResolvedRefs InvalidExtensionRef"),
        (_pool(accepted="False"), "Accepted NotSupportedByGateway"),
    ],
)
def test_pool_failures(cfg, kube, tmp_path, pool, wanted) -> None:
    if pool is not None:
        kube.add(pool)
    out = _pool_check(cfg, kube, tmp_path)
    assert out.status == Status.FAIL and wanted in out.evidence, out
    assert out.fix


class _Epp:
    """An endpoint answering /metrics only with `Bearer <token>` (401 otherwise)."""

    def __init__(self) -> None:
        self.token = "right"
        epp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {epp.token}":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = b'llm_d_epp_ready_endpoints{name="vllm-pool"} 2\n'
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _scrape_config(port: int, token: str) -> dict[str, Any]:
    """What the rendered ServiceMonitor becomes: bearer credentials, job inference-pool-epp."""
    return {
        "job_name": "serviceMonitor/monitoring/inference-pool-epp/0",
        "authorization": {"type": "Bearer", "credentials": token},
        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        "relabel_configs": [{"target_label": "job", "replacement": EPP_JOB}],
    }


def _scrape_check(cfg: BundleConfig, url: str):
    return RUN["router.epp_scrape"](VerifyContext(cfg, None, Options(prometheus_url=url)))


def test_epp_scrape_refused_authorised_and_gone(cfg) -> None:
    epp = _Epp()
    stack = PromStack([_scrape_config(epp.port, "wrong")], []).start()
    try:
        wait_until(lambda: "refuses" in _scrape_check(cfg, stack.prom_url).evidence, 20, "401")
        out = _scrape_check(cfg, stack.prom_url)
        assert "refuses the scrape" in out.evidence and "401" in out.evidence, out
        assert "epp-metrics-reader-token" in out.fix
        epp.token = "wrong"  # the Secret now holds a token the EPP accepts
        wait_until(lambda: _scrape_check(cfg, stack.prom_url).status == Status.PASS, 20, "up")
        assert "authorised" in _scrape_check(cfg, stack.prom_url).evidence
        epp.stop()
        wait_until(lambda: "down" in _scrape_check(cfg, stack.prom_url).evidence, 20, "down")
        out = _scrape_check(cfg, stack.prom_url)
        assert "down" in out.evidence and "refuses" not in out.evidence, out
    finally:
        stack.stop()


def test_no_epp_target_fails(cfg) -> None:
    stack = PromStack([], []).start()
    try:
        out = _scrape_check(cfg, stack.prom_url)
        assert out.status == Status.FAIL and f"job {EPP_JOB}" in out.evidence, out
        assert "app.kubernetes.io/name=vllm-pool-epp" in out.fix
    finally:
        stack.stop()
