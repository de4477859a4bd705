"""Runtime and autoscaling layer: what a RayService, AIBrix or KEDA adds to the data path.

- runtime.rayservice: every deployed `rayservice` model's RayService exists and is Ready
  (KubeRay v1.4 `Ready` condition, or `serviceStatus: Running` of older operators). Its
  PodMonitor's targets (head and workers on 8080) are judged by scrape.targets with the
  other monitors.
- autoscaling.keda: every ScaledObject the bundle renders exists and is Ready, and KEDA
  created its HPA (`keda-hpa-<name>`); the evidence shows current/desired replicas.
- runtime.aibrix: Prometheus scrapes the AIBrix gateway plugins and controller manager,
  and the gateway has routed requests to each deployed `aibrix` model (local too).
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
from observability.runtimes.rayservice import OPERATOR_APP, rayservice_name
from observability.verify.context import VerifyContext
from observability.verify.k8s import Cluster
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS"]


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
    return _each_resource(
        ctx,
        keys,
        ("RayService", "ray.io", "v1", "rayservices"),
        rayservice_name,
        OPERATOR_APP,
        _rayservice_ready,
    )


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
        ctx,
        keys,
        ("ScaledObject", "keda.sh", "v1alpha1", "scaledobjects"),
        scaled_object_name,
        KEDA_APP,
        _scaled_object_ready,
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
        "autoscaling.keda",
        "vllm",
        "KEDA ScaledObjects ready, HPAs present",
        _keda,
        applies=lambda cfg: bool(scalable_models(cfg)),
    ),
]
