"""The runtime extension point: what a serving stack adds to the bundle.

A runtime is whatever serves a model's vLLM engine (`models.<key>.runtime`). Every alert,
recording and panel reads one normalised set of series: the vLLM family names
(`vllm:num_requests_running`, `vllm:time_to_first_token_seconds_bucket`, ...) with the
labels `namespace`, `pod` and `model_name`, on which the `namespace_model*` recordings are
built. A runtime that exposes vLLM's metrics under other names contributes recording rules
that write exactly those names (`mapping_rules`), so no alert or panel ever gets a
runtime-specific copy. Besides the mapping a runtime adds:

- `monitors`: ServiceMonitor/PodMonitor objects for its targets (`servicemonitors/`);
- `workload`: the reference manifests of one model (`deploy/...`) and `workload_path`,
  the directory its Argo CD Application syncs;
- `applications`: Argo CD Applications it needs (an operator chart);
- `alert_rules`: alerts about its own control plane (gateway down, ...);
- `error_ratios`: failed-request ratios from its own proxy's counters, which the shared
  error ratio reads beside vLLM's (a proxy that answers HTTP in vLLM's place);
- `catalogs`: what its exporters expose, with their source (lint's metric contract and
  the simulator read them);
- `engine_jobs`: the `job` values of targets that carry engine metrics, so
  VLLMTargetDown also covers them;
- `sim_mode`/`vllm_version`: how the simulator serves it.

docs/runtimes.md describes how to add one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from observability.kube import VLLM_PORT_NAME, kustomization, vllm_service_name

if TYPE_CHECKING:
    from observability.alerting.timing import Timing
    from observability.config import BundleConfig
    from observability.metrics.catalog import Catalog
    from observability.rulebase import Scope

__all__ = [
    "SIM_RAY",
    "SIM_TGI",
    "SIM_VLLM",
    "DemoTarget",
    "PanelScope",
    "Runtime",
    "RuntimePanel",
    "SimPod",
]

# How the simulator can expose a replica (Runtime.sim_mode): vLLM's /metrics, a Ray worker
# (ray_vllm names beside a head pod), TGI's own names.
SIM_VLLM, SIM_RAY, SIM_TGI = "vllm", "ray", "tgi"


@dataclass(frozen=True)
class PanelScope:
    """What a runtime's panels filter and group by: the dashboard's variables.

    `matchers("namespace")` is `cluster=~"$cluster", namespace=~"$namespace"` (the cluster
    only when configured); `by("namespace", "x")` puts the cluster label first, so two
    clusters never merge; `rate` is the dashboard's rate window."""

    matchers: Callable[..., str]
    by: Callable[..., str]
    rate: str


@dataclass(frozen=True)
class RuntimePanel:
    """A time-series panel of a runtime's own row, declared without the dashboard code."""

    title: str
    text: str
    unit: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    stack: bool = False
    width: int = 8
    min: float | None = None
    max: float | None = None
    red_below: float | None = None  # red under this value, green from it


class DemoTarget(NamedTuple):
    """How pod discovery sees a simulated replica whose pods are not the vLLM Deployment's:
    its pod labels, the named port its monitor keeps ("" = none), its container, and the
    container port number a `targetPort` monitor keeps (None = the port it listens on)."""

    labels: dict[str, str]
    port_name: str
    container: str
    port_number: int | None = None


@dataclass(frozen=True)
class SimPod:
    """One pod of a simulated serving replica. The first pod of a replica serves the
    engine (its /metrics); the others only hold GPUs and show in kube-state-metrics (an
    LWS group's workers). `labels` are the pod labels kube-state-metrics exposes once
    allowlisted; `deployment` the Deployment that owns it ("" = none: a StatefulSet's)."""

    name: str
    container: str
    labels: dict[str, str]
    deployment: str = ""


class Runtime:
    """Defaults describe the plain vLLM Deployment: nothing to map, nothing extra."""

    name: str = ""
    sim_mode: str = SIM_VLLM  # how the simulator exposes a replica of this runtime
    vllm_version: str | None = None  # the vLLM a pinned runtime image ships (sim, demo)

    def sim_exporter(self, cfg: BundleConfig) -> str:
        """The exporter release the simulator imitates for this runtime's models under `cfg`
        ("" = the runtime's default)."""
        return ""

    def sim_vllm_version(self, exporter: str) -> str | None:
        """The vLLM catalog a replica of `exporter` (sim_exporter) serves; None = the
        simulator's own --vllm-version."""
        return self.vllm_version

    def engine_jobs(self, cfg: BundleConfig) -> tuple[str, ...]:
        """`job` values of this runtime's engine targets other than the vLLM Services'."""
        return ()

    def monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        """servicemonitors/<file> -> monitor object, rendered when a model uses the runtime."""
        return {}

    def demo_monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        """Monitors the local demo scrapes a registered (not deployed) model of this runtime
        with; by default the rendered ones."""
        return self.monitors(cfg)

    def external_services(
        self, cfg: BundleConfig
    ) -> list[tuple[str, str, dict[str, str], set[str]]]:
        """Services its monitors scrape that the runtime's own installer creates:
        (namespace, name, labels, port names)."""
        return []

    def workload(self, cfg: BundleConfig, key: str) -> dict[str, Any]:
        """Rendered files (path -> object or list of objects) of one model's workload."""
        return {}

    def kustomized(
        self, cfg: BundleConfig, key: str, files: dict[str, Any], bases: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """`files` (name -> object) in the model's `workload_path`, with the kustomization
        that puts `bases` and them in the model's namespace."""
        d = self.workload_path(key)
        resources = [*bases, *files]
        out = {
            f"{d}/kustomization.yaml": kustomization(
                namespace=cfg.model_namespace(key), resources=resources
            )
        }
        out.update({f"{d}/{name}": obj for name, obj in files.items()})
        return out

    # kind -> function(object) -> [(name, pod labels, named ports)]: the pods a custom
    # workload kind creates, so lint can check that monitors select them.
    pod_kinds: ClassVar[dict[str, Any]] = {}
    uses_vllm_deployment: bool = True  # rendered by render/deploy.py as a vllm overlay

    def pod_labels(self, cfg: BundleConfig, key: str) -> dict[str, str]:
        """Extra labels on the vLLM Deployment's pods of one model (a gateway routes on them)."""
        return {}

    def workload_path(self, key: str) -> str:
        """Directory the model's Argo CD Application syncs."""
        return f"deploy/vllm/overlays/{key}"

    def applications(self, cfg: BundleConfig) -> list[dict[str, Any]]:
        """Extra Argo CD Applications (e.g. an operator chart), already built."""
        return []

    def model_pod_label(self, cfg: BundleConfig, key: str) -> tuple[str, str]:
        """(label, value) that marks the pods and Deployment of model `key` in its
        namespace, as kube-state-metrics shows them (the lifecycle rules find model pods
        by it; allowlisted by render/kps_values.py or `ksm_pod_labels`)."""
        return "app.kubernetes.io/instance", key

    def ksm_pod_labels(self) -> tuple[str, ...]:
        """Pod labels its alerts read from kube-state-metrics' `kube_pod_labels` (added to
        the chart's metricLabelsAllowlist while a model uses the runtime)."""
        return ()

    def mapping_rules(self, cfg: BundleConfig, sc: Scope) -> list[dict[str, Any]]:
        """Recording rules writing the normalised vLLM names from this runtime's names."""
        return []

    def error_ratios(self, cfg: BundleConfig, sc: Scope, window: str) -> dict[str, str]:
        """Failed share of a model's requests over `window` from what only this runtime
        records (its proxy's HTTP counters): `source` label -> PromQL per (cluster,)
        namespace and model_name, `num / (den > 0)` so an idle model records nothing. The
        recorded error ratio (VLLMHighErrorRate) takes the worst of these and vLLM's own
        sources; none by default."""
        return {}

    def alert_rules(self, cfg: BundleConfig, t: Timing, sc: Scope) -> list[dict[str, Any]]:
        """Alerts about the runtime's own components (group `vllm.runtimes`)."""
        return []

    def catalogs(self) -> list[Catalog]:
        """What the runtime's exporters expose (exposed family names, with sources)."""
        return []

    # -- the single pane ---------------------------------------------------------------
    panel_row: str = ""  # title of the runtime's own row of panels ("" = none)

    def panels(self, s: PanelScope) -> list[RuntimePanel]:
        """Panels of what only the runtime has (its proxy, gateway, replica health)."""
        return []

    # -- RBAC --------------------------------------------------------------------------
    def rbac_rules(self) -> list[tuple[str, list[str], list[str]]]:
        """(apiGroup, resources, verbs) the verify checks read for a deployed model."""
        return []

    # -- the local demo and the simulator ----------------------------------------------
    pod_stem: str = "vllm"  # Deployment/Service/container name stem of a model's pods
    sim_gateway: bool = False  # the simulator runs a gateway in front of its replicas
    demo_default: bool = False  # the demo picks registry models of this runtime first

    def metrics_service(self, cfg: BundleConfig, key: str) -> tuple[str, str, str] | None:
        """(namespace, Service, port name) whose /metrics is one pod of the model's
        workload (verify's drift guard reads it); None = no such Service (Prometheus is
        asked instead)."""
        if not self.uses_vllm_deployment:
            return None
        return cfg.model_namespace(key), vllm_service_name(key), VLLM_PORT_NAME

    def drift_fix(self, cfg: BundleConfig, key: str) -> str:
        """What to do when the model's pods export names the rules do not read."""
        return (
            f"the pods of {key} export other metric names than vLLM's (escaped vllm_ "
            "names, --disable-log-stats, or another exporter): run the image the bundle "
            "pins (vllm.image_tag) and see scrape.escaping"
        )

    def demo_overrides(self, key: str) -> dict[str, Any]:
        """Model settings `obsctl demo --runtime` needs to serve `key` this way."""
        return {}

    def demo_target(self, replica: dict[str, Any]) -> DemoTarget | None:
        """How pod discovery finds a simulated replica when the runtime's pods are not the
        vLLM Deployment's; None = the vLLM Deployment's (its Service's labels)."""
        return None

    def demo_config(self, cfg: BundleConfig) -> BundleConfig:
        """`cfg` as the local stack runs this runtime's models: the runtime settings whose
        cluster-side behaviour the simulator imitates (KServe: its controller's own
        monitors); by default unchanged."""
        return cfg

    def sim_pods(self, key: str, nodes: int, group: int, hash_: str, suffix: str) -> list[SimPod]:
        """The pods of replica number `group` of model `key` (`nodes` pods per replica),
        the one serving the engine first; `hash_`/`suffix` are random name parts (a
        ReplicaSet's hash and a pod's suffix). By default one Deployment pod
        `<stem>-<key>-<hash>-<suffix>` with the vLLM workload's labels."""
        workload = f"{self.pod_stem}-{key}"
        labels = {"app.kubernetes.io/name": self.pod_stem, "app.kubernetes.io/instance": key}
        return [SimPod(f"{workload}-{hash_}-{suffix}", self.pod_stem, labels, workload)]
