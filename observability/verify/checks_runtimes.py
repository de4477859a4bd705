"""Runtime and autoscaling layer: what a RayService, AIBrix or KEDA adds to the data path.

- runtime.rayservice: every deployed `rayservice` model's RayService exists and is Ready
  (KubeRay v1.4 `Ready` condition, or `serviceStatus: Running` of older operators). Its
  PodMonitor's targets (head and workers on 8080) are judged by scrape.targets with the
  other monitors.
- autoscaling.keda: every ScaledObject the bundle renders exists and is Ready, and KEDA
  created its HPA (`keda-hpa-<name>`); the evidence shows current/desired replicas.
- runtime.aibrix: Prometheus scrapes the AIBrix gateway plugins and controller manager,
  and the gateway has routed requests to each deployed `aibrix` model (local too).
- runtime.kserve: every deployed `kserve` model's LLMInferenceService (or InferenceService)
  exists and is Ready (KServe v0.20.0 conditions; the first failing one is quoted), and
  exactly one monitor scrapes its engine's names: KServe's own `-default` PodMonitor
  (ODH) beside the bundle's `kserve-vllm` counts every series twice; with
  `controller_monitors: true` and no KServe monitor nothing scrapes it at all.
- runtime.lws: every deployed `lws` model's LeaderWorkerSet exists and each of its groups
  is whole: `nodes` pods (the leader and its workers), every one Ready; a worker that is
  not names its group, its pod and why (LWS v0.10.0 labels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from observability.autoscaling.keda import (
    HPA_PREFIX,
    KEDA_APP,
    scalable_models,
    scaled_object_name,
)
from observability.render.argocd import vllm_app_name
from observability.runtimes.aibrix import component_jobs
from observability.runtimes.kserve import (
    CONTROLLER_MONITOR,
    CONTROLLER_MONITOR_DEFAULT,
    PER_SERVICE_MONITOR,
    PER_SERVICE_MONITOR_DEFAULT,
    POD_MONITOR,
)
from observability.runtimes.lws import (
    CONTROLLER_APP as LWS_APP,
)
from observability.runtimes.lws import (
    GROUP_INDEX,
    LEADER_INDEX,
    SET_NAME,
    WORKER_INDEX,
    lws_name,
)
from observability.runtimes.rayservice import OPERATOR_APP, rayservice_name
from observability.verify.context import VerifyContext
from observability.verify.k8s import Cluster
from observability.verify.model import Check, Outcome, Status

__all__ = ["CHECKS"]


# (kind, group, version, plural) of the custom resources the runtimes' checks read
_RAYSERVICE = ("RayService", "ray.io", "v1", "rayservices")
_SCALED_OBJECT = ("ScaledObject", "keda.sh", "v1alpha1", "scaledobjects")
_LEADER_WORKER_SET = ("LeaderWorkerSet", "leaderworkerset.x-k8s.io", "v1", "leaderworkersets")


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def _models(ctx: VerifyContext, runtime: str) -> list[str]:
    return [k for k, m in ctx.cfg.deployed_models if m.runtime == runtime]


def _each_resource(
    ctx: VerifyContext,
    keys: list[str],
    resource: tuple[str, str, str, str],
    name_of: Callable[[str], str],
    operator_app: str,
    judge: Callable[[Cluster, str, str, dict[str, Any]], tuple[str, str | None]],
) -> Outcome:
    """One custom resource per model key, fetched and judged: ok when every one exists and
    `judge(cluster, namespace, name, object)` returns (evidence, None); otherwise it
    returns (problem, fix). `resource` is (kind, group, version, plural)."""
    kind, group, version, plural = resource
    cl = ctx.need_cluster()
    ok: list[str] = []
    bad: list[str] = []
    fixes: list[str] = []
    for key in keys:
        ns, name = ctx.cfg.model_namespace(key), name_of(key)
        obj = cl.custom(group, version, ns, plural, name)
        if obj is None:
            bad.append(f"{kind} {ns}/{name} does not exist")
            fixes.append(
                f"sync the Application {vllm_app_name(key)}; the {operator_app} Application must be "
                "Healthy first (its CRDs)"
            )
            continue
        text, fix = judge(cl, ns, name, obj)
        if fix is None:
            ok.append(text)
        else:
            bad.append(text)
            fixes.append(fix)
    if bad:
        return Outcome.fail("; ".join(bad), "; ".join(dict.fromkeys(fixes)))
    return Outcome.ok("ready: " + ", ".join(ok))


def _rayservice_ready(
    _cl: Cluster, ns: str, name: str, rs: dict[str, Any]
) -> tuple[str, str | None]:
    ready = _condition(rs, "Ready")
    status = (rs.get("status") or {}).get("serviceStatus")
    if (ready and ready.get("status") == "True") or (ready is None and status == "Running"):
        return f"{ns}/{name}", None
    why = (ready or {}).get("message") or (ready or {}).get("reason") or status or "no status"
    return f"RayService {ns}/{name} not ready ({why})", (
        f"kubectl -n {ns} describe rayservice {name}; kubectl -n {ns} get pods -l "
        f"ray.io/is-ray-node=yes: Pending workers = no free GPU or missing toleration; "
        "a failing Serve app shows in the head's logs (model download, HF token)"
    )


def _rayservice(ctx: VerifyContext) -> Outcome:
    keys = _models(ctx, "rayservice")
    if not keys:
        return Outcome.skip("no deployed model uses runtime rayservice")
    return _each_resource(ctx, keys, _RAYSERVICE, rayservice_name, OPERATOR_APP, _rayservice_ready)


def _scaled_object_ready(
    cl: Cluster, ns: str, name: str, so: dict[str, Any]
) -> tuple[str, str | None]:
    ready = _condition(so, "Ready")
    if not ready or ready.get("status") != "True":
        why = (ready or {}).get("message") or "no Ready condition yet"
        return f"ScaledObject {ns}/{name} not ready ({why})", (
            f"kubectl -n {ns} describe scaledobject {name}: a Prometheus scaler error "
            "names the server address or the query; check the keda-operator logs"
        )
    hpa = cl.hpa(ns, HPA_PREFIX + name)
    if hpa is None:
        return (
            f"ScaledObject {ns}/{name} is Ready but HPA {ns}/{HPA_PREFIX + name} is missing",
            "KEDA creates the HPA: check the keda-operator logs and its RBAC",
        )
    st = hpa.get("status") or {}
    return (
        f"{ns}/{name} (HPA {st.get('currentReplicas', '?')} current, "
        f"{st.get('desiredReplicas', '?')} desired)"
    ), None


def _keda(ctx: VerifyContext) -> Outcome:
    keys = scalable_models(ctx.cfg)
    if not keys:
        return Outcome.skip("autoscaling.keda.enabled is false (or no Deployment-served model)")
    return _each_resource(
        ctx, keys, _SCALED_OBJECT, scaled_object_name, KEDA_APP, _scaled_object_ready
    )


def _aibrix(ctx: VerifyContext) -> Outcome:
    if not _registered("aibrix")(ctx.cfg):
        return Outcome.skip("no model uses runtime aibrix")
    prom = ctx.prometheus()
    problems: list[str] = []
    fixes: list[str] = []
    for component, job in component_jobs().items():
        up = prom.query(f'up{{job="{job}"}}')
        if not up:
            problems.append(f"no {component} target (job {job})")
            fixes.append(
                f"AIBrix is not installed in {ctx.cfg.runtimes.aibrix.system_namespace} or the "
                f"aibrix-{component} ServiceMonitor is not selected (see scrape.selected)"
            )
        elif not any(r["value"][1] == "1" for r in up):
            problems.append(f"{component} target down (job {job})")
            fixes.append(f"kubectl -n {ctx.cfg.runtimes.aibrix.system_namespace} get pods")
    if problems:
        return Outcome.fail("; ".join(problems), "; ".join(dict.fromkeys(fixes)))
    silent = [
        ctx.cfg.models[k].served_name
        for k in _models(ctx, "aibrix")
        if not prom.query(
            f'gateway_request_model_success_total{{model="{ctx.cfg.models[k].served_name}"}}'
        )
    ]
    if silent:
        return Outcome.warn(
            f"the gateway is scraped but has routed no request to {', '.join(silent)}",
            "send a request through the AIBrix gateway; if it fails, check that the Service "
            "named after the model exists and the model.aibrix.ai/name label matches",
        )
    return Outcome.ok("gateway plugins and controller manager scraped; gateway routes every model")


# KServe v0.20.0: an LLMInferenceService's conditions besides Ready (llmisvc
# lifecycle: PresetsCombined, MainWorkloadReady, WorkerWorkloadReady, RouterReady,
# SchedulerWorkloadReady, HTTPRoutesReady, InferencePoolReady); an InferenceService's
# (PredictorReady, IngressReady). The first one not True says why Ready is not.
_KSERVE_API = {
    "llm-inference-service": ("LLMInferenceService", "v1alpha2", "llminferenceservices"),
    "inference-service": ("InferenceService", "v1beta1", "inferenceservices"),
}


def _not_true(obj: dict[str, Any]) -> str:
    """`Type: reason: message` of the failing conditions, Ready last."""
    bad = [
        c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("status") != "True"
    ]
    bad.sort(key=lambda c: c.get("type") == "Ready")
    return "; ".join(
        ": ".join(str(x) for x in (c.get("type"), c.get("reason"), c.get("message")) if x)
        for c in bad
    )


def _kserve_ready(kind: str) -> Any:
    def judge(_cl: Cluster, ns: str, name: str, obj: dict[str, Any]) -> tuple[str, str | None]:
        ready = _condition(obj, "Ready")
        if ready and ready.get("status") == "True":
            return f"{ns}/{name}", None
        why = _not_true(obj) or "no Ready condition yet"
        return f"{kind} {ns}/{name} not ready ({why})", (
            f"kubectl -n {ns} describe {kind.lower()} {name}; kubectl -n {ns} get pods -l "
            f"app.kubernetes.io/name={name}: Pending = no free GPU or a missing toleration, "
            "a crash = the model download (HF token, storage URI) in the main container's log"
        )

    return judge


def _kserve_monitors(ctx: VerifyContext, cl: Cluster, keys: list[str]) -> tuple[str, str] | None:
    """(problem, fix) when the engine is scraped twice or not at all, else None."""
    cfg = ctx.cfg
    if cfg.runtimes.kserve.api != "llm-inference-service":
        return None  # KServe creates no monitor for an InferenceService
    for ns in sorted({cfg.model_namespace(k) for k in keys}):
        here = [k for k in keys if cfg.model_namespace(k) == ns]

        def found(names: list[str], ns: str = ns) -> list[str]:
            return [
                n
                for n in names
                if cl.custom("monitoring.coreos.com", "v1", ns, "podmonitors", n) is not None
            ]

        # the namespace-wide pair (odh-v3.5) and a newer build's per-service pairs
        default = found(
            [CONTROLLER_MONITOR_DEFAULT, *(k + PER_SERVICE_MONITOR_DEFAULT for k in here)]
        )
        renamed = found([CONTROLLER_MONITOR, *(k + PER_SERVICE_MONITOR for k in here)])
        if not cfg.runtimes.kserve.controller_monitors and default:
            return (
                f"KServe's PodMonitor {ns}/{default[0]} scrapes vLLM's names "
                f"beside the bundle's {POD_MONITOR}: every engine series is counted twice",
                "set runtimes.kserve.controller_monitors: true and run `obsctl render` (the "
                "bundle then renders no engine monitor), or set LLMISVC_MONITORING_DISABLED="
                "true on the KServe controller",
            )
        if cfg.runtimes.kserve.controller_monitors and not (default or renamed):
            return (
                f"no engine monitor scrapes namespace {ns}: runtimes.kserve.controller_monitors"
                f" is true, so the bundle renders none, and KServe created neither "
                f"{CONTROLLER_MONITOR_DEFAULT} nor {CONTROLLER_MONITOR}",
                "upstream KServe (or LLMISVC_MONITORING_DISABLED=true) creates no monitor: set "
                "runtimes.kserve.controller_monitors: false and run `obsctl render`",
            )
    return None


def _kserve(ctx: VerifyContext) -> Outcome:
    keys = _models(ctx, "kserve")
    if not keys:
        return Outcome.skip("no deployed model uses runtime kserve")
    kind, version, plural = _KSERVE_API[ctx.cfg.runtimes.kserve.api]
    out = _each_resource(
        ctx,
        keys,
        (kind, "serving.kserve.io", version, plural),
        lambda key: key,
        "KServe",
        _kserve_ready(kind),
    )
    twice = _kserve_monitors(ctx, ctx.need_cluster(), keys)
    if twice is None:
        return out
    if out.status == Status.FAIL:
        return Outcome.fail(f"{out.evidence}; {twice[0]}", f"{out.fix}; {twice[1]}")
    return Outcome.fail(*twice)


def _pod_ready(pod: dict[str, Any]) -> tuple[bool, str]:
    """(ready, why not): the Ready condition, else the phase and a waiting reason."""
    st = pod.get("status") or {}
    ready = _condition(pod, "Ready")
    if ready and ready.get("status") == "True":
        return True, ""
    waiting = [
        (c.get("state") or {}).get("waiting", {}).get("reason")
        for c in st.get("containerStatuses") or []
    ]
    reasons = [w for w in waiting if w] or [
        c.get("reason") for c in st.get("conditions") or [] if c.get("status") != "True"
    ]
    return False, ", ".join([st.get("phase") or "?", *(r for r in reasons if r)])


def _lws_groups(cl: Cluster, ns: str, name: str, lws: dict[str, Any]) -> tuple[str, str | None]:
    spec = lws.get("spec") or {}
    groups = int(spec.get("replicas", 1))
    size = int((spec.get("leaderWorkerTemplate") or {}).get("size", 1))
    by_group: dict[str, list[dict[str, Any]]] = {}
    for pod in cl.pods(ns, {SET_NAME: name}):
        labels = (pod.get("metadata") or {}).get("labels") or {}
        by_group.setdefault(labels.get(GROUP_INDEX, "?"), []).append(pod)
    problems = []
    for g in range(groups):
        pods = by_group.get(str(g), [])
        if len(pods) < size:
            problems.append(f"group {g} has {len(pods)} of {size} pods")
        for pod in pods:
            ok, why = _pod_ready(pod)
            if not ok:
                meta = pod.get("metadata") or {}
                role = (
                    "leader"
                    if (meta.get("labels") or {}).get(WORKER_INDEX) == LEADER_INDEX
                    else "worker"
                )
                problems.append(f"group {g}: {role} {meta.get('name')} not ready ({why})")
    if problems:
        return f"LeaderWorkerSet {ns}/{name}: " + "; ".join(problems), (
            f"kubectl -n {ns} get pods -l {SET_NAME}={name} -L {GROUP_INDEX},{WORKER_INDEX}: "
            "a group serves only with every pod ready (a Pending worker = no free GPU or a "
            "missing toleration; a crashing worker cannot reach the leader's Ray head on "
            "6379, see the NetworkPolicy); the controller recreates the whole group "
            "(RecreateGroupOnPodRestart)"
        )
    return f"{ns}/{name} ({groups} group(s) of {size} pods ready)", None


def _lws(ctx: VerifyContext) -> Outcome:
    keys = _models(ctx, "lws")
    if not keys:
        return Outcome.skip("no deployed model uses runtime lws")
    return _each_resource(ctx, keys, _LEADER_WORKER_SET, lws_name, LWS_APP, _lws_groups)


def _uses(runtime: str) -> Any:
    """The check of `runtime`'s own objects applies when a deployed model runs on it."""
    return lambda cfg: any(m.runtime == runtime for _k, m in cfg.deployed_models)


def _registered(runtime: str) -> Any:
    """... or when any registered model does (its control plane is scraped then)."""
    return lambda cfg: runtime in cfg.runtimes_in_use


CHECKS = [
    Check(
        "runtime.rayservice",
        "vllm",
        "RayService ready",
        _rayservice,
        applies=_uses("rayservice"),
    ),
    Check(
        "runtime.aibrix",
        "scrape",
        "AIBrix gateway and controller scraped",
        _aibrix,
        local=True,
        applies=_registered("aibrix"),
    ),
    Check(
        "runtime.kserve",
        "vllm",
        "KServe services ready, engine scraped once",
        _kserve,
        applies=_uses("kserve"),
    ),
    Check(
        "runtime.lws",
        "vllm",
        "LeaderWorkerSet groups whole and ready",
        _lws,
        applies=_uses("lws"),
    ),
    Check(
        "autoscaling.keda",
        "vllm",
        "KEDA ScaledObjects ready, HPAs present",
        _keda,
        applies=lambda cfg: bool(scalable_models(cfg)),
    ),
]
