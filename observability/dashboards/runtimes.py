"""Single-pane rows of the serving runtimes and the queue autoscaler, present only when a
model uses them: Ray Serve (RayService), the AIBrix gateway, KEDA replicas.

Engine panels never change per runtime (they read the normalised `vllm:*` series); these
rows show what only the runtime has: Serve's own HTTP proxy and replica health, the
gateway's traffic per model, and the replicas the HPA runs versus those it wants.
"""

from __future__ import annotations

from observability.config import BundleConfig
from observability.dashboards.panels import PanelSpec, Query, thresholds_low
from observability.dashboards.queries import RATE, Queries

__all__ = ["runtime_rows"]


def _m(q: Queries, *labels: str) -> str:
    return q._matchers(*labels)


def _by(q: Queries, *labels: str) -> str:
    """`by` labels with the cluster label first when configured (two clusters never merge)."""
    return ", ".join(q._by(labels))


def ray_serve(q: Queries) -> list[PanelSpec]:
    sel = _m(q, "namespace")
    return [
        PanelSpec(
            "timeseries",
            "Ray Serve HTTP requests/s by status",
            "Requests per second the Serve HTTP proxies answered, by status code "
            "(RayService models; vLLM's own HTTP metrics do not exist there)",
            "reqps",
            (
                Query(
                    f"sum by ({_by(q, 'namespace', 'status_code')}) (rate(ray_serve_num_http_requests_total"
                    f"{{{sel}}}[{RATE}]))",
                    "{{namespace}} {{status_code}}",
                ),
            ),
            stack=True,
        ),
        PanelSpec(
            "timeseries",
            "Ray Serve HTTP errors/s",
            "Errored responses per second of the Serve HTTP proxies, by error code",
            "reqps",
            (
                Query(
                    f"sum by ({_by(q, 'namespace', 'error_code')}) "
                    f"(rate(ray_serve_num_http_error_requests_total"
                    f"{{{sel}}}[{RATE}]))",
                    "{{namespace}} {{error_code}}",
                ),
            ),
        ),
        PanelSpec(
            "timeseries",
            "Ray Serve replicas healthy",
            "Healthy Serve replicas per deployment (the controller's health checks); fewer "
            "than running means replicas failing checks",
            "none",
            (
                Query(
                    f"sum by ({_by(q, 'namespace', 'deployment')}) "
                    f"(ray_serve_deployment_replica_healthy{{{sel}}})",
                    "{{namespace}} {{deployment}}",
                ),
                Query(
                    f"sum by ({_by(q, 'namespace')}) (ray_serve_replica_processing_queries{{{sel}}})",
                    "{{namespace}} queries in replicas",
                ),
            ),
            thresholds=thresholds_low(1),
        ),
    ]


def aibrix_gateway(q: Queries) -> list[PanelSpec]:
    jobs = ", ".join(
        m
        for m in (
            _m(q),
            'job=~"aibrix-gateway-plugins|aibrix-controller-manager-metrics-service"',
        )
        if m
    )
    model = ", ".join(m for m in (_m(q), 'model=~"$model_name"') if m)
    return [
        PanelSpec(
            "timeseries",
            "AIBrix gateway requests/s per model",
            "Requests per second the AIBrix gateway routed successfully, per model. AIBrix "
            "v0.7.0 exports no routing-strategy label; the strategy is the routing-strategy "
            "request header",
            "reqps",
            (
                Query(
                    f"sum by ({_by(q, 'model')}) (rate(gateway_request_model_success_total"
                    f"{{{model}}}[{RATE}]))",
                    "{{model}}",
                ),
            ),
            stack=True,
        ),
        PanelSpec(
            "timeseries",
            "AIBrix gateway failures/s per model",
            "Requests per second the gateway failed, per model and status code",
            "reqps",
            (
                Query(
                    f"sum by ({_by(q, 'model', 'status_code')}) (rate(gateway_request_model_fail_total"
                    f"{{{model}}}[{RATE}]))",
                    "{{model}} {{status_code}}",
                ),
            ),
        ),
        PanelSpec(
            "timeseries",
            "AIBrix control plane up",
            "1 while Prometheus scrapes the gateway plugins and the controller manager "
            "(AIBrixComponentDown fires after 5m at 0 or absent)",
            "none",
            (
                Query(
                    f"max by ({_by(q, 'job')}) (up{{{jobs}}})",
                    "{{job}}",
                ),
            ),
            min=0,
            max=1,
            thresholds=thresholds_low(1),
        ),
    ]


def keda(q: Queries) -> list[PanelSpec]:
    sel = _m(q, "namespace") + ', horizontalpodautoscaler=~"keda-hpa-vllm-.+"'
    hpa = _by(q, "namespace", "horizontalpodautoscaler")
    return [
        PanelSpec(
            "timeseries",
            "Replicas: current vs desired (KEDA)",
            "Replicas the HPA KEDA created runs and the count it wants from the ScaledObject's "
            "waiting-requests query (ceil(waiting / target) within min..max); desired above "
            "current for long means pods cannot start",
            "none",
            (
                Query(
                    f"max by ({hpa}) "
                    f"(kube_horizontalpodautoscaler_status_current_replicas{{{sel}}})",
                    "current {{horizontalpodautoscaler}}",
                ),
                Query(
                    f"max by ({hpa}) "
                    f"(kube_horizontalpodautoscaler_status_desired_replicas{{{sel}}})",
                    "desired {{horizontalpodautoscaler}}",
                ),
                Query(
                    f"max by ({hpa}) (kube_horizontalpodautoscaler_spec_max_replicas{{{sel}}})",
                    "max {{horizontalpodautoscaler}}",
                ),
            ),
            width=24,
        ),
    ]


def runtime_rows(cfg: BundleConfig) -> list[tuple[str, list[PanelSpec]]]:
    q = Queries(cfg)
    used = set(cfg.runtimes_in_use)
    out: list[tuple[str, list[PanelSpec]]] = []
    if "rayservice" in used:
        out.append(("Ray Serve", ray_serve(q)))
    if "aibrix" in used:
        out.append(("AIBrix gateway", aibrix_gateway(q)))
    if cfg.autoscaling.keda.enabled:
        out.append(("Autoscaling (KEDA)", keda(q)))
    return out
