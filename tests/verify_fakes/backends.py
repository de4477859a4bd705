"""Backends behind the fake API server's service proxy: a metrics exporter standing in for
vLLM pods and dcgm-exporter, a small Grafana HTTP API, and real Prometheus/Alertmanager."""

from __future__ import annotations

import base64
import contextlib
import json
import math
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from observability.metrics.catalog import vllm_catalog
from observability.metrics.names import DCGM, SIGNALS, VLLM

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> bytes:
    with _OPENER.open(url, timeout=timeout) as r:
        return r.read()


def _kinds() -> dict[str, str]:
    out: dict[str, str] = {}
    for s in SIGNALS.values():
        for n in (s.v1, s.v0):
            if n:
                out[n] = s.kind
    for fam in vllm_catalog("latest").families.values():  # histograms without a signal
        out.setdefault(fam.name, fam.type)
    return out


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a scrape past its timeout) resets the connection: not news.
        pass


class _Server:
    def __init__(self) -> None:
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, path: str, q: dict[str, str], headers: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                u = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                code, body = outer.handle(u.path, q, self.headers)
                if isinstance(body, bytes | str):
                    data = body if isinstance(body, bytes) else body.encode()
                    ctype = "text/plain; version=0.0.4; charset=utf-8"
                else:
                    data, ctype = json.dumps(body).encode(), "application/json"
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except BrokenPipeError:
                    pass

        return H


@dataclass
class Exporter(_Server):
    """vLLM pods (`/metrics?pod=`, `/health`, `/v1/models`) and DCGM (`/dcgm?node=`).

    `names` are the vLLM family names to expose (typically every name the bundle's
    dashboards and rules read); knobs switch on the failure each test needs."""

    served_name: str
    names: list[str]
    dcgm_names: list[str]
    gpus_per_node: int = 1
    pod_of_gpu: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    generation: str = "new"  # new | old
    escaped: bool = False
    down_pods: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    duplicate: bool = False
    escaped_pods: set[str] = field(default_factory=set)  # these pods escape vllm: to vllm_
    old_pods: set[str] = field(default_factory=set)  # these pods run the old generation
    xid: int = 0  # DCGM_FI_DEV_XID_ERRORS of every GPU (0: none)

    def __post_init__(self) -> None:
        self.t0 = time.time()
        self._kinds = _kinds()
        self._texts: dict[tuple[Any, ...], bytes] = {}
        _Server.__init__(self)

    # -- exposition ------------------------------------------------------------------------
    def _vllm_families(self, generation: str = "") -> list[str]:
        keep: list[str] = []
        for s in SIGNALS.values():
            new, old = s.v1, s.v0
            name = new if (generation or self.generation) == "new" else old
            if name:
                keep.append(name)
        signal_names = {n for s in SIGNALS.values() for n in (s.v1, s.v0) if n}
        extra = [n for n in self.names if n not in signal_names]
        return [n for n in dict.fromkeys(keep + extra) if n not in self.dropped]

    def vllm_text(self, pod: str = "") -> str:
        el = time.time() - self.t0 + 10
        escaped = self.escaped or pod in self.escaped_pods
        generation = "old" if pod in self.old_pods else ""
        lines: list[str] = []
        for name in self._vllm_families(generation):
            kind = self._kinds.get(name) or ("counter" if name.endswith("_total") else "gauge")
            out = name.replace(":", "_") if escaped else name
            # the API server's instrumentator labels by endpoint, not by model
            lab = (
                'handler="/v1/completions",method="POST"'
                if name.startswith("http_")
                else f'engine="0",model_name="{self.served_name}"'
            )
            if name == "vllm:prompt_tokens_by_source_total":  # vLLM creates every source
                for src in ("local_compute", "local_cache_hit", "external_kv_transfer"):
                    lines.append(f'{out}{{{lab},source="{src}"}} {el * 2:.1f}')
                continue
            if name == "http_requests_total":
                lines.append(
                    f'{out}{{handler="/v1/completions",method="POST",status="2xx"}} {el * 3:.1f}'
                )
                continue
            if name == VLLM.ENGINE_SLEEP_STATE.v1:  # one-hot: every engine awake
                for state, v in (("awake", 1), ("weights_offloaded", 0), ("discard_all", 0)):
                    lines.append(f'{out}{{{lab},sleep_state="{state}"}} {v}')
                continue
            if kind == "counter":
                if name.endswith("request_success_total"):
                    for reason, k in (("stop", 2.0), ("length", 0.5)):
                        lines.append(f'{out}{{{lab},finished_reason="{reason}"}} {el * k:.1f}')
                else:
                    lines.append(f"{out}{{{lab}}} {el * 7:.1f}")
            elif kind == "histogram":
                count = el * 2
                for le in BUCKETS:
                    frac = 1 - math.exp(-le / 0.4)
                    lines.append(f'{out}_bucket{{{lab},le="{le}"}} {count * frac:.3f}')
                lines.append(f'{out}_bucket{{{lab},le="+Inf"}} {count:.3f}')
                lines.append(f"{out}_sum{{{lab}}} {count * 0.35:.3f}")
                lines.append(f"{out}_count{{{lab}}} {count:.3f}")
            else:
                lines.append(f"{out}{{{lab}}} {0.42 if 'perc' in name or 'rate' in name else 3}")
        if self.duplicate:
            lines += ['verify_test_dup{idx="1"} 1', 'verify_test_dup{idx="2"} 1']
        return "\n".join(lines) + "\n"

    def dcgm_text(self, node: str) -> str:
        el = time.time() - self.t0 + 10
        values = {
            DCGM.GPU_UTIL: 71,
            DCGM.FB_USED: 20500,
            DCGM.FB_FREE: 1900,
            DCGM.POWER_USAGE: 182.5,
            DCGM.GPU_TEMP: 58,
            DCGM.MEMORY_TEMP: 61,
            DCGM.XID_ERRORS: self.xid,
            DCGM.SM_CLOCK: 1710,
            DCGM.MEM_CLOCK: 6251,
            DCGM.TENSOR_ACTIVE: 0.31,
            DCGM.GR_ENGINE_ACTIVE: 0.77,
        }
        lines: list[str] = []
        for gpu in range(self.gpus_per_node):
            lab = (
                f'gpu="{gpu}",UUID="GPU-{abs(hash((node, gpu))) % 10**8:08d}-verify",'
                f'device="nvidia{gpu}",modelName="NVIDIA A10G",Hostname="{node}",'
                f'DCGM_FI_DRIVER_VERSION="550.90.07",pci_bus_id="00000000:00:1{gpu}.0"'
            )
            if (node, gpu) in self.pod_of_gpu:
                ns, pod = self.pod_of_gpu[(node, gpu)]
                lab += f',pod="{pod}",namespace="{ns}",container="vllm"'
            for name in self.dcgm_names:
                if name in self.dropped:
                    continue
                v = el * 1000 if name == DCGM.TOTAL_ENERGY else values.get(name, 1)
                lines.append(f"{name}{{{lab}}} {v}")
        return "\n".join(lines) + "\n"

    def _cached(self, key: tuple[Any, ...], make: Callable[[], str]) -> bytes:
        # A big fake fleet (bench/verify_speed.py: 1,500 targets) scrapes this one process;
        # an exposition is made once per second per shape, not once per target. The knobs
        # are in the key, so a test that turns one sees it on the next scrape.
        key = (
            *key,
            int(time.time()),
            self.generation,
            self.escaped,
            self.duplicate,
            self.xid,
            frozenset(self.dropped),
        )
        data = self._texts.get(key)
        if data is None:
            if len(self._texts) > 4096:
                self._texts.clear()
            data = self._texts[key] = make().encode()  # encoded once, served many times
        return data

    def handle(self, path: str, q: dict[str, str], headers: Any) -> tuple[int, Any]:
        if path == "/metrics":
            pod = q.get("pod", "")
            if pod in self.down_pods:
                return 500, "engine dead\n"
            shape = (pod in self.escaped_pods, pod in self.old_pods)
            return 200, self._cached(("vllm", *shape), lambda: self.vllm_text(pod))
        if path == "/dcgm":
            node = q.get("node", "node")
            return 200, self._cached(("dcgm", node), lambda: self.dcgm_text(node))
        if path == "/health":
            return 200, ""
        if path == "/v1/models":
            return 200, {
                "object": "list",
                "data": [{"id": self.served_name, "object": "model", "owned_by": "vllm"}],
            }
        return 404, {"error": "not found"}


def _serve_exporter(kwargs: dict[str, Any], conn: Any) -> None:
    """Child process body: one Exporter answering scrapes until the parent hangs up."""
    ex = Exporter(**kwargs)
    conn.send(ex.port)
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # EOF when the parent closes its end or exits
    ex.stop()


class ExporterProcesses:
    """`n` copies of an Exporter in their own processes, for Prometheus to scrape.

    A big fake fleet (bench/verify_speed.py: 1,500 targets) scraping the Exporter inside
    the process under test competes with it for the GIL: scrapes time out and the bench
    measures the fake. These copies serve the same expositions (same arguments; the
    knobs tests turn stay on the in-process Exporter, so use these only where none is
    turned)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        import multiprocessing

        mp = multiprocessing.get_context("spawn")
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        self.addrs: list[str] = []
        try:
            for _ in range(n):
                parent, child = mp.Pipe()
                proc = mp.Process(target=_serve_exporter, args=(kwargs, child), daemon=True)
                proc.start()
                child.close()
                self.procs.append(proc)
                self.conns.append(parent)
                if not parent.poll(60):
                    raise TimeoutError("exporter process did not start within 60s")
                self.addrs.append(f"127.0.0.1:{parent.recv()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


class FakeGrafana(_Server):
    """The Grafana HTTP API paths verify reads; basic auth or anonymous viewer."""

    def __init__(
        self,
        prometheus_url: str,
        dashboards: dict[str, dict[str, Any]],
        user: str = "admin",
        password: str = "verify-test-password",
        anonymous: bool = False,
    ) -> None:
        self.prometheus_url = prometheus_url
        self.dashboards = dict(dashboards)
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.anonymous = anonymous
        self.datasource = True
        self.database = "ok"  # what /api/health reports for the database
        super().__init__()

    def handle(self, path: str, q: dict[str, str], headers: Any) -> tuple[int, Any]:
        if path == "/api/health":
            return 200, {"commit": "0f2b7d4", "database": self.database, "version": "12.2.1"}
        if not self.anonymous and headers.get("Authorization") != self.auth:
            return 401, {"message": "Unauthorized"}
        if path.startswith("/api/datasources/uid/"):
            if not self.datasource or path.split("/")[4] != "prometheus":
                return 404, {"message": "Data source not found"}
            if path.endswith("/health"):
                try:
                    http_get(self.prometheus_url + "/-/ready")
                except OSError as err:
                    return 400, {"status": "ERROR", "message": f"Post error: {err}"}
                return 200, {"status": "OK", "message": "Successfully queried the Prometheus API."}
            return 200, {
                "id": 1,
                "uid": "prometheus",
                "name": "Prometheus",
                "type": "prometheus",
                "url": self.prometheus_url,
                "access": "proxy",
                "isDefault": True,
            }
        if path.startswith("/api/dashboards/uid/"):
            uid = path.rsplit("/", 1)[1]
            if uid not in self.dashboards:
                return 404, {"message": "Dashboard not found"}
            return 200, {
                "dashboard": self.dashboards[uid],
                "meta": {"slug": uid, "provisioned": True},
            }
        return 404, {"message": "Not found"}


class PromStack:
    """Real `prometheus` and `prometheus-alertmanager` on free ports in a temp dir."""

    def __init__(
        self,
        scrape_configs: list[dict[str, Any]],
        rule_groups: list[dict[str, Any]],
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        scrape_timeout: str = "900ms",
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="verify-prom-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.am_port = free_port()
        self.am_url = f"http://127.0.0.1:{self.am_port}"
        self.am2_url = ""
        self.prom_port = free_port()
        self.prom_url = f"http://127.0.0.1:{self.prom_port}"
        (self.tmp / "rules.yaml").write_text(
            yaml.safe_dump({"groups": rule_groups}, sort_keys=False)
        )
        (self.tmp / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {
                        "scrape_interval": scrape_interval,
                        "evaluation_interval": evaluation_interval,
                        "scrape_timeout": scrape_timeout,
                    },
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}
                        ]
                    },
                    "rule_files": [str(self.tmp / "rules.yaml")],
                    "scrape_configs": scrape_configs,
                },
                sort_keys=False,
            )
        )
        am_conf = {
            "route": {
                "receiver": "oncall",
                "group_wait": "0s",
                "routes": [{"receiver": "watchdog", "matchers": ['alertname="Watchdog"']}],
            },
            "receivers": [
                {"name": "oncall", "webhook_configs": [{"url": "http://127.0.0.1:9/hook"}]},
                {"name": "watchdog", "webhook_configs": [{"url": "http://127.0.0.1:9/watchdog"}]},
            ],
        }
        (self.tmp / "alertmanager.yml").write_text(yaml.safe_dump(am_conf))

    def _am(self, port: int, name: str) -> None:
        exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        assert exe, "prometheus-alertmanager is not installed"
        (self.tmp / name).mkdir()
        self.procs.append(
            subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.tmp / 'alertmanager.yml'}",
                    f"--storage.path={self.tmp / name}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                    "--log.level=info",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.tmp / f"{name}.log").open("wb"),
            )
        )

    def start(self) -> PromStack:
        from verify_fakes.kube import wait_until

        exe = shutil.which("prometheus")
        assert exe, "prometheus is not installed"
        self._am(self.am_port, "am")
        self.procs.append(
            subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.tmp / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.prom_port}",
                    # Alerts from evaluations before Alertmanager discovery (5 s) are
                    # dropped; resend each second instead of each minute.
                    "--rules.alert.resend-delay=1s",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.tmp / "prometheus.log").open("wb"),
            )
        )
        wait_until(lambda: http_get(self.prom_url + "/-/ready"), 20, "prometheus ready")
        wait_until(lambda: http_get(self.am_url + "/-/ready"), 20, "alertmanager ready")
        return self

    def start_second_alertmanager(self) -> str:
        """An Alertmanager Prometheus does not send to (the 'Watchdog missing' case)."""
        from verify_fakes.kube import wait_until

        if not self.am2_url:
            port = free_port()
            self._am(port, "am2")
            self.am2_url = f"http://127.0.0.1:{port}"
            wait_until(lambda: http_get(self.am2_url + "/-/ready"), 20, "second alertmanager")
        return self.am2_url

    def start_alertmanager(self, config: dict[str, Any]) -> str:
        """Another Alertmanager with `config` (Prometheus does not send to it)."""
        from verify_fakes.kube import wait_until

        port = free_port()
        name = f"am-{port}"
        (self.tmp / f"{name}.yml").write_text(yaml.safe_dump(config))
        exe = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        assert exe, "prometheus-alertmanager is not installed"
        (self.tmp / name).mkdir()
        self.procs.append(
            subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.tmp / f'{name}.yml'}",
                    f"--storage.path={self.tmp / name}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--cluster.listen-address=",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.tmp / f"{name}.log").open("wb"),
            )
        )
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_get(url + "/-/ready"), 20, f"alertmanager {name}")
        return url

    def set_rule_groups(self, groups: list[dict[str, Any]]) -> None:
        """Rewrite the rule file and reload Prometheus (SIGHUP), as the operator would
        after a PrometheusRule change; returns once /api/v1/rules shows the new set."""
        from verify_fakes.kube import wait_until

        (self.tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        prom = self.procs[1]
        prom.send_signal(signal.SIGHUP)
        want = sorted(g["name"] for g in groups)

        def loaded() -> bool:
            body = json.loads(http_get(self.prom_url + "/api/v1/rules"))
            return sorted(g["name"] for g in body["data"]["groups"]) == want

        wait_until(loaded, 20, "rules reloaded")

    def query(self, expr: str) -> list[dict[str, Any]]:
        from urllib.parse import quote

        body = json.loads(http_get(f"{self.prom_url}/api/v1/query?query={quote(expr)}"))
        return body["data"]["result"]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class BrokenPrometheus(_Server):
    """Answers /-/ready but rejects every query (an overloaded or misconfigured server)."""

    def handle(self, path: str, q: dict[str, str], headers: Any) -> tuple[int, Any]:
        if path in ("/-/ready", "/-/healthy"):
            return 200, "Prometheus Server is Ready.\n"
        return 503, {"status": "error", "errorType": "unavailable", "error": "query queue full"}
