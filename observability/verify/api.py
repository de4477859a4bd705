"""One verify run as a library call: connect, select checks, run them, return results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from observability.config import BundleConfig
from observability.promapi import HttpTransport, PromError
from observability.verify.checks import ALL_CHECKS
from observability.verify.context import Options, VerifyContext
from observability.verify.k8s import Cluster, ClusterUnreachable
from observability.verify.model import Result
from observability.verify.runner import (
    DEFAULT_CHECK_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    run_checks,
    select_checks,
)

__all__ = ["ClusterUnreachable", "VerifyRun", "run_verify"]


@dataclass(frozen=True)
class VerifyRun:
    results: list[Result]
    seconds: float
    target: str


def _preflight_local(options: Options) -> None:
    """--local has no API server: an unreachable Prometheus is the exit-2 case instead,
    refused and hung alike (the CLI contract), each within the HTTP timeout."""
    if not options.prometheus_url:
        raise ClusterUnreachable("--local needs --prometheus-url")
    ep = HttpTransport(options.prometheus_url, name="Prometheus")
    try:
        ep.get("/-/ready", timeout=options.http_timeout)
    except PromError as err:
        if err.evidence:
            raise ClusterUnreachable(
                f"{err.evidence}: start `obsctl demo` or fix --prometheus-url"
            ) from None
    finally:
        ep.close()


def run_verify(
    cfg: BundleConfig,
    options: Options,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    in_cluster: bool | None = None,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
    workers: int = 16,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    on_result: Callable[[Result], None] | None = None,
) -> VerifyRun:
    """Raises ValueError for unknown check names and ClusterUnreachable (exit 2)."""
    t0 = time.monotonic()
    pool = [c for c in ALL_CHECKS if c.local] if options.local else list(ALL_CHECKS)
    pool = [c for c in pool if c.applies is None or c.applies(cfg)]
    checks = select_checks(pool, only, skip)
    cluster: Cluster | None = None
    if options.local:
        target = f"local stack (Prometheus {options.prometheus_url})"
        _preflight_local(options)
    else:
        cluster = Cluster.connect(kubeconfig, context, in_cluster, timeout=options.http_timeout)
        version = cluster.ping()
        cluster.load_api_classes()
        target = f"cluster {cluster.host} (Kubernetes {version})"
    ctx = VerifyContext(cfg, cluster, options)
    try:
        results = run_checks(
            checks,
            ctx,
            workers=workers,
            check_timeout=check_timeout,
            total_timeout=total_timeout,
            on_result=on_result,
        )
    finally:
        if cluster is not None:
            cluster.close()
    return VerifyRun(results, time.monotonic() - t0, target)
