"""ServiceMonitor objects -> Prometheus scrape configs, the way prometheus-operator does it.

The operator turns each ServiceMonitor endpoint into one scrape job named
`serviceMonitor/<namespace>/<name>/<index>` using Kubernetes endpoints discovery and a fixed
list of relabel rules (select the Service by label, keep the named port, attach
namespace/service/pod/container/endpoint/job), then appends the monitor's own
`relabelings` and `metricRelabelings` verbatim. Locally there is no API server, so the
discovered targets become `static_configs` that carry the same `__meta_kubernetes_*`
labels, built from the simulator's manifest; the operator's relabel rules then run
unchanged inside Prometheus. Rules that work here therefore see exactly the labels they
would see in the cluster.

Reference: prometheus-operator pkg/prometheus/promcfg.go (generateServiceMonitorConfig).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "KSM_SERVICE_MONITOR",
    "DiscoveredTarget",
    "load_service_monitors",
    "sanitize",
    "scrape_configs",
    "targets_from_manifest",
]

_INVALID = re.compile(r"[^a-zA-Z0-9_]")

# camelCase RelabelConfig fields of the CRD -> Prometheus config keys.
_RELABEL_KEYS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}


def sanitize(name: str) -> str:
    """Kubernetes label name -> the suffix Prometheus SD uses in __meta_* labels."""
    return _INVALID.sub("_", name)


@dataclass(frozen=True)
class DiscoveredTarget:
    """One endpoint address as Kubernetes endpoints discovery would report it."""

    address: str  # host:port
    namespace: str
    service: str
    service_labels: Mapping[str, str]
    port_name: str
    pod: str
    container: str
    node: str
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    # the container port as the pod declares it, where it differs from the address's
    # (a KServe pod's 8000, served locally on whatever port the simulator got)
    container_port: int | None = None

    def meta_labels(self) -> dict[str, str]:
        port = str(self.container_port or self.address.rsplit(":", 1)[1])
        labels = {
            "__address__": self.address,
            "__meta_kubernetes_namespace": self.namespace,
            "__meta_kubernetes_service_name": self.service,
            "__meta_kubernetes_endpoint_port_name": self.port_name,
            "__meta_kubernetes_endpoint_port_protocol": "TCP",
            "__meta_kubernetes_endpoint_ready": "true",
            "__meta_kubernetes_endpoint_address_target_kind": "Pod",
            "__meta_kubernetes_endpoint_address_target_name": self.pod,
            "__meta_kubernetes_endpoint_node_name": self.node,
            "__meta_kubernetes_pod_name": self.pod,
            "__meta_kubernetes_pod_node_name": self.node,
            "__meta_kubernetes_pod_container_name": self.container,
            "__meta_kubernetes_pod_container_port_name": self.port_name,
            "__meta_kubernetes_pod_container_port_number": port,
            "__meta_kubernetes_pod_container_port_protocol": "TCP",
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_ip": "127.0.0.1",
        }
        for k, v in self.service_labels.items():
            labels[f"__meta_kubernetes_service_label_{sanitize(k)}"] = v
            labels[f"__meta_kubernetes_service_labelpresent_{sanitize(k)}"] = "true"
        for k, v in self.pod_labels.items():
            labels[f"__meta_kubernetes_pod_label_{sanitize(k)}"] = v
            labels[f"__meta_kubernetes_pod_labelpresent_{sanitize(k)}"] = "true"
        return labels


# kube-prometheus-stack 88.5.3's kube-state-metrics ServiceMonitor (chart 8.4.0,
# templates/servicemonitor.yaml with the parent chart's values: honorLabels on the `http`
# endpoint, jobLabel app.kubernetes.io/name). It is installed by the chart, not rendered by
# the bundle, so the demo carries this copy to scrape the simulator's kube-state-metrics.
KSM_SERVICE_MONITOR: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "kube-prometheus-stack-kube-state-metrics", "namespace": "monitoring"},
    "spec": {
        "jobLabel": "app.kubernetes.io/name",
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "kube-state-metrics",
                "app.kubernetes.io/instance": "kube-prometheus-stack",
            }
        },
        "endpoints": [{"port": "http", "honorLabels": True}],
    },
}


def targets_from_manifest(
    manifest: Mapping[str, Any], part_of: str = "vllm-observability"
) -> list[DiscoveredTarget]:
    """The simulator manifest (contracts.md) -> what endpoints discovery would find.

    The Service/pod labels are the ones the bundle's reference deployment and the
    dcgm-exporter chart put on their objects (contracts.md, GitOps section).
    """
    from observability import runtimes
    from observability.runtimes.rayservice import (
        METRICS_PORT_NAME,
        kuberay_pod_labels,
        ray_pod_labels,
    )

    out: list[DiscoveredTarget] = []
    for r in manifest.get("replicas", []):
        custom = runtimes.get(r.get("runtime", "vllm")).demo_target(r)
        if custom is not None:  # the runtime's own pods (a RayCluster's workers)
            out.append(
                _pod_target(
                    r, custom.labels, custom.port_name, custom.container, custom.port_number
                )
            )
            continue
        labels = {
            # vllm, or the runtime's workload name (tgi): the Services' jobLabel value
            "app.kubernetes.io/name": r.get("container", "vllm"),
            "app.kubernetes.io/instance": r["model_key"],
            "app.kubernetes.io/part-of": part_of,
        }
        out.append(
            DiscoveredTarget(
                # a real server given by `obsctl demo --target` may run on another host
                address=r.get("address") or f"127.0.0.1:{r['port']}",
                namespace=r["namespace"],
                service=r["service"],
                service_labels=labels,
                port_name="http",
                pod=r["pod"],
                container=r.get("container", "vllm"),
                node=r.get("node", ""),
                pod_labels=labels,
            )
        )
    from observability.runtimes.aibrix import COMPONENTS as AIBRIX

    for c in manifest.get("aibrix", []):
        svc, labels, port_name = AIBRIX[c["component"]]
        out.append(
            DiscoveredTarget(
                address=f"127.0.0.1:{c['port']}",
                namespace=c["namespace"],
                service=svc,
                service_labels=labels,
                port_name=port_name,
                pod=c["pod"],
                container=c["component"],
                node="cpu-node-0",
                pod_labels=labels,
            )
        )
    for e in manifest.get("epp", []):  # the inference pool's endpoint picker
        labels = {"app.kubernetes.io/name": e["service"]}  # llm-d-router's chart labels
        out.append(
            DiscoveredTarget(
                address=f"127.0.0.1:{e['port']}",
                namespace=e["namespace"],
                service=e["service"],
                service_labels=labels,
                port_name=e["port_name"],
                pod=e["pod"],
                container="epp",
                node="cpu-node-0",
                pod_labels=labels,
            )
        )
    for h in manifest.get("ray_heads", []):
        cluster = h["pod"].rsplit("-head-", 1)[0]
        labels = {
            **kuberay_pod_labels(cluster, "head", "headgroup"),
            **ray_pod_labels(h["model_key"]),
        }
        out.append(_pod_target(h, labels, METRICS_PORT_NAME, "ray-head"))
    for n in manifest.get("nodes", []):
        labels = {
            "app.kubernetes.io/name": n.get("service", "dcgm-exporter"),
            "app.kubernetes.io/instance": "dcgm-exporter",
        }
        out.append(
            DiscoveredTarget(
                address=f"127.0.0.1:{n['dcgm_port']}",
                namespace=n["namespace"],
                service=n.get("service", "dcgm-exporter"),
                service_labels=labels,
                port_name="metrics",
                pod=n["pod"],
                container="exporter",
                node=n["node"],
                pod_labels=labels,
            )
        )
    ksm = manifest.get("kube_state_metrics")
    if ksm:
        labels = dict(KSM_SERVICE_MONITOR["spec"]["selector"]["matchLabels"])
        out.append(
            DiscoveredTarget(
                address=f"127.0.0.1:{ksm['port']}",
                namespace=ksm["namespace"],
                service=ksm["service"],
                service_labels=labels,
                port_name="http",
                pod=ksm["pod"],
                container="kube-state-metrics",
                node=ksm.get("node", ""),
                pod_labels=labels,
            )
        )
    return out


def _pod_target(
    entry: Mapping[str, Any],
    labels: dict[str, str],
    port_name: str,
    container: str,
    port_number: int | None = None,
) -> DiscoveredTarget:
    """A pod as pod discovery reports it (a Ray worker or head, a KServe workload pod): no
    Service, only pod labels and ports."""
    return DiscoveredTarget(
        address=f"127.0.0.1:{entry['port']}",
        namespace=entry["namespace"],
        service="",
        service_labels={},
        port_name=port_name,
        pod=entry["pod"],
        container=container,
        node=entry.get("node", ""),
        pod_labels=labels,
        container_port=port_number,
    )


MONITOR_KINDS = ("ServiceMonitor", "PodMonitor")


def load_service_monitors(directory: Path) -> list[dict[str, Any]]:
    """Every ServiceMonitor and PodMonitor in `directory/*.yaml` (multi-document files)."""
    monitors: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") in MONITOR_KINDS:
                monitors.append(doc)
    return monitors


def _relabel(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in rule.items():
        if k not in _RELABEL_KEYS:
            raise ValueError(f"unknown relabel field {k!r} in ServiceMonitor")
        key = _RELABEL_KEYS[k]
        out[key] = v.lower() if key == "action" else v
    return out


def _namespaces(monitor: Mapping[str, Any]) -> set[str] | None:
    """None = any namespace (namespaceSelector.any), else the selected names."""
    sel = monitor.get("spec", {}).get("namespaceSelector") or {}
    if sel.get("any"):
        return None
    names = sel.get("matchNames") or [monitor.get("metadata", {}).get("namespace", "default")]
    return set(names)


def _selector_rules(selector: Mapping[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for k, v in sorted((selector.get("matchLabels") or {}).items()):
        s = sanitize(k)
        rules.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_service_label_{s}",
                    f"__meta_kubernetes_service_labelpresent_{s}",
                ],
                "regex": f"({v});true",
            }
        )
    for expr in selector.get("matchExpressions") or []:
        s = sanitize(expr["key"])
        op, values = expr["operator"], "|".join(expr.get("values") or [])
        label = f"__meta_kubernetes_service_label_{s}"
        present = f"__meta_kubernetes_service_labelpresent_{s}"
        if op == "In":
            rules.append(
                {"action": "keep", "source_labels": [label, present], "regex": f"({values});true"}
            )
        elif op == "NotIn":
            rules.append(
                {"action": "drop", "source_labels": [label, present], "regex": f"({values});true"}
            )
        elif op == "Exists":
            rules.append({"action": "keep", "source_labels": [present], "regex": "true"})
        elif op == "DoesNotExist":
            rules.append({"action": "drop", "source_labels": [present], "regex": "true"})
        else:
            raise ValueError(f"unknown selector operator {op!r}")
    return rules


def _operator_rules(
    monitor: Mapping[str, Any], endpoint: Mapping[str, Any]
) -> list[dict[str, Any]]:
    spec = monitor.get("spec", {})
    rules = _selector_rules(spec.get("selector") or {})
    if "port" in endpoint:
        rules.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                "regex": endpoint["port"],
            }
        )
    elif "targetPort" in endpoint:
        rules.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                "regex": str(endpoint["targetPort"]),
            }
        )
    rules += [
        {
            "source_labels": [
                "__meta_kubernetes_endpoint_address_target_kind",
                "__meta_kubernetes_endpoint_address_target_name",
            ],
            "separator": ";",
            "regex": "Node;(.*)",
            "replacement": "${1}",
            "target_label": "node",
        },
        {
            "source_labels": [
                "__meta_kubernetes_endpoint_address_target_kind",
                "__meta_kubernetes_endpoint_address_target_name",
            ],
            "separator": ";",
            "regex": "Pod;(.*)",
            "replacement": "${1}",
            "target_label": "pod",
        },
        *_meta_labels("namespace", "service", "pod", "container"),
    ]
    rules += _copied_labels(_SERVICE_LABEL, spec.get("targetLabels") or [])
    rules += _copied_labels(_POD_LABEL, spec.get("podTargetLabels") or [])
    rules.append(
        {
            "source_labels": ["__meta_kubernetes_service_name"],
            "target_label": "job",
            "replacement": "${1}",
        }
    )
    if spec.get("jobLabel"):
        rules += _copied_labels(_SERVICE_LABEL, [spec["jobLabel"]], "job")
    port_name = endpoint.get("port") or str(endpoint.get("targetPort", ""))
    if port_name:
        rules.append({"target_label": "endpoint", "replacement": port_name})
    rules += [_relabel(r) for r in endpoint.get("relabelings") or []]
    return rules


_SERVICE_LABEL = "__meta_kubernetes_service_label_"
_POD_LABEL = "__meta_kubernetes_pod_label_"


def _copied_labels(
    meta_prefix: str, labels: Iterable[str], target: str | None = None
) -> list[dict[str, Any]]:
    """targetLabels / podTargetLabels / jobLabel: copy each Kubernetes label that is set
    (to `target`, or to its own sanitized name)."""
    return [
        {
            "source_labels": [f"{meta_prefix}{sanitize(label)}"],
            "target_label": target or sanitize(label),
            "regex": "(.+)",
            "replacement": "${1}",
        }
        for label in labels
    ]


_META = {
    "namespace": "__meta_kubernetes_namespace",
    "service": "__meta_kubernetes_service_name",
    "pod": "__meta_kubernetes_pod_name",
    "container": "__meta_kubernetes_pod_container_name",
}


def _meta_labels(*labels: str) -> list[dict[str, Any]]:
    """Each label copied from its discovery meta label, in the order given, then targets
    of finished pods dropped: the tail both of prometheus-operator's generators write."""
    return [
        *({"source_labels": [_META[x]], "target_label": x} for x in labels),
        {
            "action": "drop",
            "source_labels": ["__meta_kubernetes_pod_phase"],
            "regex": "(Failed|Succeeded)",
        },
    ]


def _pod_selector_rules(selector: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A PodMonitor's selector: the same rules on pod labels instead of Service labels."""
    rules = _selector_rules(selector)
    for r in rules:
        r["source_labels"] = [
            x.replace("__meta_kubernetes_service_label", "__meta_kubernetes_pod_label")
            for x in r["source_labels"]
        ]
    return rules


def _pod_monitor_rules(
    monitor: Mapping[str, Any], endpoint: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """prometheus-operator's generatePodMonitorConfig: pod role, keep the named container
    port, namespace/container/pod labels, job `<namespace>/<name>` unless jobLabel."""
    meta, spec = monitor.get("metadata", {}), monitor.get("spec", {})
    rules = _pod_selector_rules(spec.get("selector") or {})
    if "port" in endpoint:
        rules.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": endpoint["port"],
            }
        )
    elif "targetPort" in endpoint:  # a number (KServe's 8000): the declared container port
        rules.append(
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_pod_container_port_number"],
                "regex": str(endpoint["targetPort"]),
            }
        )
    rules += _meta_labels("namespace", "container", "pod")
    rules += _copied_labels(_POD_LABEL, spec.get("podTargetLabels") or [])
    rules.append(
        {
            "target_label": "job",
            "replacement": f"{meta.get('namespace', 'default')}/{meta['name']}",
        }
    )
    if spec.get("jobLabel"):
        rules += _copied_labels(_POD_LABEL, [spec["jobLabel"]], "job")
    port_name = endpoint.get("port") or str(endpoint.get("targetPort", ""))
    if port_name:
        rules.append({"target_label": "endpoint", "replacement": port_name})
    rules += [_relabel(r) for r in endpoint.get("relabelings") or []]
    return rules


def scrape_configs(
    monitors: Iterable[Mapping[str, Any]],
    targets: Iterable[DiscoveredTarget],
    default_interval: str = "30s",
    interval_override: str | None = None,
    secrets: Mapping[tuple[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """One scrape job per ServiceMonitor endpoint, with the operator's relabel rules.

    `interval_override` (the demo's fast profile) replaces every endpoint interval so
    detection can be measured in seconds; timeouts are clamped below it. `secrets` holds
    the (Secret name, key) -> value the operator would read for an endpoint's
    `authorization.credentials`; a credential not there is left out (the scrape then goes
    without a token, as with a missing Secret).
    """
    targets = list(targets)
    jobs: list[dict[str, Any]] = []
    for mon in monitors:
        meta, spec = mon.get("metadata", {}), mon.get("spec", {})
        allowed = _namespaces(mon)
        selected = [t for t in targets if allowed is None or t.namespace in allowed]
        pod_monitor = mon.get("kind") == "PodMonitor"
        endpoints = spec.get("podMetricsEndpoints" if pod_monitor else "endpoints") or []
        prefix = "podMonitor" if pod_monitor else "serviceMonitor"
        for i, ep in enumerate(endpoints):
            interval = interval_override or ep.get("interval") or default_interval
            job: dict[str, Any] = {
                "job_name": f"{prefix}/{meta.get('namespace', 'default')}/{meta['name']}/{i}",
                "honor_labels": bool(ep.get("honorLabels", False)),
                "honor_timestamps": bool(ep.get("honorTimestamps", True)),
                "scrape_interval": interval,
                "metrics_path": ep.get("path", "/metrics"),
                "scheme": ep.get("scheme", "http"),
                "static_configs": [
                    {
                        "targets": [t.address],
                        "labels": {k: v for k, v in t.meta_labels().items() if k != "__address__"},
                    }
                    for t in selected
                ],
                "relabel_configs": (
                    _pod_monitor_rules(mon, ep) if pod_monitor else _operator_rules(mon, ep)
                ),
            }
            timeout = ep.get("scrapeTimeout")
            if timeout and not interval_override:
                job["scrape_timeout"] = timeout
            elif interval_override:
                job["scrape_timeout"] = interval_override
            if ep.get("params"):
                job["params"] = ep["params"]
            cred = (ep.get("authorization") or {}).get("credentials") or {}
            token = (secrets or {}).get((cred.get("name", ""), cred.get("key", "")))
            if token:
                kind = ep["authorization"].get("type", "Bearer")
                job["authorization"] = {"type": kind, "credentials": token}
            if ep.get("metricRelabelings"):
                job["metric_relabel_configs"] = [_relabel(r) for r in ep["metricRelabelings"]]
            jobs.append(job)
    return jobs
