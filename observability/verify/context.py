"""Shared state for one verify run: config, cluster, endpoints, and memoised reads.

Checks run in parallel and several need the same data (nodes, targets, the Prometheus
CR). `once(key, fn)` computes each at most once per run; concurrent callers wait for the
first and get the same value or the same CheckFailed.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from observability.config import BundleConfig
from observability.promapi import Alertmanager, HttpTransport, Prometheus
from observability.promapi import Transport as Endpoint
from observability.verify import bundle as bundle_facts
from observability.verify.k8s import Cluster
from observability.verify.model import CheckFailed, Status

__all__ = ["Options", "VerifyContext"]

T = TypeVar("T")

# kube-prometheus-stack labels its objects with `app: <chart name>-<component>`; the
# fallbacks cover the operator's own governing Services and other Helm release names.
PROMETHEUS_SVC = [{"app": "kube-prometheus-stack-prometheus"}, {"operated-prometheus": "true"}]
ALERTMANAGER_SVC = [
    {"app": "kube-prometheus-stack-alertmanager"},
    {"operated-alertmanager": "true"},
]
GRAFANA_SVC = [{"app.kubernetes.io/name": "grafana"}]
WEB_PORTS = ("http-web", "web", "http", "service")


@dataclass(frozen=True)
class Options:
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    grafana_url: str | None = None
    grafana_token: str | None = None
    local: bool = False
    http_timeout: float = 5.0


class VerifyContext:
    def __init__(self, cfg: BundleConfig, cluster: Cluster | None, options: Options) -> None:
        self.cfg = cfg
        self.cluster = cluster
        self.opts = options
        self.ns = cfg.namespaces
        self._lock = threading.Lock()
        self._memo: dict[str, Future[Any]] = {}

    # -- memo -------------------------------------------------------------------------
    def once(self, key: str, fn: Callable[[], T]) -> T:
        with self._lock:
            fut = self._memo.get(key)
            owner = fut is None
            if owner:
                fut = self._memo[key] = Future()
        assert fut is not None
        if owner:
            try:
                fut.set_result(fn())
            except BaseException as err:
                fut.set_exception(err)
        return fut.result()

    def need_cluster(self) -> Cluster:
        if self.cluster is None:
            raise CheckFailed("not checked in --local mode (no cluster)", status=Status.SKIP)
        return self.cluster

    # -- bundle facts (pure: from bundle.yaml through the same render functions) ----
    def expected_apps(self) -> list[dict[str, Any]]:
        return self.once("b.apps", lambda: bundle_facts.applications(self.cfg))

    def expected_monitors(self) -> list[dict[str, Any]]:
        return self.once("b.monitors", lambda: bundle_facts.monitors(self.cfg))

    def expected_rule_groups(self) -> list[dict[str, Any]]:
        return self.once("b.rules", lambda: bundle_facts.rule_groups(self.cfg))

    def dashboards(self) -> dict[str, dict[str, Any]]:
        return self.once("b.dash", lambda: bundle_facts.dashboards(self.cfg))

    # -- cluster reads, shared by checks -------------------------------------------------
    def nodes(self) -> list[dict[str, Any]]:
        return self.once("k.nodes", lambda: self.need_cluster().nodes())

    def prometheus_cr(self) -> dict[str, Any] | None:
        def find() -> dict[str, Any] | None:
            items = self.need_cluster().customs(
                "monitoring.coreos.com", "v1", "prometheuses", self.ns.monitoring
            )
            return items[0] if items else None

        return self.once("k.promcr", find)

    def _service(self, key: str, selectors: list[dict[str, str]], what: str) -> Endpoint:
        def find() -> Endpoint:
            cl = self.need_cluster()
            for sel in selectors:
                svcs = cl.services(self.ns.monitoring, sel)
                if svcs:
                    svc = sorted(svcs, key=lambda s: s["metadata"]["name"])[0]
                    ports = svc.get("spec", {}).get("ports") or []
                    named = [p for n in WEB_PORTS for p in ports if p.get("name") == n]
                    port = (named or ports or [{"port": 80}])[0]
                    return cl.proxy(
                        self.ns.monitoring,
                        svc["metadata"]["name"],
                        port.get("name") or port["port"],
                    )
            sels = " or ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in selectors)
            raise CheckFailed(
                f"no {what} Service in namespace {self.ns.monitoring} (labels {sels})",
                f"check the kube-prometheus-stack Application synced, or pass --{key}-url",
            )

        return self.once(f"svc.{key}", find)

    def prometheus(self) -> Prometheus:
        def make() -> Prometheus:
            if self.opts.prometheus_url:
                ep: Endpoint = HttpTransport(self.opts.prometheus_url, name="Prometheus")
            else:
                ep = self._service("prometheus", PROMETHEUS_SVC, "Prometheus")
            return Prometheus(ep, self.opts.http_timeout)

        return self.once("api.prom", make)

    def alertmanager(self) -> Alertmanager:
        def make() -> Alertmanager:
            if self.opts.alertmanager_url:
                ep: Endpoint = HttpTransport(self.opts.alertmanager_url, name="Alertmanager")
            else:
                ep = self._service("alertmanager", ALERTMANAGER_SVC, "Alertmanager")
            return Alertmanager(ep, self.opts.http_timeout)

        return self.once("api.am", make)

    def grafana(self) -> tuple[Endpoint, dict[str, str], bool]:
        """(endpoint, auth headers, via_proxy). Credentials: --grafana-token/env, else the
        bundle's admin Secret (read with `get` on that one Secret only)."""

        def make() -> tuple[Endpoint, dict[str, str], bool]:
            headers: dict[str, str] = {}
            if self.opts.grafana_token:
                headers["Authorization"] = f"Bearer {self.opts.grafana_token}"
            elif self.cluster is not None:
                sec = self.cfg.secrets.grafana_admin
                try:
                    obj = self.cluster.secret(self.ns.monitoring, sec.name) or {}
                except CheckFailed:
                    obj = {}
                data = obj.get("data") or {}
                if sec.user_key in data and sec.password_key in data:
                    user = base64.b64decode(data[sec.user_key]).decode()
                    pw = base64.b64decode(data[sec.password_key]).decode()
                    token = base64.b64encode(f"{user}:{pw}".encode()).decode()
                    headers["Authorization"] = f"Basic {token}"
            if self.opts.grafana_url:
                return HttpTransport(self.opts.grafana_url, name="Grafana"), headers, False
            return self._service("grafana", GRAFANA_SVC, "Grafana"), headers, True

        return self.once("api.grafana", make)
