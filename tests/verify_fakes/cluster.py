"""Build a fake installation: recorded objects from tests/fixtures/verify/ copied per node
and pod, plus the bundle's own objects from the render functions (as Argo CD applies them),
and the matching Prometheus scrape config and rule groups."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from observability.config import BundleConfig
from observability.verify import bundle as bundle_facts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "verify"


def _load(name: str) -> Any:
    return yaml.safe_load((FIXTURES / name).read_text(encoding="utf-8"))


def _fill(template: dict[str, Any], **subs: str) -> dict[str, Any]:
    text = yaml.safe_dump(template)
    for k, v in subs.items():
        text = text.replace(k, v)
    return yaml.safe_load(text)


@dataclass
class Installation:
    objects: list[dict[str, Any]] = field(default_factory=list)
    gpu_nodes: list[str] = field(default_factory=list)
    cpu_nodes: list[str] = field(default_factory=list)
    vllm_pods: list[tuple[str, str, str, str]] = field(default_factory=list)  # ns, pod, svc, node

    def scrape_configs(self, exporter_addr: str | list[str]) -> list[dict[str, Any]]:
        """Jobs named like the operator names them: serviceMonitor/<ns>/<name>/<i>;
        targets spread over the exporter addresses given."""
        addrs = [exporter_addr] if isinstance(exporter_addr, str) else exporter_addr
        vllm = [
            {
                "targets": [addrs[i % len(addrs)]],
                "labels": {
                    "namespace": ns,
                    "pod": pod,
                    "service": svc,
                    "container": "vllm",
                    "endpoint": "http",
                    "job": "vllm",
                    "__param_pod": pod,
                },
            }
            for i, (ns, pod, svc, _) in enumerate(self.vllm_pods)
        ]
        dcgm = [
            {
                "targets": [addrs[i % len(addrs)]],
                "labels": {"node": n, "job": "dcgm-exporter", "__param_node": n},
            }
            for i, n in enumerate(self.gpu_nodes)
        ]
        return [
            {"job_name": "serviceMonitor/monitoring/vllm/0", "static_configs": vllm},
            {
                "job_name": "serviceMonitor/monitoring/dcgm-exporter/0",
                "metrics_path": "/dcgm",
                "honor_labels": True,
                "static_configs": dcgm,
            },
        ]


def rule_groups(cfg: BundleConfig) -> list[dict[str, Any]]:
    """The bundle's groups, KPS's default Watchdog, and a group that errors on demand."""
    groups = [{"name": g["name"], "rules": g["rules"]} for g in bundle_facts.rule_groups(cfg)]
    if not any(r.get("alert") == "Watchdog" for g in groups for r in g["rules"]):
        groups.append(
            {
                "name": "general.rules",
                "rules": [
                    {
                        "alert": "Watchdog",
                        "expr": "vector(1)",
                        "labels": {"severity": "none"},
                        "annotations": {"summary": "An alert that should always be firing."},
                    }
                ],
            }
        )
    groups.append(
        {
            "name": "verify-test.rules",
            "rules": [
                {
                    "record": "verify_test:dup",
                    "expr": 'label_replace(verify_test_dup, "idx", "", "", "")',
                }
            ],
        }
    )
    return groups


def build_cluster(
    cfg: BundleConfig,
    gpu_nodes: int = 2,
    gpus_per_node: int = 1,
    cpu_nodes: int = 1,
    pods_per_model: int = 1,
) -> Installation:
    t = _load("templates.yaml")
    inst = Installation()
    inst.objects += _load("crds.yaml") + _load("stack.yaml")
    mon = cfg.namespaces.monitoring
    for i in range(gpu_nodes):
        name = f"ip-10-0-1-{i + 10}.ec2.internal"
        node = _fill(t["gpu-node-template"], NAME=name)
        node["status"]["capacity"]["nvidia.com/gpu"] = str(gpus_per_node)
        node["status"]["allocatable"]["nvidia.com/gpu"] = str(gpus_per_node)
        inst.objects.append(node)
        inst.gpu_nodes.append(name)
        inst.objects.append(_fill(t["dcgm-pod-template"], NAME=f"dcgm-exporter-{i:05x}", NODE=name))
    for i in range(cpu_nodes):
        name = f"ip-10-0-2-{i + 10}.ec2.internal"
        inst.objects.append(_fill(t["cpu-node-template"], NAME=name))
        inst.cpu_nodes.append(name)
    slot = 0
    for key, _ in cfg.deployed_models:
        svc = f"vllm-{key}"
        dep = _fill(t["vllm-deployment-template"], NAME=svc, KEY=key)
        for f in ("replicas",):
            dep["spec"][f] = pods_per_model
        for f in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas"):
            dep["status"][f] = pods_per_model
        inst.objects += [dep, _fill(t["vllm-service-template"], NAME=svc, KEY=key)]
        for j in range(pods_per_model):
            node = inst.gpu_nodes[slot % len(inst.gpu_nodes)] if inst.gpu_nodes else "none"
            slot += 1
            pod = f"{svc}-7c9d8f6b4-{j:05d}"
            inst.objects.append(_fill(t["vllm-pod-template"], NAME=pod, KEY=key, NODE=node))
            inst.vllm_pods.append((cfg.namespaces.vllm, pod, svc, node))
    # The bundle's own objects, exactly as rendered, with a healthy Argo CD status.
    for app in bundle_facts.applications(cfg):
        live = copy.deepcopy(app)
        live["status"] = copy.deepcopy(t["application-status-healthy"])
        inst.objects.append(live)
    inst.objects += [copy.deepcopy(m) for m in bundle_facts.monitors(cfg)]
    inst.objects += dashboard_objects(cfg)
    seen: set[tuple[str, str]] = set()
    for g in bundle_facts.rule_groups(cfg):
        meta = g["source"]
        key2 = (meta.get("namespace") or mon, meta["name"])
        if key2 not in seen:
            seen.add(key2)
            inst.objects.append(
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "PrometheusRule",
                    "metadata": {**meta, "namespace": key2[0]},
                    "spec": {"groups": []},
                }
            )
    return inst


def dashboard_objects(cfg: BundleConfig) -> list[dict[str, Any]]:
    """The dashboards as `dashboards.delivery` puts them in the cluster, healthy: the
    ConfigMaps kustomize generates (sidecar), or those plus GrafanaDashboards whose status
    says the Grafana Operator applied them (grafana-operator)."""
    from observability.render import dashboards as files

    rendered = files.artifacts(cfg)
    kz = rendered["dashboards/kustomization.yaml"]
    opts = kz["generatorOptions"]
    out: list[dict[str, Any]] = []
    for gen in kz["configMapGenerator"]:
        (f,) = gen["files"]
        meta = {"name": gen["name"], "namespace": kz["namespace"], "labels": opts["labels"]}
        if opts.get("annotations"):
            meta["annotations"] = opts["annotations"]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": meta,
                "data": {f: json.dumps(rendered[f"dashboards/{f}"], sort_keys=True)},
            }
        )
    for gd in rendered.get(f"dashboards/{files.OPERATOR_FILE}", []):
        live = copy.deepcopy(gd)
        live["status"] = {
            "conditions": [
                {
                    "type": "DashboardSynchronized",
                    "status": "True",
                    "reason": "ApplySuccessful",
                    "message": "Dashboard was successfully applied to 1 instances",
                }
            ],
            "lastResync": "2026-12-01T10:00:00Z",
        }
        out.append(live)
    return out


def write_kubeconfig(path: Path, server: str, context: str = "fake") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "verify", "user": {"token": "fake-token-for-tests"}}],
                "contexts": [{"name": context, "context": {"cluster": "fake", "user": "verify"}}],
                "current-context": context,
            }
        )
    )
    return path
