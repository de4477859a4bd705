"""vLLM layer: the reference Deployment is available; /health and /v1/models answer."""

from __future__ import annotations

from typing import Any

from observability.promapi import PromError
from observability.verify.context import VerifyContext
from observability.verify.model import Check, CheckFailed, Outcome

__all__ = ["CHECKS", "vllm_labels", "vllm_pods"]


def vllm_labels(model_key: str | None = None) -> dict[str, str]:
    sel = {"app.kubernetes.io/name": "vllm"}
    if model_key:
        sel["app.kubernetes.io/instance"] = model_key
    return sel


def vllm_pods(ctx: VerifyContext) -> list[dict[str, Any]]:
    """Running vLLM pods in the vLLM namespace (shared with the scrape checks)."""
    pods = ctx.once("k.vllmpods", lambda: ctx.need_cluster().pods(ctx.ns.vllm, vllm_labels()))
    return [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]


def _deployment(ctx: VerifyContext) -> Outcome:
    cl = ctx.need_cluster()
    ns = ctx.ns.vllm
    ok: list[str] = []
    bad: list[str] = []
    fixes: list[str] = []
    from observability import runtimes

    for key, _ in ctx.cfg.deployed_models:
        if not runtimes.runtime_of(ctx.cfg, key).uses_vllm_deployment:
            continue  # a RayService: runtime.rayservice checks it
        deps = cl.deployments(ns, vllm_labels(key))
        if not deps:
            bad.append(f"no Deployment for model {key} in {ns}")
            fixes.append("sync the vllm Application (argocd app sync vllm)")
            continue
        for d in deps:
            name = d["metadata"]["name"]
            want = (d.get("spec") or {}).get("replicas", 1)
            st = d.get("status") or {}
            avail = st.get("availableReplicas", 0) or 0
            if avail < want:
                why = "; ".join(
                    c.get("message", "")
                    for c in st.get("conditions") or []
                    if c.get("status") == "False"
                )
                bad.append(f"{ns}/{name} {avail}/{want} available" + (f" ({why})" if why else ""))
                fixes.append(
                    f"kubectl -n {ns} describe pods -l app.kubernetes.io/instance={key}: "
                    "Pending = no free GPU or missing toleration; CrashLoop = model download "
                    f"({ctx.cfg.secrets.hf_token.name} Secret) or GPU memory"
                )
            else:
                ok.append(f"{name} {avail}/{want}")
    if bad:
        return Outcome.fail("; ".join(bad), "; ".join(dict.fromkeys(fixes)))
    return Outcome.ok("available: " + ", ".join(ok))


def _unreachable(ctx: VerifyContext, svc: str, evidence: str) -> Outcome:
    # The bundle's NetworkPolicy admits only the gateway and monitoring namespaces; the API
    # server's proxy connects from the control plane, which many CNIs then drop. Not
    # reaching vLLM this way does not mean vLLM is down (scrape.targets proves reachability
    # from the monitoring namespace), so this is a WARN, not a FAIL.
    return Outcome.warn(
        f"{evidence} (through the API server proxy)",
        f"if scrape.targets passes, the vllm NetworkPolicy (ingress only from namespaces "
        f"{ctx.ns.gateway} and {ctx.ns.monitoring}) blocks the API server: allow the "
        f"control-plane CIDR on port http, or `kubectl -n {ctx.ns.vllm} port-forward "
        f"svc/{svc} 8000` and curl /health; --skip vllm.api silences this",
    )


def _api(ctx: VerifyContext) -> Outcome:
    cl = ctx.need_cluster()
    ns = ctx.ns.vllm
    ok: list[str] = []
    for key, model in ctx.cfg.deployed_models:
        svc = f"vllm-{key}"
        ep = cl.proxy(ns, svc, "http")
        try:
            health = ep.get("/health", timeout=ctx.opts.http_timeout)
        except PromError as err:
            return _unreachable(ctx, svc, err.evidence)
        if health.status in (502, 503) and b'"kind":"Status"' in health.body.replace(b" ", b""):
            return _unreachable(ctx, svc, f"{health.where}: {health.text()[:160]}")
        if health.status != 200:
            raise CheckFailed(
                f"{health.where} answered HTTP {health.status}",
                f"the engine is unhealthy: kubectl -n {ns} logs deploy/{svc}",
            )
        models = ep.get("/v1/models", timeout=ctx.opts.http_timeout)
        if models.status != 200:
            raise CheckFailed(
                f"{models.where} answered HTTP {models.status}: {models.text()[:120]}",
                "the OpenAI server did not start: check the pod logs",
            )
        ids = [m.get("id") for m in (models.json() or {}).get("data") or []]
        if model.served_name not in ids:
            return Outcome.fail(
                f"{svc} serves {ids}, bundle.yaml expects {model.served_name!r}",
                f"set --served-model-name {model.served_name} (models.{key}.served_name) or "
                "fix bundle.yaml; dashboards and alerts filter on model_name",
            )
        ok.append(f"{svc}: {model.served_name}")
    return Outcome.ok("/health ok and /v1/models lists " + "; ".join(ok))


CHECKS = [
    Check("vllm.deployment", "vllm", "vLLM Deployment available", _deployment),
    Check("vllm.api", "vllm", "vLLM /health and /v1/models", _api, ("vllm.deployment",)),
]
