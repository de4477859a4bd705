"""Drift guard: one serving pod per deployed model is read, and every alert and panel its
exporter's names would leave blind is named, with the exporter version seen (drift.py).

The pod is read through its Service and the API server proxy (one pod answers); where the
runtime has no such Service (RayService workers) or the proxy cannot reach it (the vllm
NetworkPolicy), Prometheus answers for that workload's pods instead. Workloads are read
concurrently, so a fleet of hundreds of models stays within a few seconds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from observability import runtimes
from observability.promapi import PromError
from observability.verify.context import VerifyContext
from observability.verify.drift import Blind, Seen, blind_readers, exposed, from_names, summary
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS"]

_WORKERS = 8


def _from_pod(ctx: VerifyContext, key: str) -> tuple[Seen, str] | None:
    where = runtimes.runtime_of(ctx.cfg, key).metrics_service(ctx.cfg, key)
    if where is None or ctx.cluster is None:
        return None
    ns, svc, port = where
    try:
        resp = ctx.cluster.proxy(ns, svc, port).get("/metrics", timeout=ctx.opts.http_timeout)
    except PromError:
        return None
    if resp.status != 200:
        return None
    return exposed(resp.text()), f"{ns}/{svc}"


def _from_prometheus(ctx: VerifyContext, key: str) -> tuple[Seen, str] | None:
    rt = runtimes.runtime_of(ctx.cfg, key)
    ns = ctx.cfg.model_namespace(key)
    jobs = "|".join(rt.engine_jobs(ctx.cfg)) or ".+"
    rows = ctx.prometheus().query(
        f'group by (__name__, Version) ({{namespace="{ns}", job=~"{jobs}"}})'
    )
    if not rows:
        return None
    return from_names([r["metric"] for r in rows]), f"Prometheus, namespace {ns}"


def _read(ctx: VerifyContext, key: str) -> tuple[str, tuple[Seen, str] | None]:
    return key, _from_pod(ctx, key) or _from_prometheus(ctx, key)


def _drift(ctx: VerifyContext) -> Outcome:
    keys = [k for k, _m in ctx.cfg.deployed_models]
    if not keys:
        return Outcome.skip("no model in vllm.deploy")
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(keys))) as pool:
        reads = list(pool.map(lambda k: _read(ctx, k), keys))
    ok: list[str] = []
    blind_alerts: list[str] = []
    idle: list[str] = []
    panels: list[str] = []
    fixes: list[str] = []
    unread: list[str] = []
    for key, got in reads:
        if got is None:
            unread.append(key)
            continue
        seen, source = got
        rt = runtimes.runtime_of(ctx.cfg, key)
        blind: list[Blind] = blind_readers(ctx.cfg, rt, seen)
        version = seen.version or "an unknown exporter"
        if not blind:
            ok.append(f"{key}: {version}")
            continue
        line = f"{key} ({rt.name}, {version}, read from {source}): {summary(blind)} blind"
        if not seen.served:
            idle.append(line + " (no request served yet: families created at first use)")
        elif any(b.kind == "alert" for b in blind):
            blind_alerts.append(line)
            fixes.append(rt.drift_fix(ctx.cfg, key))
        else:
            panels.append(line)
    if blind_alerts:
        return Outcome.fail("; ".join(blind_alerts), "; ".join(dict.fromkeys(fixes)))
    if idle or panels or unread:
        why = [*idle, *panels]
        if unread:
            why.append(f"no /metrics and no series for {', '.join(unread)}")
        return Outcome.warn(
            "; ".join(why),
            "send one request to each model and re-run; see scrape.targets for a model "
            "with no series",
        )
    return Outcome.ok("every family the alerts and panels read is exposed: " + "; ".join(ok))


CHECKS = [
    Check(
        "scrape.drift",
        "scrape",
        "exporter names match the rules (drift guard)",
        _drift,
        ("prometheus.ready",),
    ),
]
