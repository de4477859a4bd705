"""`rayservice`: vLLM inside Ray Serve LLM on a KubeRay RayService.

Ray Serve LLM (`ray.serve.llm:build_openai_app`) runs vLLM's engine in a Serve replica and,
with `log_engine_metrics: true`, records vLLM's metrics through `ray.util.metrics`; each
Ray node's metrics agent exposes them on the node's metrics-export port (8080) with Ray's
global tags (WorkerId, ...). Ray Serve's own request and replica metrics come out as
`ray_serve_*` on the same port. Two naming generations are in use (`GENERATIONS`, each
with its catalog, scripts/derive_ray_catalog.py, which cites the sources):

- Ray <= 2.49 with vLLM <= 0.10 (read from ray-llm 2.49.2, vLLM 0.10.1.1):
  `ray_vllm:<name>`, counters as `_total` plus a deprecated bare gauge twin;
- Ray >= 2.50 with vLLM >= 0.11 (read from ray-llm 2.58.0, vLLM 0.26.0): vLLM sanitizes
  names for OpenTelemetry (`ray_vllm_<name>`) and adds a `ReplicaId` tag; counters come
  out with `_total`, or (Ray issue #59072, 2.52) as gauges without it.

Scraped by one PodMonitor over the head and worker pods (`ray.io/is-ray-node: yes` and
our part-of label); the mapping records `vllm:<name>` from every Ray name of that family
for every family the rules and panels read, keeping the target's namespace/pod and vLLM's
model_name. The sources are joined with `or`, never summed: a pod exports one generation,
and where one pod exports two names of one family with the same labels (a counter and its
gauge twin) `or` keeps one, so nothing is counted twice; pods of both generations during
an upgrade differ in `pod` and both survive. Not forwarded: vLLM's HTTP metrics
(`http_requests_total`), because Ray Serve, not vLLM's API server, answers HTTP.

Errors therefore come from Serve's HTTP proxy as well as the engine's
`finished_reason="error"` (vLLM >= 0.16; 0.10.1 has none): `error_ratios` gives the 5xx
share of `ray_serve_num_http_error_requests` over `ray_serve_num_http_requests` per Serve
`application`, which `_serve_config` names after the served model, so the tag is the
model_name. The tags (requests: route, method, application, status_code; errors: route,
error_code, method, application, for every 4xx and 5xx) were read in the Ray 2.49.2 and
2.58.0 wheels (ray/serve/_private/proxy.py; 2.58.0 declares them in
request_ingress_metrics.py), the same in both generations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from observability.kube import (
    PART_OF,
    argocd_application,
    helm_source,
    node_relabeling,
    non_root_pod_security,
    resources,
    restricted_container_security,
)
from observability.kube import pod_monitor as kube_pod_monitor
from observability.metrics.catalog import Catalog, runtime_catalog
from observability.metrics.promql import divide
from observability.runtimes.base import SIM_RAY, DemoTarget, PanelScope, Runtime, RuntimePanel
from observability.runtimes.mapping import forwarded_families, rename_rules

if TYPE_CHECKING:
    from observability.config import BundleConfig, ModelProfile
    from observability.rulebase import Scope

__all__ = [
    "CURRENT",
    "GENERATIONS",
    "LEGACY",
    "METRICS_PORT",
    "METRICS_PORT_NAME",
    "POD_MONITOR",
    "RAY_NODE_LABEL",
    "RayGeneration",
    "RayServiceRuntime",
    "generation_of",
    "ray_pod_labels",
    "rayservice",
    "rayservice_name",
    "serve_error_ratio",
    "with_ray_version",
]

RAY_PREFIX = "ray_"
METRICS_PORT = 8080  # Ray's default metrics-export-port
METRICS_PORT_NAME = "metrics"
SERVE_PORT = 8000
POD_MONITOR = "ray-vllm"
RAY_NODE_LABEL = "ray.io/is-ray-node"  # KubeRay labels every head and worker pod "yes"
RAY_NODE_TYPE = "ray.io/node-type"  # head | worker
RAY_UID, RAY_GID = 1000, 100  # user `ray` of the rayproject images
OPERATOR_APP = "kuberay-operator"
WORKER_GROUP = "gpu-group"
# Cardinality: a Ray node exports hundreds of ray_* core series; keep vLLM's and Serve's.
KEEP_SERIES = r"ray_vllm[:_].+|ray_serve_.+"


@dataclass(frozen=True)
class RayGeneration:
    """One naming generation of Ray's re-exported vLLM metrics, as read from one release."""

    ray: str  # the Ray release its catalog was read from
    vllm: str  # the vLLM that release's ray-llm image ships (its committed catalog)
    image_tag: str  # the rayproject/ray-llm tag
    sanitized: bool  # vLLM >= 0.11: `vllm:x` -> `vllm_x` and a ReplicaId tag

    @property
    def catalog_file(self) -> str:
        return f"ray-{self.ray}.json"

    def exposed(self, name: str) -> str:
        """Ray's name of a vLLM family (`vllm:x` -> `ray_vllm:x` or `ray_vllm_x`)."""
        return RAY_PREFIX + (re.sub(r"[^a-zA-Z0-9_]", "_", name) if self.sanitized else name)


# Newest first: the mapping's `or` and the default image follow this order.
CURRENT = RayGeneration("2.58.0", "0.26.0", "2.58.0-py312-cu130", sanitized=True)
LEGACY = RayGeneration("2.49.2", "0.10.1", "2.49.2-py311-cu128", sanitized=False)
GENERATIONS = (CURRENT, LEGACY)
FIRST_SANITIZED = (2, 50)  # Ray 2.50 exports through OpenTelemetry; needs vLLM >= 0.11


def generation_of(ray_version: str) -> RayGeneration:
    """The naming generation a Ray release exports (`2.49.2` -> LEGACY)."""
    parts = tuple(int(p) for p in re.findall(r"\d+", ray_version)[:2])
    return LEGACY if parts < FIRST_SANITIZED else CURRENT


def with_ray_version(cfg: BundleConfig, version: str) -> BundleConfig:
    """`cfg` with the ray-llm image of one cataloged generation (`--ray-version`): the
    simulator then exports that generation's names."""
    gen = next((g for g in GENERATIONS if g.ray == version), None)
    if gen is None:
        known = ", ".join(g.ray for g in GENERATIONS)
        raise ValueError(f"--ray-version {version}: no Ray catalog; use one of {known}")
    ray = cfg.runtimes.rayservice.model_copy(update={"image_tag": gen.image_tag})
    return cfg.model_copy(update={"runtimes": cfg.runtimes.model_copy(update={"rayservice": ray})})


def ray_sources(name: str) -> tuple[str, ...]:
    """Every Ray name of one canonical vLLM family name that some generation exposes,
    newest first: for a counter `x_total` also #59072's bare gauge `x`."""
    out: list[str] = []
    for gen in GENERATIONS:
        fams = runtime_catalog(gen.catalog_file).families
        cands = [gen.exposed(name)]
        if name.endswith("_total"):
            cands.append(gen.exposed(name.removesuffix("_total")))
        for cand in cands:
            fam = fams.get(cand)
            # the bare name counts only where it is a counter's gauge form, not the
            # deprecated twin beside a `_total` that is always there (2.49)
            if fam is not None and (cand == cands[0] or not fam.default):
                out.append(cand)
    return tuple(out)


def _serve_rate(sc: Scope, family: str, matchers: str, window: str) -> str:
    """Rate of one Serve proxy counter per (cluster,) namespace and model_name. The
    proxy tags each request with its Serve `application`, which we name after the served
    model (`_serve_config`); `application=""` is the proxy's own health and route checks
    and unmatched routes. Counter sources as `ray_sources` reads them (#59072's gauge
    form; not 2.49's deprecated twin), joined with `or`."""
    sel = f'{{application!=""{matchers}}}'
    rates = " or ".join(
        f"rate({name}{sel}[{window}])" for name in dict.fromkeys(ray_sources(family))
    )
    return (
        f"sum by ({sc.by(sc.model)}) "
        f'(label_replace({rates}, "model_name", "$1", "application", "(.+)"))'
    )


def serve_error_ratio(sc: Scope, window: str) -> str:
    """5xx responses / responses of the Serve HTTP proxies per model (Ray 2.49.2 and
    2.58.0 proxy.py: `serve_num_http_requests` tagged route, method, application,
    status_code; `serve_num_http_error_requests` tagged route, error_code, method,
    application, counting 4xx and 5xx; error_code is the status). 5xx only, as vLLM's
    HTTP source: a 4xx is the client's error. The error series appears with the first
    error, so `or total * 0` records 0 before it; `num / (den > 0)`: nothing while idle."""
    total = _serve_rate(sc, "serve_num_http_requests_total", "", window)
    errors = _serve_rate(sc, "serve_num_http_error_requests_total", ', error_code=~"5.."', window)
    return divide(f"{errors} or {total} * 0", total)


def rayservice_name(key: str) -> str:
    return f"vllm-{key}"


def ray_pod_labels(key: str) -> dict[str, str]:
    """Labels our templates put on head and worker pods (KubeRay adds the ray.io/ ones)."""
    return {"app.kubernetes.io/instance": key, "app.kubernetes.io/part-of": PART_OF}


def kuberay_pod_labels(cluster: str, node_type: str, group: str) -> dict[str, str]:
    """What KubeRay v1.4.2 puts on every Ray pod before the template's own labels
    (ray-operator/controllers/ray/common/pod.go labelPod)."""
    return {
        RAY_NODE_LABEL: "yes",
        "ray.io/cluster": cluster,
        RAY_NODE_TYPE: node_type,
        "ray.io/group": group,
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
    }


def pod_templates(obj: dict[str, Any]) -> list[tuple[str, dict[str, str], set[str]]]:
    """(pod name stem, labels, named ports) of the pods KubeRay creates for a RayService.
    Template labels win, except ray.io/node-type, group and cluster (labelPod)."""
    spec = (obj.get("spec") or {}).get("rayClusterConfig") or {}
    name = str((obj.get("metadata") or {}).get("name"))
    cluster = f"{name}-raycluster"
    groups = [("head", "headgroup", spec.get("headGroupSpec") or {})]
    groups += [("worker", g.get("groupName", ""), g) for g in spec.get("workerGroupSpecs") or []]
    out = []
    for node_type, group, gspec in groups:
        tpl = gspec.get("template") or {}
        own = dict((tpl.get("metadata") or {}).get("labels") or {})
        labels = {**kuberay_pod_labels(cluster, node_type, group), **own}
        labels.update({RAY_NODE_TYPE: node_type, "ray.io/group": group, "ray.io/cluster": cluster})
        containers = (tpl.get("spec") or {}).get("containers") or []
        ports = {p.get("name") for c in containers for p in c.get("ports") or [] if p.get("name")}
        out.append((f"{cluster}-{group}", labels, ports))
    return out


def _serve_config(profile: ModelProfile) -> dict[str, Any]:
    scale = profile.autoscaling
    engine: dict[str, Any] = {
        "max_model_len": profile.max_model_len,
        "gpu_memory_utilization": profile.gpu_memory_utilization,
        "max_num_seqs": profile.max_num_seqs,
        "tensor_parallel_size": profile.gpus,
    }
    return {
        "applications": [
            {
                # The served name, so Serve's proxy counters (tag `application`) name the
                # model as vLLM's model_name does (RayServiceRuntime.error_ratios).
                "name": profile.served_name,
                "route_prefix": "/",
                "import_path": "ray.serve.llm:build_openai_app",
                "args": {
                    "llm_configs": [
                        {
                            "model_loading_config": {
                                "model_id": profile.served_name,
                                "model_source": profile.hf_id,
                            },
                            # Engine metrics through Ray's metrics agent (ray_vllm:*).
                            "log_engine_metrics": True,
                            "engine_kwargs": engine,
                            # Serve scales on ongoing requests per replica: a full batch
                            # plus the queue each replica should hold.
                            "deployment_config": {
                                "autoscaling_config": {
                                    "min_replicas": max(scale.min_replicas, 1),
                                    "max_replicas": scale.max_replicas,
                                    "target_ongoing_requests": profile.max_num_seqs
                                    + int(scale.waiting_per_replica),
                                }
                            },
                        }
                    ]
                },
            }
        ]
    }


def _env(cfg: BundleConfig) -> list[dict[str, Any]]:
    hf = cfg.secrets.hf_token
    return [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": hf.name, "key": hf.key}}},
    ]


def ray_pod_security() -> dict[str, Any]:
    """Pod Security `restricted`: the rayproject images' own user `ray` (uid 1000, group
    100, docker/Dockerfile of ray-project/ray), never root."""
    return {**non_root_pod_security(RAY_UID), "runAsGroup": RAY_GID, "fsGroup": RAY_GID}


def ray_container_security() -> dict[str, Any]:
    """Restricted, with a writable root: Ray writes its session under /tmp/ray and caches
    under the home directory, which the image does not mount elsewhere."""
    return {**restricted_container_security(), "readOnlyRootFilesystem": False}


def rayservice(cfg: BundleConfig, key: str) -> dict[str, Any]:
    profile = cfg.models[key]
    rt = cfg.runtimes.rayservice
    image = f"{rt.image}:{rt.image_tag}"
    labels = ray_pod_labels(key)
    head_res = resources(rt.head)
    worker_res = resources(rt.worker)
    for part in ("requests", "limits"):
        worker_res[part]["nvidia.com/gpu"] = profile.gpus
    metrics_port = {"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT, "protocol": "TCP"}
    scale = profile.autoscaling
    workers = max(scale.min_replicas, 1)
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": rayservice_name(key), "labels": labels},
        "spec": {
            "serveConfigV2": yaml.safe_dump(_serve_config(profile), sort_keys=False),
            "rayClusterConfig": {
                "rayVersion": rt.image_tag.split("-", 1)[0],
                # The KubeRay autoscaler adds GPU workers when Serve asks for replicas.
                "enableInTreeAutoscaling": True,
                "headGroupSpec": {
                    "rayStartParams": {
                        "num-cpus": "0",  # no replica on the CPU-only head
                        "dashboard-host": "0.0.0.0",
                        "metrics-export-port": str(METRICS_PORT),
                    },
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "securityContext": ray_pod_security(),
                            "nodeSelector": dict(rt.head_node_selector),
                            "containers": [
                                {
                                    "name": "ray-head",
                                    "image": image,
                                    "env": _env(cfg),
                                    "ports": [
                                        {"name": "gcs-server", "containerPort": 6379},
                                        {"name": "dashboard", "containerPort": 8265},
                                        {"name": "client", "containerPort": 10001},
                                        {"name": "serve", "containerPort": SERVE_PORT},
                                        metrics_port,
                                    ],
                                    "resources": head_res,
                                    "securityContext": ray_container_security(),
                                }
                            ],
                        },
                    },
                },
                "workerGroupSpecs": [
                    {
                        "groupName": WORKER_GROUP,
                        "replicas": workers,
                        "minReplicas": workers,
                        "maxReplicas": scale.max_replicas,
                        "rayStartParams": {"metrics-export-port": str(METRICS_PORT)},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "securityContext": ray_pod_security(),
                                "nodeSelector": dict(cfg.gpu.node_selector),
                                "tolerations": [
                                    t.model_dump(exclude_none=True) for t in cfg.gpu.tolerations
                                ],
                                "containers": [
                                    {
                                        "name": "ray-worker",
                                        "image": image,
                                        "env": _env(cfg),
                                        "ports": [metrics_port],
                                        "resources": worker_res,
                                        "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
                                        "securityContext": ray_container_security(),
                                    }
                                ],
                                "volumes": [
                                    {
                                        "name": "shm",
                                        "emptyDir": {
                                            "medium": "Memory",
                                            "sizeLimit": cfg.vllm.shm_size,
                                        },
                                    }
                                ],
                            },
                        },
                    }
                ],
            },
        },
    }


def pod_monitor(cfg: BundleConfig) -> dict[str, Any]:
    namespaces = sorted(
        {cfg.model_namespace(k) for k, m in cfg.models.items() if m.runtime == "rayservice"}
    )
    return kube_pod_monitor(
        cfg,
        POD_MONITOR,
        namespaces,
        {"matchLabels": {"app.kubernetes.io/part-of": PART_OF, RAY_NODE_LABEL: "yes"}},
        {
            "port": METRICS_PORT_NAME,
            "path": "/metrics",
            "interval": cfg.prometheus.scrape_interval,
            "relabelings": [
                node_relabeling(),
                {
                    "sourceLabels": ["__meta_kubernetes_pod_label_ray_io_node_type"],
                    "targetLabel": "ray_node_type",
                    "action": "replace",
                },
            ],
            "metricRelabelings": [
                {"sourceLabels": ["__name__"], "regex": KEEP_SERIES, "action": "keep"}
            ],
        },
    )


def operator_application(cfg: BundleConfig) -> dict[str, Any]:
    rt = cfg.runtimes.rayservice
    return argocd_application(
        cfg,
        OPERATOR_APP,
        namespace=rt.operator_namespace,
        # Before the RayServices (wave 1) that need its CRDs.
        wave=-1,
        source=helm_source(rt.chart, OPERATOR_APP),
        # argocd_application applies server-side: the RayCluster/RayService CRDs exceed
        # client-side apply's last-applied annotation.
        sync_options=("CreateNamespace=true",),
    )


class RayServiceRuntime(Runtime):
    name = "rayservice"
    pod_kinds: ClassVar[dict[str, Any]] = {"RayService": pod_templates}
    sim_mode = SIM_RAY
    vllm_version = CURRENT.vllm
    uses_vllm_deployment = False

    def catalogs(self) -> list[Catalog]:
        return [runtime_catalog(g.catalog_file) for g in GENERATIONS]

    def sim_exporter(self, cfg: BundleConfig) -> str:
        """The Ray release of the configured image: the simulator exports its naming."""
        return generation_of(cfg.runtimes.rayservice.image_tag).ray

    def sim_vllm_version(self, exporter: str) -> str | None:
        return generation_of(exporter).vllm if exporter else self.vllm_version

    def engine_jobs(self, cfg: BundleConfig) -> tuple[str, ...]:
        return (f"{cfg.namespaces.monitoring}/{POD_MONITOR}",)

    def monitors(self, cfg: BundleConfig) -> dict[str, dict[str, Any]]:
        return {f"{POD_MONITOR}.yaml": pod_monitor(cfg)}

    def workload_path(self, key: str) -> str:
        return f"deploy/rayservice/{key}"

    def workload(self, cfg: BundleConfig, key: str) -> dict[str, Any]:
        return self.kustomized(cfg, key, {"rayservice.yaml": rayservice(cfg, key)})

    def applications(self, cfg: BundleConfig) -> list[dict[str, Any]]:
        return [operator_application(cfg)] if cfg.runtimes.rayservice.install_operator else []

    def mapping_rules(self, cfg: BundleConfig, sc: Scope) -> list[dict[str, Any]]:
        fams = forwarded_families(lambda n: bool(ray_sources(n)), lambda n: n)
        return rename_rules(fams, ray_sources)

    def error_ratios(self, cfg: BundleConfig, sc: Scope, window: str) -> dict[str, str]:
        """5xx share of the Serve HTTP proxies' responses per model: vLLM's own HTTP
        metrics do not exist behind Serve, and vLLM 0.10.1 records no error reason."""
        return {"ray_serve": serve_error_ratio(sc, window)}

    def drift_fix(self, cfg: BundleConfig, key: str) -> str:
        tag = cfg.runtimes.rayservice.image_tag
        return (
            f"the Ray workers of {key} export no vLLM families the mapping reads (it reads "
            "ray_vllm_<name> from Ray >= 2.50 with vLLM >= 0.11, ray_vllm:<name> from Ray "
            "<= 2.49 with vLLM 0.10): Ray >= 2.50 with vLLM < 0.11 exports none at all; "
            f"run the pinned image (runtimes.rayservice.image_tag {tag}) or set it to the "
            "image the RayService runs and re-render"
        )

    def rbac_rules(self) -> list[tuple[str, list[str], list[str]]]:
        return [("ray.io", ["rayservices"], ["get"])]

    def demo_target(self, replica: dict[str, Any]) -> DemoTarget:
        """A worker pod of the model's RayCluster (`<cluster>-gpu-group-worker-<id>`)."""
        cluster = replica["pod"].split("-gpu-group-", 1)[0]
        labels = {
            **kuberay_pod_labels(cluster, "worker", "gpu-group"),
            **ray_pod_labels(replica["model_key"]),
        }
        return DemoTarget(labels, METRICS_PORT_NAME, "ray-worker")

    panel_row = "Ray Serve"

    def panels(self, s: PanelScope) -> list[RuntimePanel]:
        """Serve's own HTTP proxy and replica health (vLLM's HTTP metrics do not exist
        behind Serve)."""
        sel = s.matchers("namespace")
        return [
            RuntimePanel(
                "Ray Serve HTTP requests/s by status",
                "Requests per second the Serve HTTP proxies answered, by status code "
                "(RayService models; vLLM's own HTTP metrics do not exist there)",
                "reqps",
                (
                    (
                        f"sum by ({s.by('namespace', 'status_code')}) "
                        f"(rate(ray_serve_num_http_requests_total{{{sel}}}[{s.rate}]))",
                        "{{namespace}} {{status_code}}",
                    ),
                ),
                stack=True,
            ),
            RuntimePanel(
                "Ray Serve HTTP errors/s",
                "Errored responses per second of the Serve HTTP proxies, by error code",
                "reqps",
                (
                    (
                        f"sum by ({s.by('namespace', 'error_code')}) "
                        f"(rate(ray_serve_num_http_error_requests_total{{{sel}}}[{s.rate}]))",
                        "{{namespace}} {{error_code}}",
                    ),
                ),
            ),
            RuntimePanel(
                "Ray Serve replicas healthy",
                "Healthy Serve replicas per deployment (the controller's health checks); "
                "fewer than running means replicas failing checks",
                "none",
                (
                    (
                        f"sum by ({s.by('namespace', 'deployment')}) "
                        f"(ray_serve_deployment_replica_healthy{{{sel}}})",
                        "{{namespace}} {{deployment}}",
                    ),
                    (
                        f"sum by ({s.by('namespace')}) "
                        f"(ray_serve_replica_processing_queries{{{sel}}})",
                        "{{namespace}} queries in replicas",
                    ),
                ),
                red_below=1,
            ),
        ]
