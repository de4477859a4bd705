"""`aibrix`: the vLLM Deployment, routed by the AIBrix gateway (vllm-project/aibrix v0.7.0).

AIBrix's controller watches Deployments labelled `model.aibrix.ai/name` and routes the
gateway's requests for that model to the Service of the same name on
`model.aibrix.ai/port` (samples/quickstart/model.yaml: the label, the Service name and
`--served-model-name` must be equal; label keys from pkg/constants/model.go). So an
`aibrix` model keeps the bundle's vLLM Deployment (engine metrics are vLLM's own `vllm:*`,
scraped by the `vllm` ServiceMonitor, nothing to map) and adds:

- pod labels `model.aibrix.ai/name` (= served name), `model.aibrix.ai/port`,
  `model.aibrix.ai/engine: vllm`, `model.aibrix.ai/metric-port`;
- `deploy/aibrix/<key>/`: the model's vLLM overlay plus a Service named after the served
  name, and a NetworkPolicy letting the gateway plugins (which also read the pods'
  /metrics for routing) and the Envoy proxies reach the pods;
- ServiceMonitors for the AIBrix control plane it does not install: the controller manager
  (`aibrix-controller-manager-metrics-service`, port `http` 8080) and the gateway plugins
  (`aibrix-gateway-plugins`, port `metrics` 8080), both in `runtimes.aibrix.system_namespace`;
- `AIBrixComponentDown` when either is down or gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from observability.config import RUNTIME_TRAITS
from observability.kube import (
    VLLM_PORT_NAME,
    monitor_metadata,
    vllm_labels,
    vllm_service_name,
)
from observability.metrics.catalog import Catalog, runtime_catalog
from observability.rulebase import alert
from observability.runtimes.base import PanelScope, Runtime, RuntimePanel

if TYPE_CHECKING:
    from observability.alerting.timing import Timing
    from observability.config import BundleConfig
    from observability.rulebase import Scope

__all__ = [
    "AIBRIX_LABELS",
    "CATALOG_FILE",
    "COMPONENTS",
    "AibrixRuntime",
    "component_jobs",
]

CATALOG_FILE = "aibrix-0.7.0.json"
MODEL_LABEL = RUNTIME_TRAITS["aibrix"].routing_label  # "model.aibrix.ai/name"
PORT_LABEL = "model.aibrix.ai/port"
ENGINE_LABEL = "model.aibrix.ai/engine"
METRIC_PORT_LABEL = "model.aibrix.ai/metric-port"
AIBRIX_LABELS = (MODEL_LABEL, PORT_LABEL, ENGINE_LABEL, METRIC_PORT_LABEL)
ENVOY_NAMESPACE = "envoy-gateway-system"  # where AIBrix's Envoy Gateway runs its proxies

# component -> (Service name, Service labels, metrics port name), config/ of v0.7.0 with
# the release's namePrefix `aibrix-`.
COMPONENTS: dict[str, tuple[str, dict[str, str], str]] = {
    "controller-manager": (
        "aibrix-controller-manager-metrics-service",
        {"control-plane": "controller-manager", "app.kubernetes.io/name": "aibrix"},
        "http",
    ),
    "gateway-plugins": ("aibrix-gateway-plugins", {"app": "gateway-plugins"}, "metrics"),
}


def component_jobs() -> dict[str, str]:
    """The `job` of each component's targets: no jobLabel, so the Service name."""
    return {c: svc for c, (svc, _labels, _port) in COMPONENTS.items()}


def _monitor(cfg: BundleConfig, component: str) -> dict[str, Any]:
    _svc, labels, port = COMPONENTS[component]
    name = f"aibrix-{component}"
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": monitor_metadata(cfg, name),
        "spec": {
            "namespaceSelector": {"matchNames": [cfg.runtimes.aibrix.system_namespace]},
            "selector": {"matchLabels": dict(labels)},
            "endpoints": [
                {"port": port, "path": "/metrics", "interval": cfg.prometheus.scrape_interval}
            ],
        },
    }


class AibrixRuntime(Runtime):
    name = "aibrix"

    def catalogs(self) -> list[Catalog]:
        return [runtime_catalog(CATALOG_FILE)]

    def pod_labels(self, cfg: BundleConfig, key: str) -> dict[str, str]:
        port = str(cfg.vllm.port)
        return {
            MODEL_LABEL: cfg.models[key].served_name,
            PORT_LABEL: port,
            ENGINE_LABEL: "vllm",
            METRIC_PORT_LABEL: port,
        }

    def monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        return {f"aibrix-{c}.yaml": _monitor(cfg, c) for c in COMPONENTS}

    def external_services(
        self, cfg: BundleConfig
    ) -> list[tuple[str, str, dict[str, str], set[str]]]:
        ns = cfg.runtimes.aibrix.system_namespace
        return [(ns, svc, dict(labels), {port}) for svc, labels, port in COMPONENTS.values()]

    def workload_path(self, key: str) -> str:
        return f"deploy/aibrix/{key}"

    sim_gateway = True

    def demo_overrides(self, key: str) -> dict[str, Any]:
        # AIBrix routes on model.aibrix.ai/name = Service name = served name.
        return {"served_name": key}

    panel_row = "AIBrix gateway"

    def panels(self, s: PanelScope) -> list[RuntimePanel]:
        """The gateway's traffic per model and the control plane's scrape health."""
        model = ", ".join(m for m in (s.matchers(), 'model=~"$model_name"') if m)
        job = component_jobs()
        either = f'job=~"{job["gateway-plugins"]}|{job["controller-manager"]}"'
        jobs = ", ".join(m for m in (s.matchers(), either) if m)
        return [
            RuntimePanel(
                "AIBrix gateway requests/s per model",
                "Requests per second the AIBrix gateway routed successfully, per model. "
                "AIBrix v0.7.0 exports no routing-strategy label; the strategy is the "
                "routing-strategy request header",
                "reqps",
                (
                    (
                        f"sum by ({s.by('model')}) "
                        f"(rate(gateway_request_model_success_total{{{model}}}[{s.rate}]))",
                        "{{model}}",
                    ),
                ),
                stack=True,
            ),
            RuntimePanel(
                "AIBrix gateway failures/s per model",
                "Requests per second the gateway failed, per model and status code",
                "reqps",
                (
                    (
                        f"sum by ({s.by('model', 'status_code')}) "
                        f"(rate(gateway_request_model_fail_total{{{model}}}[{s.rate}]))",
                        "{{model}} {{status_code}}",
                    ),
                ),
            ),
            RuntimePanel(
                "AIBrix control plane up",
                "1 while Prometheus scrapes the gateway plugins and the controller manager "
                "(AIBrixComponentDown fires after 5m at 0 or absent)",
                "none",
                ((f"max by ({s.by('job')}) (up{{{jobs}}})", "{{job}}"),),
                min=0,
                max=1,
                red_below=1,
            ),
        ]

    def workload(self, cfg: BundleConfig, key: str) -> dict[str, Any]:
        served = cfg.models[key].served_name
        pods = vllm_labels(key)

        def ns(name: str) -> dict[str, Any]:
            return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

        service = {
            "apiVersion": "v1",
            "kind": "Service",
            # AIBrix routes model `served` to the Service of that name.
            "metadata": {"name": served, "labels": {**pods, MODEL_LABEL: served}},
            "spec": {
                "type": "ClusterIP",
                "selector": pods,
                "ports": [
                    {
                        "name": VLLM_PORT_NAME,
                        "port": cfg.vllm.port,
                        "targetPort": VLLM_PORT_NAME,
                        "protocol": "TCP",
                    }
                ],
            },
        }
        policy = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{vllm_service_name(key)}-aibrix", "labels": pods},
            "spec": {
                "podSelector": {"matchLabels": pods},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [ns(cfg.runtimes.aibrix.system_namespace), ns(ENVOY_NAMESPACE)],
                        "ports": [{"port": VLLM_PORT_NAME, "protocol": "TCP"}],
                    }
                ],
            },
        }
        files = {"service.yaml": service, "networkpolicy.yaml": policy}
        return self.kustomized(cfg, key, files, bases=(f"../../vllm/overlays/{key}",))

    def alert_rules(self, cfg: BundleConfig, t: Timing, sc: Scope) -> list[dict[str, Any]]:
        rules = []
        # Two rules, as DCGMExporterDown: `up == 0` keeps the target's labels (cluster
        # included); absent() is about the evaluating Prometheus and carries none.
        for component, job in component_jobs().items():
            impact = (
                "the gateway cannot route requests to any AIBrix model."
                if component == "gateway-plugins"
                else "model routes and autoscalers stop being reconciled."
            )
            where = f"(job {job}) in namespace {cfg.runtimes.aibrix.system_namespace}"
            for reason, expr, what in (
                (
                    "target_down",
                    f'up{{job="{job}"}} == 0',
                    f"Prometheus cannot scrape AIBrix {component} {where}",
                ),
                (
                    "absent",
                    f'absent(up{{job="{job}"}})',
                    f"No AIBrix {component} target {where} is discovered",
                ),
            ):
                rules.append(
                    alert(
                        "AIBrixComponentDown",
                        expr,
                        t.target_down_for,
                        "critical",
                        f"AIBrix {component} is down.",
                        f"{what}: {impact}",
                        labels={"component": component, "reason": reason},
                    )
                )
        return rules
