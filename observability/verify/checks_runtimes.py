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

from typing import Any

from observability.autoscaling.keda import hpa_name, scalable_models, scaled_object_name
from observability.runtimes.aibrix import component_jobs
from observability.runtimes.rayservice import rayservice_name
from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS"]


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def _models(ctx: VerifyContext, runtime: str) -> list[str]:
    return [k for k, m in ctx.cfg.deployed_models if m.runtime == runtime]


def _rayservice(ctx: VerifyContext) -> Outcome:
    keys = _models(ctx, "rayservice")
    if not keys:
        return Outcome.skip("no deployed model uses runtime rayservice")
    cl = ctx.need_cluster()
    ok: list[str] = []
    bad: list[str] = []
    fixes: list[str] = []
    for key in keys:
        ns, name = ctx.cfg.model_namespace(key), rayservice_name(key)
        rs = cl.custom("ray.io", "v1", ns, "rayservices", name)
        if rs is None:
            bad.append(f"RayService {ns}/{name} does not exist")
            fixes.append(
                f"sync the Application vllm-{key}; the kuberay-operator Application must be "
                "Healthy first (its CRDs)"
            )
            continue
        ready = _condition(rs, "Ready")
        status = (rs.get("status") or {}).get("serviceStatus")
        if (ready and ready.get("status") == "True") or (ready is None and status == "Running"):
            ok.append(f"{ns}/{name}")
            continue
        why = (ready or {}).get("message") or (ready or {}).get("reason") or status or "no status"
        bad.append(f"RayService {ns}/{name} not ready ({why})")
        fixes.append(
            f"kubectl -n {ns} describe rayservice {name}; kubectl -n {ns} get pods -l "
            f"ray.io/is-ray-node=yes: Pending workers = no free GPU or missing toleration; "
            "a failing Serve app shows in the head's logs (model download, HF token)"
        )
    if bad:
        return Outcome.fail("; ".join(bad), "; ".join(dict.fromkeys(fixes)))
    return Outcome.ok("ready: " + ", ".join(ok))


def _keda(ctx: VerifyContext) -> Outcome:
    keys = scalable_models(ctx.cfg)
    if not keys:
        return Outcome.skip("autoscaling.keda.enabled is false (or no Deployment-served model)")
    cl = ctx.need_cluster()
    ok: list[str] = []
    bad: list[str] = []
    fixes: list[str] = []
    for key in keys:
        ns, name = ctx.cfg.model_namespace(key), scaled_object_name(key)
        so = cl.custom("keda.sh", "v1alpha1", ns, "scaledobjects", name)
        if so is None:
            bad.append(f"ScaledObject {ns}/{name} does not exist")
            fixes.append(
                f"sync the Application vllm-{key}; the keda Application must be Healthy "
                "first (its CRDs)"
            )
            continue
        ready = _condition(so, "Ready")
        if not ready or ready.get("status") != "True":
            why = (ready or {}).get("message") or "no Ready condition yet"
            bad.append(f"ScaledObject {ns}/{name} not ready ({why})")
            fixes.append(
                f"kubectl -n {ns} describe scaledobject {name}: a Prometheus scaler error "
                "names the server address or the query; check the keda-operator logs"
            )
            continue
        hpa = cl.hpa(ns, hpa_name(key))
        if hpa is None:
            bad.append(f"ScaledObject {ns}/{name} is Ready but HPA {ns}/{hpa_name(key)} is missing")
            fixes.append("KEDA creates the HPA: check the keda-operator logs and its RBAC")
            continue
        st = hpa.get("status") or {}
        ok.append(
            f"{ns}/{name} (HPA {st.get('currentReplicas', '?')} current, "
            f"{st.get('desiredReplicas', '?')} desired)"
        )
    if bad:
        return Outcome.fail("; ".join(bad), "; ".join(dict.fromkeys(fixes)))
    return Outcome.ok("ready: " + ", ".join(ok))


def _aibrix(ctx: VerifyContext) -> Outcome:
    if "aibrix" not in ctx.cfg.runtimes_in_use:
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
    return lambda cfg: any(m.runtime == runtime for _k, m in cfg.deployed_models)


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
        applies=lambda cfg: "aibrix" in cfg.runtimes_in_use,
    ),
    Check(
        "autoscaling.keda",
        "vllm",
        "KEDA ScaledObjects ready, HPAs present",
        _keda,
        applies=lambda cfg: bool(scalable_models(cfg)),
    ),
]
