"""The AIBrix control plane as Prometheus scrapes it (runtime `aibrix`, v0.7.0).

Two endpoints, one pod each, in the AIBrix system namespace (catalog aibrix-0.7.0.json):
- gateway plugins: `gateway_request_total`, `gateway_request_model_success_total` and
  `gateway_request_model_fail_total` with the labels pkg/metrics/custom_metrics.go
  (buildMetricLabels) and pkg/plugins/gateway/util.go (buildGatewayPodMetricLabels) give
  them, counted for every request an `aibrix` model's replicas answer (the gateway sits in
  front of them);
- controller manager: controller-runtime's reconcile counters and work-queue depth.
Both can crash (fault `crash` on their pod), like a replica.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from observability.sim.exporter import PROMETHEUS_TEXT

__all__ = ["CONTENT_TYPE", "CONTROLLER", "GATEWAY", "AibrixComponent"]

# both are Go binaries exporting through client_golang's promhttp: the text format 0.0.4
CONTENT_TYPE = PROMETHEUS_TEXT

GATEWAY = "gateway-plugins"
CONTROLLER = "controller-manager"


def _labels(pairs: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in pairs.items())


@dataclass
class AibrixComponent:
    """One AIBrix control-plane pod's metrics endpoint (an `Exporter`, sim/exporter.py)."""

    component: str  # gateway-plugins | controller-manager
    pod: str
    namespace: str
    port: int
    content_type: ClassVar[str] = CONTENT_TYPE
    success: dict[str, int] = field(default_factory=dict)  # model -> count
    fail: dict[tuple[str, str], int] = field(default_factory=dict)  # (model, code) -> count
    reconciles: int = 0

    @classmethod
    def make(cls, component: str, namespace: str, port: int, seed: int) -> AibrixComponent:
        digest = hashlib.sha1(f"{component}/{seed}".encode()).hexdigest()
        pod = f"aibrix-{component}-{digest[:10]}-{digest[10:15]}"
        return cls(component, pod, namespace, port)

    def observe(self, model: str, status: int) -> None:
        if status < 400:
            self.success[model] = self.success.get(model, 0) + 1
        else:
            key = (model, str(status))
            self.fail[key] = self.fail.get(key, 0) + 1

    def exposition(self) -> bytes:
        out: list[str] = []
        if self.component == GATEWAY:
            total = sum(self.success.values()) + sum(self.fail.values())
            out += [
                "# HELP gateway_request_total Total number of requests received by the gateway",
                "# TYPE gateway_request_total counter",
                f"gateway_request_total{{{_labels({'gateway_pod': self.pod, 'model': '', 'pod_name': self.pod})}}} {float(total)}",
                "# HELP gateway_request_model_success_total Total number of successful requests received by the gateway for each model",
                "# TYPE gateway_request_model_success_total counter",
            ]  # fmt: skip
            for model, n in sorted(self.success.items()):
                lab = {"gateway_pod": self.pod, "model": model, "pod_name": self.pod,
                       "status": "gateway_request_success", "status_code": "200"}  # fmt: skip
                out.append(f"gateway_request_model_success_total{{{_labels(lab)}}} {float(n)}")
            out += [
                "# HELP gateway_request_model_fail_total Total number of failed requests received by the gateway for each model",
                "# TYPE gateway_request_model_fail_total counter",
            ]  # fmt: skip
            for (model, code), n in sorted(self.fail.items()):
                lab = {"gateway_pod": self.pod, "model": model, "pod_name": self.pod,
                       "status": "gateway_response_body_error", "status_code": code}  # fmt: skip
                out.append(f"gateway_request_model_fail_total{{{_labels(lab)}}} {float(n)}")
        else:
            self.reconciles += 1
            out += [
                "# HELP controller_runtime_reconcile_total Total number of reconciliations per controller",
                "# TYPE controller_runtime_reconcile_total counter",
                f'controller_runtime_reconcile_total{{controller="model-router",result="success"}} {float(self.reconciles)}',
                "# HELP controller_runtime_reconcile_errors_total Total number of reconciliation errors per controller",
                "# TYPE controller_runtime_reconcile_errors_total counter",
                'controller_runtime_reconcile_errors_total{controller="model-router"} 0.0',
                "# HELP workqueue_depth Current depth of workqueue",
                "# TYPE workqueue_depth gauge",
                'workqueue_depth{controller="model-router",name="model-router"} 0.0',
            ]  # fmt: skip
        return ("\n".join(out) + "\n").encode()
