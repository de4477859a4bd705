"""Several simulated clusters remote-writing into one central store, and the proof.

`MultiClusterStack` runs N `LocalStack`s (each: its own simulated vLLM replicas and GPUs,
its own Prometheus, or an HA pair with `prometheus_replicas: 2`, its own Alertmanager and
webhook sink), each with the external label `<cluster_label>=cluster-<x>` and a remote
write queue into one `CentralStore` (VictoriaMetrics, local/central.py).

`prove()` then checks what a multi-cluster setup promises, against the real processes:
1. apart: the central store holds every cluster's series under its own label, and an HA
   pair's two copies are one series there (deduplicated on the replica label);
2. fault: a GPU fault in one cluster fires its alert there, carrying that cluster's label
   at the webhook (grouped by it, as alerting/alertmanager.py routes), and no other
   cluster alerts; the ALERTS series in the central store names only that cluster;
3. outage: the central store stops for `outage_s` and restarts; remote write resends what
   its WAL held, and the samples of one scrape target are compared, source vs central,
   over the outage window: the missing count and the largest gap between samples.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from observability import tmpdirs
from observability.config import BundleConfig, duration_seconds
from observability.httppool import shared_client
from observability.local.central import CentralStore
from observability.local.ports import PortAllocator, Workspace
from observability.local.stack import FAST, LocalStack, Say, StackOptions
from observability.local.webhook import fetch_notifications
from observability.promapi import PromError, Prometheus

__all__ = [
    "MultiClusterStack",
    "MultiOptions",
    "Proof",
    "cluster_config",
    "cluster_names",
]

DEFAULT_CLUSTER_LABEL = "cluster"
FAULT = "gpu-overheat"
FAULT_ALERT = "GPUHighTemperature"
# Remote-write lag: source newest sample - newest sample sent, per queue.
LAG = (
    "max(prometheus_remote_storage_highest_timestamp_in_seconds"
    " - ignoring(remote_name, url) group_right"
    " prometheus_remote_storage_queue_highest_sent_timestamp_seconds)"
)


def cluster_names(n: int) -> list[str]:
    return [f"cluster-{chr(ord('a') + i)}" for i in range(n)]


def cluster_config(cfg: BundleConfig, name: str) -> BundleConfig:
    """`cfg` for one cluster: its cluster label (bundle's, else `cluster`) set to `name`.

    Rules and routes are generated from this config, so every aggregation and the
    Alertmanager grouping keep the label, exactly as a bundle with `cluster_label` set."""
    label = cfg.prometheus.cluster_label or DEFAULT_CLUSTER_LABEL
    prom = cfg.prometheus.model_copy(update={"cluster_label": label, "cluster_name": name})
    return cfg.model_copy(update={"prometheus": prom})


# What each cluster runs unless told otherwise: the fast profile, one vLLM replica per
# model, a light load, and more time to get ready (the clusters start one after another).
CLUSTER_DEFAULTS: dict[str, Any] = {
    "profile": "fast",
    "replicas": 1,
    "users": 4,
    "rate": 2.0,
    "ready_timeout_s": 60.0,
}


@dataclass(frozen=True)
class MultiOptions:
    """`clusters` local stacks, each run with `stack` but for what is its own (see
    `cluster_options`): its cluster label, seed, remote write URL and Prometheus replicas."""

    stack: StackOptions
    clusters: int = 2
    prometheus_replicas: int | None = None  # None: bundle's prometheus.replicas

    @classmethod
    def of(
        cls,
        cfg: BundleConfig,
        repo_root: Path,
        clusters: int = 2,
        prometheus_replicas: int | None = None,
        **stack: Any,
    ) -> MultiOptions:
        """Options with `CLUSTER_DEFAULTS`; `stack` sets any other `StackOptions` field."""
        opts = StackOptions(cfg=cfg, repo_root=repo_root, **{**CLUSTER_DEFAULTS, **stack})
        return cls(opts, clusters, prometheus_replicas)


@dataclass
class Proof:
    """What `prove()` measured; `ok` when every part passed."""

    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    apart_ok: bool = False
    snapshot_ok: bool = False
    dedup_ok: bool = False
    fault_ok: bool = False
    outage_ok: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.apart_ok
            and self.snapshot_ok
            and self.dedup_ok
            and self.fault_ok
            and self.outage_ok
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class MultiClusterStack(Workspace):
    opts: MultiOptions
    stacks: list[LocalStack] = field(default_factory=list)
    store: CentralStore | None = None
    ports: PortAllocator = field(default_factory=PortAllocator)
    _tmp: Path | None = None

    @property
    def label(self) -> str:
        return self.opts.stack.cfg.prometheus.cluster_label or DEFAULT_CLUSTER_LABEL

    @property
    def prometheus_replicas(self) -> int:
        return self.opts.prometheus_replicas or self.opts.stack.cfg.prometheus.replicas

    @property
    def scrape_interval(self) -> str:
        return (
            FAST["scrape_interval"]
            if self.opts.stack.profile == "fast"
            else (self.opts.stack.cfg.prometheus.scrape_interval)
        )

    def _start(self, say: Say) -> None:
        # in this process's private temp dir: a `kill -9` leaves it to the next sweep
        self._tmp = tmpdirs.mkdtemp("obsctl-clusters-")
        self.store = CentralStore(
            self._tmp,
            self.ports.one(),
            dedup_interval=self.scrape_interval,
            replica_label=self.opts.stack.cfg.prometheus.replica_label,
        )
        say(f"starting the central store (VictoriaMetrics) on {self.store.url}")
        self.store.start()
        for i, name in enumerate(cluster_names(self.opts.clusters)):
            say(f"{name}: starting ({self.prometheus_replicas} Prometheus replica(s))")
            stack = LocalStack(self.cluster_options(i, name))
            self.stacks.append(stack)
            stack.start(progress=lambda m, n=name: say(f"{n}: {m}"))

    def cluster_options(self, index: int, name: str) -> StackOptions:
        """The options of cluster `name` (the `index`th): `opts.stack` with the cluster's
        label in its config, its own seed, and remote write into the central store."""
        assert self.store is not None
        return dataclasses.replace(
            self.opts.stack,
            cfg=cluster_config(self.opts.stack.cfg, name),
            seed=index + 1,
            cluster_name=name,
            remote_write_url=self.store.write_url,
            prometheus_replicas=self.prometheus_replicas,
        )

    def dead_children(self) -> list[str]:
        out = [f"{s.opts.cluster_name}/{c}" for s in self.stacks for c in s.dead_children()]
        if self.store is not None and self.store.starts and not self.store.alive():
            out.append("victoria-metrics")
        return out

    def stop(self) -> None:
        for s in self.stacks:
            s.stop()
        self.stacks.clear()
        if self.store is not None:
            self.store.stop()
            self.store = None
        self.release()

    # -- reads ------------------------------------------------------------------------
    def central(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        assert self.store is not None
        with Prometheus(self.store.url, timeout=10.0) as prom:
            return prom.query(expr, at)

    def per_cluster(self, expr: str) -> dict[str, float]:
        """`sum by (cluster) (expr)` from the central store: cluster -> value."""
        rows = self.central(f"sum by ({self.label}) ({expr})")
        return {r["metric"].get(self.label, ""): float(r["value"][1]) for r in rows}

    def remote_write_lag(self) -> float:
        """Largest remote-write lag (s) over every Prometheus of every cluster."""
        worst = 0.0
        for s in self.stacks:
            for url in s.running.prometheus_urls:
                with Prometheus(url, timeout=5.0) as prom:
                    rows = prom.query(LAG)
                worst = max([worst, *(float(r["value"][1]) for r in rows)])
        return worst

    def wait_caught_up(self, timeout: float, max_lag: float) -> float:
        """Seconds until every queue's lag is under `max_lag`; raises on timeout."""
        start = time.monotonic()
        lag = float("inf")
        while time.monotonic() - start < timeout:
            with contextlib.suppress(PromError, httpx.HTTPError, OSError):
                lag = self.remote_write_lag()
                if lag <= max_lag:
                    return time.monotonic() - start
            time.sleep(0.5)
        raise RuntimeError(f"remote write still {lag:.1f}s behind after {timeout:.0f}s")

    def summary_line(self) -> str:
        try:
            up = self.per_cluster('up{job="vllm"}')
            rps = self.per_cluster("namespace_model_name:vllm_request_success:rate1m")
        except (PromError, httpx.HTTPError, OSError) as err:
            return f"central store not answering: {err}"
        parts = [
            f"{c}: {int(up.get(c, 0))} vLLM targets up, {rps.get(c, 0.0):.2f} req/s"
            for c in cluster_names(self.opts.clusters)
        ]
        return "central store | " + " | ".join(parts)

    # -- the proof --------------------------------------------------------------------
    def prove(self, outage_s: float = 60.0, say: Say = print) -> Proof:
        assert self.store is not None and self.stacks
        proof = Proof()
        step = duration_seconds(self.scrape_interval)
        self.wait_caught_up(60, max_lag=5 * step)
        self._apart(proof, say)
        self._snapshot(proof, say)
        victim = self.stacks[-1]
        t_fault = time.time()
        node = victim.running.nodes[0].node
        say(f"{victim.opts.cluster_name}: injecting {FAULT} on {node}")
        shared_client().post(
            f"{victim.admin_url}/faults",
            json={"fault": FAULT, "target": node, "params": {"celsius": 95.0}},
            timeout=5.0,
        ).raise_for_status()
        try:
            self._outage(proof, outage_s, step, say)
            self._fault(proof, victim, t_fault, say)
        finally:
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(f"{victim.admin_url}/faults", timeout=5.0)
        return proof

    def _wait_all_clusters(self, timeout: float) -> None:
        """Until every cluster's vLLM targets are in the central store (a fresh cluster's
        first remote-write batch takes a few seconds)."""
        want = {s.opts.cluster_name: len(s.running.replicas) for s in self.stacks}
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with contextlib.suppress(PromError, httpx.HTTPError, OSError):
                if all(v >= want[c] for c, v in self.per_cluster('up{job="vllm"}').items()) and (
                    set(want) <= set(self.per_cluster('up{job="vllm"}'))
                ):
                    return
            time.sleep(0.5)

    def _apart(self, proof: Proof, say: Say) -> None:
        self._wait_all_clusters(60.0)
        # Remote write is asynchronous: a target's first samples can reach the store a few
        # batches after its Prometheus scraped them, so measure until the store has
        # converged (or the bound passes), then report what it holds.
        end = time.monotonic() + 60.0
        unlabelled: list[dict[str, Any]] = []
        while True:
            with contextlib.suppress(PromError, httpx.HTTPError, OSError):
                unlabelled = self._measure_apart(proof)
                if (proof.apart_ok and proof.dedup_ok) or time.monotonic() >= end:
                    break
            if time.monotonic() >= end:
                break
            time.sleep(1.0)
        say(
            "apart: "
            + "; ".join(
                f"{n}: {c['target_series_in_store']} up series in the store for "
                f"{c['targets_in_source']} targets x {c['prometheus_replicas']} Prometheus"
                for n, c in proof.clusters.items()
            )
        )
        if unlabelled:
            proof.notes.append("series without a cluster label reached the central store")

    def _measure_apart(self, proof: Proof) -> list[dict[str, Any]]:
        want = cluster_names(self.opts.clusters)
        targets = self.per_cluster('up{job="vllm"}')
        series = {
            r["metric"].get(self.label, ""): int(float(r["value"][1]))
            for r in self.central(f'count by ({self.label}) (up{{job="vllm"}})')
        }
        # Every scrape target but each Prometheus' own (one per replica, by design).
        targets_sel = 'up{job!="kube-prometheus-stack-prometheus"}'
        stored = {
            r["metric"].get(self.label, ""): int(float(r["value"][1]))
            for r in self.central(f"count by ({self.label}) ({targets_sel})")
        }
        tokens = self.per_cluster("namespace_model_name:vllm_generation_tokens:rate1m")
        unlabelled = self.central(f'count(up{{{self.label}=""}})')
        for s in self.stacks:
            name = s.opts.cluster_name
            with Prometheus(s.prometheus_url, timeout=10.0) as prom:
                rows = prom.query(f"count({targets_sel})")
            source_targets = int(float(rows[0]["value"][1])) if rows else 0
            proof.clusters[name] = {
                "targets_in_source": source_targets,
                "target_series_in_store": stored.get(name, 0),
                "vllm_targets_up": targets.get(name, 0.0),
                "vllm_up_series_in_store": series.get(name, 0),
                "vllm_replicas": len(s.running.replicas),
                "gpus": len(s.running.nodes) * self.opts.stack.gpus_per_node,
                "generation_tokens_per_s": round(tokens.get(name, 0.0), 2),
                "prometheus_replicas": len(s.running.prometheus_urls),
            }
        proof.apart_ok = set(want) <= set(targets) and not unlabelled
        # One `up` series per scrape target, not one per Prometheus replica: deduplicated.
        proof.dedup_ok = all(
            c["target_series_in_store"] == c["targets_in_source"] > 0
            for c in proof.clusters.values()
        )
        return unlabelled

    def _snapshot(self, proof: Proof, say: Say) -> None:
        """The single pane (built for a bundle with the cluster label), evaluated on the
        central store over the last two minutes as `obsctl snapshot` does: its per-series
        panels must show each cluster as its own series."""
        from observability.dashboards import build_single_pane
        from observability.dashboards.snapshot.evaluate import TimeRange, evaluate

        assert self.store is not None
        dash = build_single_pane(cluster_config(self.opts.stack.cfg, "central"))
        end = time.time()
        with Prometheus(self.store.url, timeout=30.0) as prom:
            panels = evaluate(prom, dash, TimeRange(end - 120, end), self.scrape_interval)
        per_cluster: dict[str, int] = {}
        for p in panels:
            for c in {s.labels.get(self.label) for s in p.series} - {None}:
                per_cluster[c] = per_cluster.get(c, 0) + 1
        with_data = sum(1 for p in panels if not p.empty)
        proof.clusters["_snapshot"] = {
            "panels": len(panels),
            "panels_with_data": with_data,
            "panels_per_cluster": dict(sorted(per_cluster.items())),
        }
        want = cluster_names(self.opts.clusters)
        proof.snapshot_ok = all(per_cluster.get(c, 0) > 0 for c in want) and set(
            per_cluster
        ) <= set(want)
        say(
            f"snapshot from the central store: {with_data}/{len(panels)} panels with data; "
            f"panels showing each cluster apart: {dict(sorted(per_cluster.items()))}"
        )

    def _outage(self, proof: Proof, outage_s: float, step: float, say: Say) -> None:
        assert self.store is not None
        margin = max(10 * step, 10.0)
        t_stop = time.time()
        say(f"central store: stopped for {outage_s:.0f}s")
        self.store.stop()
        time.sleep(outage_s)
        self.store.start()
        t_restart = time.time()
        say("central store: restarted; waiting for remote write to catch up")
        caught = self.wait_caught_up(max(120.0, outage_s * 2), max_lag=5 * step)
        end = t_restart + margin
        while time.time() < end + 2 * step:
            time.sleep(0.5)
        window = end - (t_stop - margin)
        results = []
        for s in self.stacks:
            pod = s.running.replicas[0].pod
            sel = f'up{{job="vllm", pod="{pod}"}}'
            with Prometheus(s.prometheus_url, timeout=10.0) as prom:
                src = _samples(prom.query(f"{sel}[{int(window)}s]", end))
            name = s.opts.cluster_name
            got = _samples(
                self.central(f'{sel[:-1]}, {self.label}="{name}"}}[{int(window)}s]', end)
            )
            gaps = [b - a for a, b in itertools.pairwise(got)]
            gap = max(gaps, default=window)
            # A source scrape is missing from the store when no stored sample lies within
            # one interval of it (an HA store keeps one sample per interval from either
            # replica, whose scrapes run at another offset, so not exact timestamps).
            missing = sum(1 for t in src if not any(abs(t - c) < step for c in got))
            # ... and the source's samples span the outage, so there was something to lose.
            spans = bool(src) and src[0] <= t_stop and src[-1] >= t_restart
            results.append(
                {
                    "cluster": name,
                    "target": pod,
                    "outage_s": round(t_restart - t_stop, 1),
                    "window_s": round(window, 1),
                    "samples_source": len(src),
                    "samples_central": len(got),
                    "missing": missing,
                    "spans_outage": spans,
                    "source_minus_central": len(src) - len(got),
                    "largest_gap_s": round(gap, 3),
                    "scrape_interval_s": step,
                    "catch_up_s": round(caught, 1),
                }
            )
        proof.clusters.setdefault("_outage", {})["runs"] = results
        proof.outage_ok = all(
            r["missing"] == 0 and r["spans_outage"] and r["largest_gap_s"] <= 2 * step + 0.5
            for r in results
        )
        for r in results:
            say(
                f"outage: {r['cluster']} {r['target']}: {r['samples_central']}/"
                f"{r['samples_source']} samples in the store over {r['window_s']:.0f}s around "
                f"a {r['outage_s']:.0f}s outage, largest gap {r['largest_gap_s']}s, caught up "
                f"{r['catch_up_s']}s after restart"
            )

    def _fault(self, proof: Proof, victim: LocalStack, t0: float, say: Say) -> None:
        name = victim.opts.cluster_name
        others = [s for s in self.stacks if s is not victim]
        for_s = 90.0 if self.opts.stack.profile == "fast" else 600.0
        deadline = time.time() + for_s + 60
        hit = None
        while time.time() < deadline and hit is None:
            for n in fetch_notifications(victim.running.webhook_url, since=t0):
                for a in n.alerts:
                    labels = a.get("labels", {})
                    if labels.get("alertname") == FAULT_ALERT and a.get("status") == "firing":
                        hit = (n, labels)
            time.sleep(1.0)
        stray = [
            s.opts.cluster_name
            for s in others
            for n in fetch_notifications(s.running.webhook_url, since=t0)
            if FAULT_ALERT in n.alertnames()
        ]
        central = self.central(f'ALERTS{{alertname="{FAULT_ALERT}", alertstate="firing"}}')
        central_clusters = sorted({r["metric"].get(self.label, "") for r in central})
        info: dict[str, Any] = {
            "alert": FAULT_ALERT,
            "cluster": name,
            "fired_after_s": round(hit[0].received_at - t0, 1) if hit else None,
            "alert_cluster_label": hit[1].get(self.label) if hit else None,
            "receiver": hit[0].receiver if hit else None,
            "group_labels": hit[0].group_labels if hit else None,
            "other_clusters_notified": stray,
            "central_alerts_clusters": central_clusters,
        }
        proof.clusters.setdefault("_fault", {}).update(info)
        proof.fault_ok = bool(
            hit
            and hit[1].get(self.label) == name
            and hit[0].group_labels.get(self.label) == name
            and not stray
            and central_clusters == [name]
        )
        say(
            f"fault: {FAULT_ALERT} from {name} at the webhook after {info['fired_after_s']}s "
            f"(receiver {info['receiver']}, {self.label}={info['alert_cluster_label']}); "
            f"other clusters notified: {stray or 'none'}; central ALERTS clusters: "
            f"{central_clusters}"
        )


def _samples(rows: list[dict[str, Any]]) -> list[float]:
    """Timestamps of a range-vector result (one series expected)."""
    ts: list[float] = []
    for r in rows:
        ts += [float(t) for t, _ in r.get("values", [])]
    return sorted(set(ts))
