"""`gateway:` the inference router in front of the model servers: a Gateway API Inference
Extension `InferencePool` (`inference.networking.k8s.io/v1`) and its endpoint picker (EPP),
as llm-d/llm-d-router's charts install them (docs/router.md).

Off by default. When on, the bundle scrapes the EPP with a bearer token (the EPP's
`/metrics` answers 401 without one: the chart's `monitoring.prometheus.auth.enabled`
defaults to true), maps every EPP naming generation onto one set, alerts on the pool and
shows it in the single pane. Models served through the pool say so with
`models.<key>.inference_pool`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from observability.config.types import ConfigModel, HelmChart, K8sName, SecretKeyRef
from observability.metrics.router import TTFT_EDGES

__all__ = [
    "ROUTER_CHART",
    "EppAuth",
    "EppService",
    "GatewayConfig",
    "InferencePoolConfig",
    "RouterThresholds",
]


def _on_ttft_edge(v: float) -> float:
    if float(v) not in TTFT_EDGES:
        edges = ", ".join(f"{e:g}" for e in TTFT_EDGES if 0.1 <= e <= 30)
        raise ValueError(
            f"{v:g} is not a bucket edge of llm_d_epp_request_ttft_seconds: pick one of {edges}"
        )
    return float(v)


TtftEdge = Annotated[float, AfterValidator(_on_ttft_edge)]

# llm-d-router's gateway-mode chart (EPP + InferencePool), as its release workflow pushes it
# (hack/push-chart.sh: oci://ghcr.io/llm-d/charts, version = the release tag).
ROUTER_CHART = HelmChart(
    repo_url="ghcr.io/llm-d/charts", chart="llm-d-router-gateway", version="v0.10.0"
)
# What that chart names and serves (config/charts/routerlib v0.10.0: Service
# `<release>-epp` in the release's namespace, metrics port `http-metrics`, 9090).
CHART_EPP_PORT_NAME = "http-metrics"
CHART_EPP_PORT = 9090


class EppService(ConfigModel):
    """The EPP's Service (the router chart names it `<release>-epp`, labelled
    app.kubernetes.io/name: <that name>, metrics on port `http-metrics`, 9090)."""

    name: K8sName | None = Field(None, description="Service name; default: <pool name>-epp")
    namespace: K8sName | None = Field(
        None, description="Namespace of the EPP; default: the pool's namespace"
    )
    port_name: str = Field(
        "http-metrics", min_length=1, description="Name of the Service port serving /metrics"
    )
    port: int = Field(9090, ge=1, le=65535, description="That port's number (--metrics-port)")


class EppAuth(ConfigModel):
    """How Prometheus authenticates to the EPP's /metrics (the EPP checks the bearer token
    with a TokenReview and a SubjectAccessReview for `get` on the non-resource URL /metrics)."""

    source: Literal["service-account", "secret", "none"] = Field(
        "service-account",
        description="service-account: the bundle renders a ServiceAccount, its token Secret "
        "and a ClusterRole allowing get /metrics, in the monitoring namespace; secret: an "
        "existing Secret in the monitoring namespace holds the token (`secret`); none: the "
        "EPP serves /metrics without auth (chart monitoring.prometheus.auth.enabled: false)",
    )
    service_account: K8sName = Field(
        "epp-metrics-reader",
        description="ServiceAccount (and ClusterRole) with source service-account",
    )
    secret: SecretKeyRef = Field(
        SecretKeyRef(name="epp-metrics-reader-token", key="token"),
        description="The token's Secret and key, in the monitoring namespace (with source "
        "service-account the bundle creates it under this name)",
    )


class RouterThresholds(ConfigModel):
    """Alert thresholds of the pool (group vllm.router, docs/runbooks/InferencePool*.md)."""

    ttft_p99_seconds: TtftEdge = Field(
        2.0,
        description="Router-side p99 time to first token (queueing in the router included) "
        "above which InferencePoolHighTimeToFirstToken fires; an llm_d_epp_request_ttft_seconds "
        "bucket edge",
    )
    error_ratio_warning: float = Field(
        0.05, gt=0, lt=1, description="Share of requests failing with one error_code (warning)"
    )
    error_ratio_critical: float = Field(
        0.25, gt=0, lt=1, description="Share of requests failing with one error_code (critical)"
    )
    scheduling_failure_ratio: float = Field(
        0.05, gt=0, lt=1, description="Share of scheduling attempts that fail"
    )
    saturation: float = Field(
        1.0,
        gt=0,
        description="Flow-control pool saturation (stage effective; 1.0 is the gating set point)",
    )
    flow_control_queue: int = Field(
        100, ge=1, description="Requests held in the pool's flow-control queue"
    )
    datalayer_poll_errors_per_second: float = Field(
        0.0,
        ge=0,
        description="Sustained data-layer poll errors per second above which the "
        "router is called blind to its endpoints",
    )
    disagg_min_ratio: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="With disaggregation: share of decisions that split prefill from decode, "
        "below which InferencePoolDisaggregationCollapsed fires",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RouterThresholds:
        if self.error_ratio_critical <= self.error_ratio_warning:
            raise ValueError("error_ratio_critical must be above error_ratio_warning")
        return self


class InferencePoolConfig(ConfigModel):
    """One InferencePool and its endpoint picker."""

    enabled: bool = Field(False, description="Scrape, alert on and show the pool's router")
    name: K8sName = Field("vllm-pool", description="The InferencePool's name")
    namespace: K8sName | None = Field(
        None,
        description="Its namespace (an InferencePool selects model pods in its own namespace); "
        "default: namespaces.vllm",
    )
    epp: EppService = Field(EppService(), description="The endpoint picker's Service")
    auth: EppAuth = Field(EppAuth(), description="Bearer-token auth for the EPP's /metrics")
    disaggregation: bool = Field(
        False,
        description="Prefill/decode disaggregation (P/D over NIXL): alert on the decision "
        "ratio and on NIXL transfer failures",
    )
    thresholds: RouterThresholds = Field(RouterThresholds(), description="Alert thresholds")
    install: Literal["existing", "chart"] = Field(
        "existing",
        description="existing: the router is installed already (the bundle renders no "
        "Application for it); chart: an Argo CD Application installs llm-d-router's "
        "gateway chart as release <name> in the pool's namespace, with its metrics auth as "
        "`auth` says and its own ServiceMonitor off (the bundle's scrapes it)",
    )
    chart: HelmChart = Field(
        ROUTER_CHART,
        description="The router chart with install: chart (OCI: an Argo CD OCI Helm repoURL "
        "has no scheme); v0.10.0 is llm-d/llm-d-router v0.10.0, the release the EPP's "
        "metric names are read from",
    )

    @model_validator(mode="after")
    def _chart_names_the_epp(self) -> InferencePoolConfig:
        """The chart names the EPP's Service `<release>-epp` in the release's namespace,
        port http-metrics 9090: with install: chart, `epp` must say the same."""
        if self.install != "chart":
            return self
        e = self.epp
        wrong = [
            f"epp.{k} is {v!r}, the chart's is {want!r}"
            for k, v, want in (
                ("name", e.name, f"{self.name}-epp"),
                ("port_name", e.port_name, CHART_EPP_PORT_NAME),
                ("port", e.port, CHART_EPP_PORT),
            )
            if v is not None and v != want
        ]
        if e.namespace is not None and e.namespace != self.namespace:
            wrong.append(
                f"epp.namespace is {e.namespace!r}, the chart runs the EPP in the pool's "
                f"({self.namespace or 'namespaces.vllm'})"
            )
        if wrong:
            raise ValueError(
                "install: chart renders llm-d-router's chart, which names the EPP after the "
                "pool: " + "; ".join(wrong) + " (leave epp.name and epp.namespace unset)"
            )
        return self


class GatewayConfig(ConfigModel):
    inference_pool: InferencePoolConfig = Field(
        InferencePoolConfig(),
        description="Gateway API Inference Extension InferencePool with llm-d-router's EPP",
    )
