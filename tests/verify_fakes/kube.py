"""A fake Kubernetes API server: list/get of stored objects, label selectors, the
service proxy (forwarding to real local processes), and ClusterRole-style RBAC.

It speaks just enough of the real API for the official `kubernetes` client: the same
paths, List envelopes and `Status` errors. The proxy strips `Authorization` after
"authenticating" the caller, as the real kube-apiserver does.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KINDS: dict[str, tuple[str, str, str]] = {  # kind -> (group, version, plural)
    "Node": ("", "v1", "nodes"),
    "Namespace": ("", "v1", "namespaces"),
    "Pod": ("", "v1", "pods"),
    "Service": ("", "v1", "services"),
    "Secret": ("", "v1", "secrets"),
    "ConfigMap": ("", "v1", "configmaps"),
    "Deployment": ("apps", "v1", "deployments"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "CustomResourceDefinition": ("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
    "Application": ("argoproj.io", "v1alpha1", "applications"),
    "Prometheus": ("monitoring.coreos.com", "v1", "prometheuses"),
    "Alertmanager": ("monitoring.coreos.com", "v1", "alertmanagers"),
    "ServiceMonitor": ("monitoring.coreos.com", "v1", "servicemonitors"),
    "PodMonitor": ("monitoring.coreos.com", "v1", "podmonitors"),
    "PrometheusRule": ("monitoring.coreos.com", "v1", "prometheusrules"),
    "RayService": ("ray.io", "v1", "rayservices"),
    "LLMInferenceService": ("serving.kserve.io", "v1alpha2", "llminferenceservices"),
    "InferenceService": ("serving.kserve.io", "v1beta1", "inferenceservices"),
    "LeaderWorkerSet": ("leaderworkerset.x-k8s.io", "v1", "leaderworkersets"),
    "ScaledObject": ("keda.sh", "v1alpha1", "scaledobjects"),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers"),
    "GrafanaDashboard": ("grafana.integreatly.org", "v1beta1", "grafanadashboards"),
    "InferencePool": ("inference.networking.k8s.io", "v1", "inferencepools"),
}
KIND_OF = {(g, p): k for k, (g, _, p) in KINDS.items()}
HANG = "hang"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k) != v.lstrip("="):
                return False
        elif labels.get(term) is None:
            return False
    return True


class FakeKube:
    def __init__(self, rbac: list[dict[str, Any]] | None = None) -> None:
        """`rbac`: the rendered RBAC objects (ClusterRole, Role) whose rules are enforced
        for every request, or None to allow everything."""
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.backends: dict[tuple[str, str], str] = {}  # (ns, service) -> base URL | HANG
        self.rbac = rbac
        self.denied: list[str] = []
        self.requests = 0
        # "list pods", "get servicemonitors", "proxy <service> /api/v1/query": what a run asks
        self.routes: collections.Counter[str] = collections.Counter()
        # PromQL proxied to a backend's /api/v1/query -> rows in its last answer
        self.query_rows: dict[str, int] = {}
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- store ---------------------------------------------------------------------------
    def add(self, *objs: dict[str, Any]) -> None:
        for obj in objs:
            g, _, plural = KINDS[obj["kind"]]
            self.objects.setdefault((g, plural), []).append(obj)

    def remove(self, kind: str, name: str, namespace: str | None = None) -> None:
        g, _, plural = KINDS[kind]
        self.objects[(g, plural)] = [
            o
            for o in self.objects.get((g, plural), [])
            if not (
                o["metadata"]["name"] == name
                and (namespace is None or o["metadata"].get("namespace") == namespace)
            )
        ]

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        g, _, plural = KINDS[kind]
        for o in self.objects.get((g, plural), []):
            if o["metadata"]["name"] == name and (
                namespace is None or o["metadata"].get("namespace") == namespace
            ):
                return o
        raise KeyError(f"{kind} {namespace}/{name}")

    # -- server ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeKube:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _allowed(
        self, group: str, resource: str, verb: str, ns: str | None = None, name: str | None = None
    ) -> bool:
        if self.rbac is None:
            return True
        for role in self.rbac:
            scope = role["metadata"].get("namespace") if role["kind"] == "Role" else None
            if scope is not None and scope != ns:
                continue
            for r in role.get("rules") or []:
                if (
                    group in r.get("apiGroups", [])
                    and resource in r.get("resources", [])
                    and verb in r.get("verbs", [])
                    and (not r.get("resourceNames") or name in r["resourceNames"])
                ):
                    return True
        return False

    def _count_rows(self, query: str, body: bytes) -> None:
        expr = parse_qs(query).get("query", [""])[0]
        with contextlib.suppress(ValueError, KeyError, TypeError):
            result = json.loads(body)["data"]["result"]
            self.query_rows[expr] = len(result) if isinstance(result, list) else 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        kube = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                kube.requests += 1
                u = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                parts = [p for p in u.path.split("/") if p]
                with contextlib.suppress(BrokenPipeError):
                    self._route(parts, q, u)

            def _route(self, parts: list[str], q: dict[str, str], u: Any) -> None:
                if parts == ["version"]:
                    self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2"})
                    return
                if parts[:2] == ["api", "v1"]:
                    group, rest = "", parts[2:]
                elif parts[:1] == ["apis"] and len(parts) >= 3:
                    group, rest = parts[1], parts[3:]
                else:
                    self._send(
                        404,
                        _status(
                            404, "NotFound", "the server could not find the requested resource"
                        ),
                    )
                    return
                ns = None
                if rest[:1] == ["namespaces"] and len(rest) >= 3:
                    ns, rest = rest[1], rest[2:]
                elif rest[:1] == ["namespaces"] and len(rest) == 2:
                    rest = ["namespaces", rest[1]]
                if len(rest) >= 3 and rest[0] == "services" and rest[2] == "proxy":
                    spec = rest[1].split(":")
                    svc = spec[1] if len(spec) == 3 else spec[0]
                    kube.routes[f"proxy {svc} /{'/'.join(rest[3:])}"] += 1
                    self._proxy(ns or "default", rest[1], "/" + "/".join(rest[3:]), u)
                    return
                plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
                verb = "get" if name else "list"
                cached = " rv=0" if q.get("resourceVersion") == "0" else ""
                kube.routes[f"{verb} {plural}{cached}"] += 1
                if not kube._allowed(group, plural, verb, ns, name):
                    kube.denied.append(f"{verb} {group}/{plural} {ns}/{name}")
                    self._send(
                        403,
                        _status(
                            403,
                            "Forbidden",
                            f'{plural} is forbidden: cannot {verb} resource "{plural}" in API group "{group}"',
                        ),
                    )
                    return
                items = [
                    o
                    for o in kube.objects.get((group, plural), [])
                    if ns is None or o["metadata"].get("namespace") == ns
                ]
                if name:
                    found = [o for o in items if o["metadata"]["name"] == name]
                    if found:
                        self._send(200, found[0])
                    else:
                        self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
                    return
                if (group, plural) not in KIND_OF and not items:
                    self._send(
                        404,
                        _status(
                            404, "NotFound", "the server could not find the requested resource"
                        ),
                    )
                    return
                sel = q.get("labelSelector", "")
                items = [o for o in items if _matches(o["metadata"].get("labels") or {}, sel)]
                kind = KIND_OF.get((group, plural), "Object")
                self._send(
                    200,
                    {
                        "kind": f"{kind}List",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": "1"},
                        "items": items,
                    },
                )

            def _proxy(self, ns: str, spec: str, path: str, u: Any) -> None:
                if not kube._allowed("", "services/proxy", "get", ns, spec):
                    kube.denied.append("get services/proxy")
                    self._send(403, _status(403, "Forbidden", "services/proxy is forbidden"))
                    return
                name = spec.split(":")[1] if spec.count(":") == 2 else spec.split(":")[0]
                backend = kube.backends.get((ns, name))
                if backend is None:
                    self._send(
                        503,
                        _status(
                            503,
                            "ServiceUnavailable",
                            f'no endpoints available for service "{name}"',
                        ),
                    )
                    return
                if backend == HANG:
                    kube._stop.wait(30)
                    return
                url = backend.rstrip("/") + path + (f"?{u.query}" if u.query else "")
                # Like kube-apiserver: Authorization authenticated *us*; it is not forwarded.
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("authorization", "host", "connection", "content-length")
                }
                req = urllib.request.Request(url, headers=headers)
                try:
                    with _OPENER.open(req, timeout=30) as r:
                        body = r.read()
                        if path.endswith("/api/v1/query"):
                            kube._count_rows(u.query, body)
                        self._send(r.status, body, r.headers.get("Content-Type", "text/plain"))
                except urllib.error.HTTPError as err:
                    self._send(err.code, err.read(), err.headers.get("Content-Type", "text/plain"))
                except OSError as err:
                    msg = f"error trying to reach service: {err}"
                    self._send(503, _status(503, "ServiceUnavailable", msg))

        return Handler


def wait_until(pred: Any, timeout: float = 20.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")
