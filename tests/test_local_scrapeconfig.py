"""ServiceMonitor -> scrape config: real Prometheus attaches the operator's labels."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_helpers import exporter, prometheus, promtool_check_config, query, wait_for

from observability.local.ports import PortAllocator
from observability.local.scrapeconfig import DiscoveredTarget, scrape_configs, targets_from_manifest

MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "vllm", "namespace": "monitoring"},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm"}},
        "namespaceSelector": {"matchNames": ["vllm"]},
        "endpoints": [
            {
                "port": "http",
                "path": "/metrics",
                "interval": "1s",
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
                ],
                "metricRelabelings": [
                    {"sourceLabels": ["__name__"], "regex": ".*_created", "action": "drop"}
                ],
            }
        ],
    },
}


def _target(port: int, namespace: str = "vllm", name: str = "vllm", port_name: str = "http"):
    labels = {"app.kubernetes.io/name": name}
    return DiscoveredTarget(
        address=f"127.0.0.1:{port}",
        namespace=namespace,
        service=f"{name}-svc",
        service_labels=labels,
        port_name=port_name,
        pod=f"{name}-pod-0",
        container="vllm",
        node="gpu-node-0",
        pod_labels=labels,
    )


def test_operator_labels_relabelings_and_metric_relabelings_apply(tmp_path: Path) -> None:
    with PortAllocator() as ports, exporter(ports) as port:
        other_ns = _target(ports.one(), namespace="elsewhere")  # namespaceSelector drops it
        other_svc = _target(ports.one(), name="redis")  # label selector drops it
        wrong_port = _target(ports.one(), port_name="grpc")  # endpoint port drops it
        jobs = scrape_configs([MONITOR], [_target(port), other_ns, other_svc, wrong_port])
        assert [j["job_name"] for j in jobs] == ["serviceMonitor/monitoring/vllm/0"]
        assert jobs[0]["metric_relabel_configs"] == [
            {"source_labels": ["__name__"], "regex": ".*_created", "action": "drop"}
        ]
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}
        with prometheus(config, tmp_path, ports) as url:
            up = wait_for(lambda: query(url, "up == 1"), 15)
            assert len(up) == 1, up
            labels = up[0]["metric"]
            assert labels == {
                "__name__": "up",
                "instance": f"127.0.0.1:{port}",
                "job": "vllm-svc",
                "namespace": "vllm",
                "service": "vllm-svc",
                "pod": "vllm-pod-0",
                "container": "vllm",
                "endpoint": "http",
                "node": "gpu-node-0",
            }
            assert query(url, "count(up)")[0]["value"][1] == "1"  # others never became targets
            ok = wait_for(lambda: query(url, '{__name__=~"vllm:request_success.*"}'), 10)
            assert {s["metric"]["__name__"] for s in ok} == {"vllm:request_success_total"}


def test_translated_config_passes_promtool(tmp_path: Path) -> None:
    manifest = {
        "replicas": [
            {
                "pod": "p0",
                "namespace": "vllm",
                "service": "vllm-m",
                "model_key": "m",
                "port": 8000,
                "node": "n0",
            }
        ],
        "nodes": [{"node": "n0", "dcgm_port": 9400, "pod": "dcgm-0", "namespace": "monitoring"}],
    }
    jobs = scrape_configs([MONITOR], targets_from_manifest(manifest), interval_override="2s")
    import yaml

    (tmp_path / "p.yml").write_text(yaml.safe_dump({"scrape_configs": jobs}))
    res = promtool_check_config(tmp_path / "p.yml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert jobs[0]["scrape_interval"] == "2s"
    assert len(jobs[0]["static_configs"]) == 1  # the DCGM node is in another namespace


def test_unknown_relabel_field_is_an_error() -> None:
    bad = {
        **MONITOR,
        "spec": {
            **MONITOR["spec"],
            "endpoints": [{"port": "http", "relabelings": [{"source": "x"}]}],
        },
    }
    with pytest.raises(ValueError, match="unknown relabel field"):
        scrape_configs([bad], [])
