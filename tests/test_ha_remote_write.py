"""HA pair, remote write, Thanos sidecar and the cluster label: config -> kube-prometheus-stack
values, the derived keep list, lint clean on a rendered tree, config errors, and the
cluster-label check's PromQL semantics."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from observability.cli import app
from observability.config import ConfigError, load_config, parse_config
from observability.dashboards.finalize import template_variables
from observability.dashboards.queries import Queries
from observability.metrics.promql_ast import metric_names
from observability.metrics.promql_labels import cluster_problems, keeps_label
from observability.render.kps_values import kps_values
from observability.render.remote_write import bundle_series, local_remote_write

REPO = Path(__file__).resolve().parent.parent
HA = REPO / "tests" / "fixtures" / "bundles" / "ha-remote-write.yaml"


@pytest.fixture(scope="module")
def ha_cfg():
    return load_config(HA)


def test_values_carry_ha_remote_write_and_thanos(ha_cfg) -> None:
    v = kps_values(ha_cfg)
    spec = v["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == 2
    assert spec["replicaExternalLabelName"] == "prometheus_replica"
    assert spec["externalLabels"] == {"cluster": "gpu-east-1"}
    mimir, vm = spec["remoteWrite"]
    assert mimir["name"] == "mimir" and mimir["url"] == "https://mimir.example.com/api/v1/push"
    assert mimir["basicAuth"] == {
        "username": {"name": "mimir-remote-write", "key": "username"},
        "password": {"name": "mimir-remote-write", "key": "password"},
    }
    assert mimir["queueConfig"] == {
        "capacity": 10000,
        "maxShards": 30,
        "maxSamplesPerSend": 2000,
        "minBackoff": "100ms",
        "maxBackoff": "10s",
    }
    (keep,) = mimir["writeRelabelConfigs"]
    assert keep["sourceLabels"] == ["__name__"] and keep["action"] == "keep"
    assert vm == {
        "name": "victoria",
        "url": "https://vm.example.com/api/v1/write",
        "authorization": {
            "type": "Bearer",
            "credentials": {"name": "vm-remote-write", "key": "token"},
        },
    }
    assert spec["thanos"] == {
        "objectStorageConfig": {
            "existingSecret": {"name": "thanos-objstore", "key": "objstore.yml"}
        }
    }
    assert v["prometheus"]["thanosService"] == {"enabled": True}
    assert v["alertmanager"]["alertmanagerSpec"]["replicas"] == 3


def test_keep_list_is_what_rules_and_panels_read(ha_cfg) -> None:
    spec = kps_values(ha_cfg)["prometheus"]["prometheusSpec"]
    regex = spec["remoteWrite"][0]["writeRelabelConfigs"][0]["regex"]
    kept = lambda name: re.fullmatch(regex, name) is not None  # noqa: E731 - Prometheus anchors
    # read by rules (raw inputs), written by recording rules, read by panels
    for name in (
        "vllm:num_requests_running",
        "vllm:kv_cache_usage_perc",
        "vllm:gpu_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket",
        "DCGM_FI_DEV_GPU_TEMP",
        "namespace_model_name:vllm_generation_tokens:rate1m",
        "up",
        "ALERTS",
        # the companion dashboards' (instance drill-down, KV cache & disaggregation)
        "vllm:cache_config_info",
        "process_cpu_seconds_total",
        "vllm:nixl_num_failed_transfers_total",
    ):
        assert kept(name), name
    # exposed by vLLM or Prometheus, read by nothing in the bundle
    for name in (
        "vllm:corrupted_requests_total",
        "process_virtual_memory_bytes",
        "vllm:num_requests_running_x",
    ):
        assert not kept(name), name
    assert "vllm:num_requests_running" in bundle_series(ha_cfg)


def test_local_remote_write_is_the_rendered_queues_in_prometheus_names(ha_cfg) -> None:
    """The demo's Prometheus gets the rendered queues (same tuning, same keep rule) in its
    own snake_case names, every one pointed at the local receiver; no credentials."""
    url = "http://127.0.0.1:1/api/v1/write"
    mimir, vm = local_remote_write(ha_cfg, url)
    rendered = kps_values(ha_cfg)["prometheus"]["prometheusSpec"]["remoteWrite"][0]
    assert mimir == {
        "name": "mimir",
        "url": url,
        "queue_config": {
            "capacity": 10000,
            "max_shards": 30,
            "max_samples_per_send": 2000,
            "min_backoff": "100ms",
            "max_backoff": "10s",
        },
        "write_relabel_configs": [
            {
                "source_labels": ["__name__"],
                "regex": rendered["writeRelabelConfigs"][0]["regex"],
                "action": "keep",
            }
        ],
    }
    assert vm == {"name": "victoria", "url": url}
    plain = ha_cfg.model_copy(
        update={"prometheus": ha_cfg.prometheus.model_copy(update={"remote_write": []})}
    )
    assert local_remote_write(plain, url) == [{"name": "central", "url": url}]


def test_ha_bundle_renders_and_lints_clean(tmp_path: Path) -> None:
    shutil.copy(HA, tmp_path / "bundle.yaml")
    shutil.copytree(REPO / "alerts" / "tests", tmp_path / "alerts" / "tests")  # hand-written
    runner = CliRunner()
    res = runner.invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
    assert res.exit_code == 0, res.output
    app_yaml = yaml.safe_load((tmp_path / "argocd/apps/kube-prometheus-stack.yaml").read_text())
    values = app_yaml["spec"]["source"]["helm"]["valuesObject"]
    assert values["prometheus"]["prometheusSpec"]["replicas"] == 2
    res = runner.invoke(app, ["lint", "--config", str(tmp_path / "bundle.yaml")])
    assert res.exit_code == 0, res.output
    dash = (tmp_path / "dashboards/vllm-single-pane.json").read_text()
    assert 'cluster=~\\"$cluster\\"' in dash


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p["remote_write"][0].update(bearer_token={"name": "x", "key": "t"}),
            "invalid value for 'prometheus.remote_write.0': set basic_auth or bearer_token, not both",
        ),
        (
            lambda p: p["thanos"].pop("object_store"),
            "invalid value for 'prometheus.thanos': enabled needs object_store",
        ),
        (
            lambda p: p.update(cluster_label=""),
            "cluster_name is set: also set cluster_label",
        ),
        (
            lambda p: p["remote_write"][0].update(url="mimir:9009"),
            "invalid value for 'prometheus.remote_write.0.url': 'mimir:9009' is not an http(s) URL",
        ),
        (
            lambda p: p["remote_write"][0]["queue"].update(min_shards=50),
            "min_shards must not exceed max_shards",
        ),
        (lambda p: p.update(replicas=0), "invalid value for 'prometheus.replicas'"),
        (
            lambda p: p.update(replica_label="cluster"),
            "cluster_label and replica_label must differ",
        ),
        (
            lambda p: p["remote_write"][0].update(password="hunter2"),
            "unknown key 'prometheus.remote_write.0.password'",
        ),
    ],
)
def test_config_errors_name_the_key(change, message: str) -> None:
    data = yaml.safe_load(HA.read_text())
    change(data["prometheus"])
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_cluster_variable_follows_the_label(bundle) -> None:
    prom = bundle.prometheus.model_copy(
        update={"cluster_label": "k8s_cluster", "cluster_name": "x"}
    )
    cfg = bundle.model_copy(update={"prometheus": prom})
    var = template_variables(cfg)[1].to_json_data()
    assert var["name"] == "k8s_cluster"
    assert var["query"] == "label_values(vllm:num_requests_running, k8s_cluster)"
    assert Queries(cfg).firing_alerts() == (
        'count(ALERTS{k8s_cluster=~"$k8s_cluster", alertstate="firing", '
        'alertname=~"(VLLM|GPU|DCGM).*"}) or vector(0)'
    )


@pytest.mark.parametrize(
    ("expr", "keeps"),
    [
        ("sum by (cluster, namespace) (rate(x[5m]))", True),
        ("sum by (namespace) (rate(x[5m]))", False),
        ("sum(rate(x[5m]))", False),
        ("max without (pod) (x)", True),
        ("max without (cluster) (x)", False),
        ("topk(3, x)", True),
        ("a / on(namespace) b", False),
        ("a / on(cluster, namespace) b", True),
        ("a / ignoring(cluster) b", False),
        ("a * on(cluster) group_left(model) b", True),
        ("a or sum(b)", False),
        ("a and sum(b)", True),
        ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))", False),
        ("histogram_quantile(0.99, sum by (cluster, le) (rate(x_bucket[5m])))", True),
        ('absent(x{cluster="a"})', True),
        ("absent(x)", False),
        ("x > 3", True),
        ("vector(1)", False),
    ],
)
def test_keeps_label_follows_promql_semantics(expr: str, keeps: bool) -> None:
    assert keeps_label(expr, "cluster") is keeps


def test_cluster_problems_rules_and_panels() -> None:
    assert cluster_problems("sum by (namespace) (x) > 1", "cluster") == [
        "sum by (namespace) drops cluster",
        "the result has no cluster label (two clusters would merge)",
    ]
    assert cluster_problems('absent(x{namespace="v"})', "cluster") == []  # per Prometheus
    assert cluster_problems("vector(1)", "cluster") == []
    # a panel stat: one total over the selection, scoped by the variable
    assert cluster_problems('sum(x{cluster=~".*"}) / sum(y{cluster=~".*"})', "cluster", True) == []
    assert cluster_problems('count(ALERTS{alertstate="firing"}) or vector(0)', "cluster", True) == [
        "selector ALERTS has no cluster matcher"
    ]
    assert cluster_problems('avg by (pod) (x{cluster=~".*"})', "cluster", True) == [
        "avg by (pod) drops cluster",
        "the result has no cluster label (two clusters would merge)",
    ]
    assert metric_names('sum(rate(a_bucket{x="y"}[5m])) / {__name__="b"} or c') == [
        "a_bucket",
        "b",
        "c",
    ]


def test_demo_cluster_options_bad_input_is_one_line_exit_2(tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["demo", "--prove", "--config", str(REPO / "bundle.yaml")])
    assert res.exit_code == 2
    assert "--prove checks several clusters: add --clusters 2" in res.output
    monkeypatch.setenv("OBSCTL_VICTORIA_METRICS", str(tmp_path / "no-such-binary"))
    res = runner.invoke(
        app, ["demo", "--clusters", "2", "--duration", "1", "--config", str(REPO / "bundle.yaml")]
    )
    assert res.exit_code == 2
    assert f"OBSCTL_VICTORIA_METRICS={tmp_path / 'no-such-binary'} is not an executable file" in (
        res.output
    )
    assert "Traceback" not in res.output
