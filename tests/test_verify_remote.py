"""verify: external labels and remote-write health, each driven to FAIL.

The fake Prometheus serves what a real Prometheus 2.42 of `obsctl demo --clusters 2`
answered (recorded), and each test breaks one thing: the cluster or replica label, a
queue missing from the running config, failed samples, dropped samples, lag, shards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from verify_fakes.remote import FakeRemotePrometheus

from observability.config import BundleConfig, RemoteWrite
from observability.local.multicluster import cluster_config
from observability.verify import Options, Status, run_verify

QUEUE = {
    "instance": "127.0.0.1:31891",
    "remote_name": "central",
    "url": "http://127.0.0.1:27348/api/v1/write",
}


@pytest.fixture
def fake() -> Iterator[FakeRemotePrometheus]:
    f = FakeRemotePrometheus()
    yield f
    f.stop()


@pytest.fixture
def cfg(bundle: BundleConfig) -> BundleConfig:
    """cluster-a as recorded, with the queue it ran (`central`) declared in bundle.yaml."""
    c = cluster_config(bundle, "cluster-a")
    queue = RemoteWrite(name="central", url="http://store.example/api/v1/write")
    prom = c.prometheus.model_copy(update={"remote_write": [queue]})
    return c.model_copy(update={"prometheus": prom})


def _run(cfg: BundleConfig, fake: FakeRemotePrometheus) -> dict[str, tuple[Status, str]]:
    res = run_verify(
        cfg,
        Options(prometheus_url=fake.url, local=True),
        only=["prometheus.ready", "prometheus.external_labels", "prometheus.remote_write"],
    )
    return {r.id: (r.status, r.evidence) for r in res.results}


def test_recorded_healthy_prometheus_passes(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    out = _run(cfg, fake)
    assert out["prometheus.external_labels"][0] == Status.PASS, out
    assert "cluster=cluster-a" in out["prometheus.external_labels"][1]
    assert out["prometheus.remote_write"][0] == Status.PASS, out
    assert out["prometheus.remote_write"][1].startswith("1 remote-write queue(s) healthy")


def test_wrong_cluster_label_fails(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.config["global"]["external_labels"]["cluster"] = "cluster-b"
    status, evidence = _run(cfg, fake)["prometheus.external_labels"]
    assert status == Status.FAIL
    assert evidence == "external label cluster='cluster-b', bundle.yaml says 'cluster-a'"


def test_missing_replica_label_fails(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    del fake.config["global"]["external_labels"]["prometheus_replica"]
    status, evidence = _run(cfg, fake)["prometheus.external_labels"]
    assert status == Status.FAIL
    assert "no prometheus_replica external label" in evidence


def test_queue_not_in_running_config_fails(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.config["remote_write"][0]["name"] = "other"
    status, evidence = _run(cfg, fake)["prometheus.remote_write"]
    assert status == Status.FAIL
    assert evidence.startswith("remote_write queues ['central'] are in bundle.yaml but not")


def test_no_queue_series_fails(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.answer("(prometheus_remote_storage_shards)", [])
    status, evidence = _run(cfg, fake)["prometheus.remote_write"]
    assert status == Status.FAIL
    assert "no prometheus_remote_storage_shards series" in evidence


def test_failed_samples_fail(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.answer("samples_failed_total", [{"metric": QUEUE, "value": [1796136629.5, "1200"]}])
    status, evidence = _run(cfg, fake)["prometheus.remote_write"]
    assert status == Status.FAIL
    assert evidence == "samples failed in the last 10m: central@127.0.0.1:31891 1200"


def test_dropped_samples_fail(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.answer("samples_dropped_total", [{"metric": QUEUE, "value": [1796136629.5, "35"]}])
    status, evidence = _run(cfg, fake)["prometheus.remote_write"]
    assert status == Status.FAIL
    assert evidence == "samples dropped in the last 10m: central@127.0.0.1:31891 35"


def test_queue_lag_fails(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.answer("highest_sent_timestamp", [{"metric": QUEUE, "value": [1796136629.5, "300"]}])
    status, evidence = _run(cfg, fake)["prometheus.remote_write"]
    assert status == Status.FAIL
    assert evidence == "queues behind: central@127.0.0.1:31891 300s"


def test_lag_under_the_bound_passes(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.answer("highest_sent_timestamp", [{"metric": QUEUE, "value": [1796136629.5, "119"]}])
    assert _run(cfg, fake)["prometheus.remote_write"][0] == Status.PASS


@pytest.mark.parametrize(("lag", "status"), [("120", Status.PASS), ("120.5", Status.FAIL)])
def test_lag_bound_is_prometheus_remote_write_behinds(
    cfg: BundleConfig, fake: FakeRemotePrometheus, lag: str, status: Status
) -> None:
    """A queue is behind past 120 s, the bound of Prometheus' own PrometheusRemoteWriteBehind
    alert: verify and that alert agree on which queue is behind."""
    fake.answer("highest_sent_timestamp", [{"metric": QUEUE, "value": [1796136629.5, lag]}])
    assert _run(cfg, fake)["prometheus.remote_write"][0] == status


def test_shards_at_maximum_fail(cfg: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.answer("shards_desired", [{"metric": QUEUE, "value": [1796136629.5, "250"]}])
    status, evidence = _run(cfg, fake)["prometheus.remote_write"]
    assert status == Status.FAIL
    assert evidence == "shards at maximum: central@127.0.0.1:31891"


def test_no_remote_write_anywhere_passes(bundle: BundleConfig, fake: FakeRemotePrometheus) -> None:
    fake.config.pop("remote_write")
    fake.config["global"]["external_labels"] = {}
    out = _run(bundle, fake)
    assert out["prometheus.remote_write"] == (
        Status.PASS,
        "no remote_write in bundle.yaml, none in the running Prometheus",
    )
    assert out["prometheus.external_labels"][0] == Status.PASS


def test_remote_write_running_but_not_in_bundle_fails(
    bundle: BundleConfig, fake: FakeRemotePrometheus
) -> None:
    """A queue the bundle does not declare is still judged (here: failing samples)."""
    fake.answer("samples_failed_total", [{"metric": QUEUE, "value": [1796136629.5, "7"]}])
    status, evidence = _run(cluster_config(bundle, "cluster-a"), fake)["prometheus.remote_write"]
    assert (status, evidence) == (
        Status.FAIL,
        "samples failed in the last 10m: central@127.0.0.1:31891 7",
    )


def test_only_the_config_sections_read_are_parsed() -> None:
    """Prometheus marshals its config with top-level keys at column 0 and list items of a
    top-level key at column 0 too: only `global` and `remote_write` are kept (a fleet's
    scrape_configs are most of the text), parsed the same as the whole."""
    import yaml

    from observability.verify.checks_remote import config_sections

    text = (
        "global:\n  scrape_interval: 30s\n  external_labels:\n    cluster: eu-1\n"
        "scrape_configs:\n- job_name: vllm\n  static_configs:\n  - targets:\n"
        "    - 10.0.0.1:8000\n    labels:\n      remote_write: not-a-section\n"
        "remote_write:\n- url: https://mimir.example/api/v1/push\n  name: central\n"
        "  write_relabel_configs:\n  - action: drop\n"
        "rule_files:\n- /etc/prometheus/rules/*.yaml\n"
    )
    whole = yaml.safe_load(text)
    assert yaml.safe_load(config_sections(text)) == {
        "global": whole["global"],
        "remote_write": whole["remote_write"],
    }
    assert config_sections("") == ""
