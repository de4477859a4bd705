"""`obsctl demo --clusters N`: N simulated clusters remote-writing into one central store."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from observability.commands._common import die, print_json
from observability.config import BundleConfig
from observability.local.binaries import MissingBinaryError
from observability.local.interrupt import interrupt_on_term
from observability.local.multicluster import MultiClusterStack, MultiOptions
from observability.process import ChildFailedError
from observability.promapi import PromError


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


def run_clusters(
    cfg: BundleConfig,
    repo_root: Path,
    *,
    clusters: int,
    profile: str,
    replicas: int,
    models: tuple[tuple[str, str], ...],
    prometheus_replicas: int | None,
    users: int,
    rate: float,
    duration: float,
    interval: float,
    prove: bool,
    outage: float,
    json_out: bool,
) -> None:
    multi = MultiClusterStack(
        MultiOptions.of(
            cfg,
            repo_root,
            clusters=clusters,
            prometheus_replicas=prometheus_replicas,
            profile=profile,
            replicas=replicas,
            models=models,
            load=users > 0,
            users=max(users, 1),
            rate=rate,
        )
    )
    say = (
        (lambda m: typer.echo(f"- {m}", err=True)) if json_out else (lambda m: typer.echo(f"- {m}"))
    )
    started = time.monotonic()
    code = 0
    with interrupt_on_term():
        try:
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
                typer.echo("\nCtrl-C stops everything.")
                while not duration or time.monotonic() - started < duration:
                    dead = multi.dead_children()
                    if dead:
                        die(f"{', '.join(dead)} stopped unexpectedly", 1)
                    typer.echo(f"[{time.strftime('%H:%M:%S')}] {multi.summary_line()}")
                    left = duration - (time.monotonic() - started) if duration else interval
                    time.sleep(max(min(interval, left), 0))
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            typer.echo("\nstopping", err=True)
        except (MissingBinaryError, ChildFailedError, RuntimeError, PromError) as err:
            multi.stop()
            die(str(err))
        finally:
            multi.stop()
    typer.echo("stopped: no process left", err=json_out)
    if code:
        raise typer.Exit(code)
