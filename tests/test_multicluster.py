"""`obsctl demo --clusters 2 --prove`, end to end on real processes: two simulated clusters
(two Prometheus each, an HA pair), one central VictoriaMetrics, a GPU fault in cluster-b
and a 20 s outage of the central store. bench/multicluster.py runs the 60 s outage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from observability import tmpdirs
from observability.config import load_config
from observability.local.multicluster import MultiClusterStack, MultiOptions


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_two_clusters_apart_fault_routed_outage_without_loss(repo_root) -> None:
    cmd = [
        sys.executable, "-m", "observability.cli", "demo", "--clusters", "2",
        "--profile", "fast", "--replicas", "1", "--prometheus-replicas", "2",
        "--users", "2", "--prove", "--outage", "20", "--json",
        "--config", str(repo_root / "bundle.yaml"),
    ]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=230, cwd=repo_root)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    proof = json.loads(res.stdout)
    a, b = proof["clusters"]["cluster-a"], proof["clusters"]["cluster-b"]
    # each target's `up`, scraped by both replicas of the pair, is one series in the store
    # (the replica label dropped, samples deduplicated); the demo's vLLM-runtime models
    # run one replica each (`--replicas 1`) in both clusters
    for c in (a, b):
        assert c["prometheus_replicas"] == 2
        assert c["target_series_in_store"] == c["targets_in_source"] >= c["vllm_replicas"] + 1
        assert c["vllm_up_series_in_store"] == c["vllm_targets_up"] >= 2
    assert a["vllm_replicas"] == b["vllm_replicas"] >= 2
    # the single pane evaluated on the store: per-series panels show each cluster apart
    snap = proof["clusters"]["_snapshot"]
    assert sorted(snap["panels_per_cluster"]) == ["cluster-a", "cluster-b"]
    assert min(snap["panels_per_cluster"].values()) >= 20, snap
    assert snap["panels_with_data"] >= snap["panels"] - 8, snap
    fault = proof["clusters"]["_fault"]
    assert fault["alert"] == "GPUHighTemperature"
    assert fault["alert_cluster_label"] == "cluster-b"
    assert fault["group_labels"]["cluster"] == "cluster-b"
    assert fault["receiver"] == "pager"  # severity critical at 95 C routes to the pager
    assert fault["other_clusters_notified"] == []
    assert fault["central_alerts_clusters"] == ["cluster-b"]
    runs = proof["clusters"]["_outage"]["runs"]
    assert [r["cluster"] for r in runs] == ["cluster-a", "cluster-b"]
    for r in runs:
        assert r["outage_s"] >= 20
        assert r["missing"] == 0 and r["spans_outage"] is True, r
        assert r["largest_gap_s"] <= 2.5, r  # 1 s scrapes: no hole where the store was down
        assert r["samples_central"] >= r["samples_source"] - 1, r  # HA: either replica
    assert proof["ok"] is True
    assert "stopped: no process left" in res.stderr


@pytest.mark.timeout(60)
def test_clusters_share_one_stack_options_and_a_private_temp_dir(repo_root) -> None:
    """The central store's directory is in this process's private temp dir (a `kill -9`
    leaves it to the next obsctl's sweep), and each cluster runs `opts.stack` with only its
    label, seed, remote write URL and Prometheus replicas of its own."""
    cfg = load_config(repo_root / "bundle.yaml")
    opts = MultiOptions.of(cfg, repo_root, clusters=0, prometheus_replicas=2, users=3)
    assert (opts.stack.profile, opts.stack.replicas, opts.stack.users) == ("fast", 1, 3)
    with MultiClusterStack(opts) as multi:  # no cluster: the central store alone
        assert multi.store is not None and multi._tmp is not None
        assert multi._tmp.parent == tmpdirs.user_root() / f"pid-{os.getpid()}"
        assert multi.store.workdir == multi._tmp
        b = multi.cluster_options(1, "cluster-b")
        assert b.cfg.prometheus.cluster_name == "cluster-b"
        assert (b.seed, b.cluster_name, b.prometheus_replicas) == (2, "cluster-b", 2)
        assert b.remote_write_url == multi.store.write_url
        assert replace(b, cfg=cfg, seed=None, cluster_name="", remote_write_url=None,
                       prometheus_replicas=1) == opts.stack  # fmt: skip
        tmp = multi._tmp
    assert not tmp.exists()
