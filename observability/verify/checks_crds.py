"""CRDs at supported versions, and the monitoring stack's own workloads."""

from __future__ import annotations

from typing import Any

from observability.verify.context import VerifyContext
from observability.verify.model import Check, CheckFailed, Outcome

__all__ = ["CHECKS", "deployment_ready"]

# name -> (version the bundle's objects use, who installs it)
REQUIRED_CRDS = {
    "applications.argoproj.io": ("v1alpha1", "Argo CD (install it before the bundle)"),
    "servicemonitors.monitoring.coreos.com": ("v1", "the kube-prometheus-stack Application"),
    "podmonitors.monitoring.coreos.com": ("v1", "the kube-prometheus-stack Application"),
    "prometheusrules.monitoring.coreos.com": ("v1", "the kube-prometheus-stack Application"),
    "prometheuses.monitoring.coreos.com": ("v1", "the kube-prometheus-stack Application"),
    "alertmanagers.monitoring.coreos.com": ("v1", "the kube-prometheus-stack Application"),
}

OPERATOR = [
    {"app": "kube-prometheus-stack-operator"},
    {"app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator"},
    {"app.kubernetes.io/name": "prometheus-operator"},
]
KSM = [{"app.kubernetes.io/name": "kube-state-metrics"}]


def _crds(ctx: VerifyContext) -> Outcome:
    cl = ctx.need_cluster()
    missing: list[str] = []
    wrong: list[str] = []
    seen: list[str] = []
    for name, (version, installer) in REQUIRED_CRDS.items():
        crd = cl.crd(name)
        if crd is None:
            missing.append(f"{name} (installed by {installer})")
            continue
        served = [v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("served")]
        established = any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in (crd.get("status") or {}).get("conditions") or []
        )
        if version not in served:
            wrong.append(f"{name} serves {served}, the bundle needs {version}")
        elif not established:
            wrong.append(f"{name} is not Established yet")
        else:
            ver = (crd.get("metadata", {}).get("annotations") or {}).get(
                "operator.prometheus.io/version"
            )
            seen.append(f"{name.split('.')[0]}/{version}" + (f" (operator {ver})" if ver else ""))
    if missing:
        return Outcome.fail(
            "missing CRDs: " + ", ".join(missing),
            "sync the kube-prometheus-stack Application (needs ServerSideApply=true: its CRDs "
            "exceed the 262144-byte annotation limit of client-side apply); Argo CD CRDs come "
            "with Argo CD itself",
        )
    if wrong:
        return Outcome.fail(
            "; ".join(wrong),
            "upgrade the chart that owns the CRD (charts.kube_prometheus_stack.version)",
        )
    return Outcome.ok("present: " + ", ".join(seen))


def deployment_ready(
    ctx: VerifyContext, selectors: list[dict[str, str]], what: str, fix: str
) -> tuple[dict[str, Any], str]:
    """The first Deployment matching one of the selectors, if all its replicas are ready."""
    cl = ctx.need_cluster()
    for sel in selectors:
        deps = cl.deployments(ctx.ns.monitoring, sel)
        if deps:
            d = deps[0]
            want = (d.get("spec") or {}).get("replicas", 1)
            st = d.get("status") or {}
            ready = st.get("readyReplicas", 0) or 0
            name = d["metadata"]["name"]
            if want and ready < want:
                msg = next(
                    (
                        c.get("message", "")
                        for c in st.get("conditions") or []
                        if c.get("status") == "False"
                    ),
                    "",
                )
                raise CheckFailed(
                    f"{what} Deployment {ctx.ns.monitoring}/{name}: {ready}/{want} ready"
                    + (f" ({msg})" if msg else ""),
                    f"kubectl -n {ctx.ns.monitoring} describe deployment {name}; check its "
                    "pods' events and logs",
                )
            return d, f"{ctx.ns.monitoring}/{name} {ready}/{want} ready"
    sels = " or ".join(",".join(f"{k}={v}" for k, v in s.items()) for s in selectors)
    raise CheckFailed(f"no {what} Deployment in {ctx.ns.monitoring} (labels {sels})", fix)


def _operator(ctx: VerifyContext) -> Outcome:
    _, ev = deployment_ready(
        ctx, OPERATOR, "prometheus-operator", "sync the kube-prometheus-stack Application"
    )
    return Outcome.ok(ev)


def _ksm(ctx: VerifyContext) -> Outcome:
    _, ev = deployment_ready(
        ctx,
        KSM,
        "kube-state-metrics",
        "enable kube-state-metrics in the kube-prometheus-stack values (it is on by default)",
    )
    return Outcome.ok(ev)


def _cr_available(cr: dict[str, Any] | None, kind: str, ns: str) -> str:
    if cr is None:
        raise CheckFailed(
            f"no {kind} object in namespace {ns}",
            "sync the kube-prometheus-stack Application; check the operator logs",
        )
    name = cr["metadata"]["name"]
    for c in (cr.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available" and c.get("status") != "True":
            raise CheckFailed(
                f"{kind} {ns}/{name} Available={c.get('status')}: {c.get('message', '')}".strip(),
                f"kubectl -n {ns} get pods -l {kind.lower()}={name}; describe the pending pod",
            )
    return f"{kind} {ns}/{name}"


def _prometheus(ctx: VerifyContext) -> Outcome:
    parts = []
    if ctx.cluster is not None and not ctx.opts.prometheus_url:
        parts.append(_cr_available(ctx.prometheus_cr(), "Prometheus", ctx.ns.monitoring))
    prom = ctx.prometheus()
    prom.ready()
    parts.append(f"ready at {prom.label}, version {prom.build_version()}")
    return Outcome.ok("; ".join(parts))


def _alertmanager(ctx: VerifyContext) -> Outcome:
    parts = []
    if ctx.cluster is not None and not ctx.opts.alertmanager_url:
        items = ctx.need_cluster().customs(
            "monitoring.coreos.com", "v1", "alertmanagers", ctx.ns.monitoring
        )
        parts.append(_cr_available(items[0] if items else None, "Alertmanager", ctx.ns.monitoring))
    am = ctx.alertmanager()
    am.ready()
    parts.append(f"ready at {am.label}")
    return Outcome.ok("; ".join(parts))


CHECKS = [
    Check("crds.present", "crds", "CRDs installed at supported versions", _crds),
    Check("operator.ready", "stack", "prometheus-operator ready", _operator),
    Check("prometheus.ready", "stack", "Prometheus ready", _prometheus, local=True),
    Check("alertmanager.ready", "stack", "Alertmanager ready", _alertmanager, local=True),
    Check("ksm.ready", "stack", "kube-state-metrics ready", _ksm),
]
