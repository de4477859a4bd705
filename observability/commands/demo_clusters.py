"""`obsctl demo --clusters N`: N simulated clusters remote-writing into one central store."""

from __future__ import annotations

import time
from dataclasses import replace

import typer

from observability.commands._common import print_json
from observability.commands._running import running, watch
from observability.local.multicluster import CLUSTER_DEFAULTS, MultiClusterStack, MultiOptions
from observability.local.stack import StackOptions


def _print_urls(multi: MultiClusterStack) -> None:
    assert multi.store is not None
    typer.echo(f"Central store     {multi.store.url}  (VictoriaMetrics; Prometheus query API)")
    for s in multi.stacks:
        st = s.running
        typer.echo(f"{st.cluster}:")
        for url in st.prometheus_urls:
            typer.echo(f"  Prometheus      {url}")
        typer.echo(f"  Alertmanager    {st.alertmanager_url}/api/v2/alerts")
        typer.echo(f"  Webhook sink    {st.webhook_url}/notifications")
        typer.echo(f"  Simulator admin {st.sim_admin_url}/faults")
        typer.echo(f"  Snapshot page   {st.snapshot_url}")


def _now() -> str:
    return time.strftime("%H:%M:%S")


def run_clusters(
    stack: StackOptions,
    *,
    clusters: int,
    prometheus_replicas: int | None,
    duration: float,
    interval: float,
    prove: bool,
    outage: float,
    json_out: bool,
) -> None:
    """`stack` as one cluster would run it; each cluster starts one after another, so
    each gets the clusters' longer ready timeout."""
    ready = max(stack.ready_timeout_s, CLUSTER_DEFAULTS["ready_timeout_s"])
    multi = MultiClusterStack(
        MultiOptions(replace(stack, ready_timeout_s=ready), clusters, prometheus_replicas)
    )
    say = (
        (lambda m: typer.echo(f"- {m}", err=True)) if json_out else (lambda m: typer.echo(f"- {m}"))
    )
    started = time.monotonic()
    code = 0
    with running(multi, json_out=json_out):
        multi.start(say)
        say(f"{clusters} clusters up after {time.monotonic() - started:.1f}s")
        if not json_out:
            _print_urls(multi)
        if prove:
            proof = multi.prove(outage_s=outage, say=say)
            if json_out:
                print_json(proof.to_json())
            else:
                for part in ("apart", "snapshot", "dedup", "fault", "outage"):
                    ok = getattr(proof, f"{part}_ok")
                    typer.echo(f"{'PASS' if ok else 'FAIL'}  {part}")
            code = 0 if proof.ok else 1
        else:
            watch(multi, duration, interval, lambda: [f"[{_now()}] {multi.summary_line()}"])
    if code:
        raise typer.Exit(code)
