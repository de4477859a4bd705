"""The inference router layer (gateway.inference_pool.enabled):

- router.inferencepool: the InferencePool (`inference.networking.k8s.io/v1`) exists and
  every Gateway that references it reports `Accepted` and `ResolvedRefs` True in
  `status.parents[].conditions` (gateway-api-inference-extension v1.6.0 CRD). Without a
  parent the pool serves no traffic: FAIL, naming what to create.
- router.epp_scrape: Prometheus scrapes the endpoint picker (job `inference-pool-epp`) and
  is authorised: a target whose last scrape failed with 401/403 is FAIL with the token fix
  (the EPP's /metrics needs a bearer token), one down for another reason FAIL with the pod
  fix; no target at all FAIL (the monitor selects no Service). Local too.
"""

from __future__ import annotations

from typing import Any

from observability.metrics.router import EPP_JOB
from observability.render.router import MONITOR
from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS", "CONDITIONS", "POOL_API"]

POOL_API = ("inference.networking.k8s.io", "v1", "inferencepools")
CONDITIONS = ("Accepted", "ResolvedRefs")


def _parent_name(parent: dict[str, Any]) -> str:
    ref = parent.get("parentRef") or {}
    ns = ref.get("namespace")
    return f"{ref.get('kind', 'Gateway')} {ns + '/' if ns else ''}{ref.get('name', '?')}"


def _inferencepool(ctx: VerifyContext) -> Outcome:
    cfg = ctx.cfg
    ns, name = cfg.pool_namespace, cfg.pool.name
    group, version, plural = POOL_API
    pool = ctx.need_cluster().custom(group, version, ns, plural, name)
    if pool is None:
        return Outcome.fail(
            f"InferencePool {ns}/{name} does not exist",
            "install the router (llm-d-router's chart with this release name, or your own "
            "InferencePool) or set gateway.inference_pool.name/namespace to the pool you run",
        )
    parents = (pool.get("status") or {}).get("parents") or []
    if not parents:
        return Outcome.fail(
            f"InferencePool {ns}/{name} has no status.parents: no Gateway routes to it",
            f"create an HTTPRoute with a backendRef to InferencePool {name} on a Gateway "
            "whose controller supports the Inference Extension; kubectl -n "
            f"{ns} describe inferencepool {name}",
        )
    bad: list[str] = []
    for parent in parents:
        conds = {c.get("type"): c for c in parent.get("conditions") or []}
        for kind in CONDITIONS:
            c = conds.get(kind)
            if c is None or c.get("status") != "True":
                why = (c or {}).get("reason") or "missing"
                msg = (c or {}).get("message") or ""
                bad.append(f"{_parent_name(parent)}: {kind} {why}{': ' + msg if msg else ''}")
    if bad:
        return Outcome.fail(
            f"InferencePool {ns}/{name} " + "; ".join(bad),
            f"kubectl -n {ns} describe inferencepool {name}: ResolvedRefs False = the "
            "endpointPickerRef Service (the EPP) or its port does not exist; Accepted False "
            "= the Gateway's controller does not support InferencePool backends",
        )
    names = ", ".join(_parent_name(p) for p in parents)
    return Outcome.ok(f"InferencePool {ns}/{name} accepted, refs resolved by {names}")


def _epp_scrape(ctx: VerifyContext) -> Outcome:
    cfg = ctx.cfg
    targets = [
        t for t in ctx.prometheus().targets() if (t.get("labels") or {}).get("job") == EPP_JOB
    ]
    if not targets:
        return Outcome.fail(
            f"no endpoint picker target (job {EPP_JOB})",
            f"the ServiceMonitor {MONITOR} selects Services labelled app.kubernetes.io/name="
            f"{cfg.epp_service} in {cfg.epp_namespace}, port {cfg.pool.epp.port_name}: check "
            "the EPP's Service and gateway.inference_pool.epp",
        )
    up = [t for t in targets if t.get("health") == "up"]
    if up:
        return Outcome.ok(f"{len(up)}/{len(targets)} endpoint picker target(s) up and authorised")
    errors = [str(t.get("lastError") or "") for t in targets]
    refused = [e for e in errors if "401" in e or "403" in e]
    if refused:
        auth = cfg.pool.auth
        return Outcome.fail(
            f"the endpoint picker refuses the scrape: {refused[0]}",
            "the EPP checks the bearer token (TokenReview + SubjectAccessReview for get "
            f"/metrics): auth.source is {auth.source}; check Secret "
            f"{cfg.namespaces.monitoring}/{auth.secret.name} key {auth.secret.key} holds a "
            "token whose identity may get /metrics (ClusterRole of "
            "servicemonitors/epp-metrics-reader.yaml), or set auth.source none if the EPP "
            "runs without auth",
        )
    return Outcome.fail(
        f"endpoint picker target(s) down: {errors[0] or 'no error reported'}",
        f"kubectl -n {cfg.epp_namespace} get pods -l app.kubernetes.io/name={cfg.epp_service}; "
        "see docs/runbooks/InferencePoolEPPDown.md",
    )


def _enabled(cfg: Any) -> bool:
    return bool(cfg.pool.enabled)


CHECKS = [
    Check(
        "router.inferencepool",
        "vllm",
        "InferencePool accepted, refs resolved",
        _inferencepool,
        applies=_enabled,
    ),
    Check(
        "router.epp_scrape",
        "scrape",
        "Endpoint picker scraped and authorised",
        _epp_scrape,
        local=True,
        applies=_enabled,
    ),
]
