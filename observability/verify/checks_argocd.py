"""Argo CD layer: every bundle Application exists, is Synced and Healthy, last sync ok."""

from __future__ import annotations

from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS"]

ERROR_CONDITIONS = {
    "ComparisonError",
    "SyncError",
    "InvalidSpecError",
    "UnknownError",
    "DeletionError",
}


def _apps(ctx: VerifyContext) -> Outcome:
    cl = ctx.need_cluster()
    expected = ctx.expected_apps()
    if not expected:
        return Outcome.warn(
            "the bundle renders no Argo CD Applications (argocd/apps/ is empty)",
            "run `obsctl render` and commit argocd/",
        )
    if cl.crd("applications.argoproj.io") is None:
        return Outcome.fail(
            "CRD applications.argoproj.io not found: Argo CD is not installed",
            "install Argo CD first: kubectl apply -n argocd --server-side --force-conflicts "
            "-f https://raw.githubusercontent.com/argoproj/argo-cd/stable/manifests/install.yaml",
        )
    bad: list[str] = []
    warn: list[str] = []
    fixes: list[str] = []
    for app in expected:
        name = app["metadata"]["name"]
        ns = app["metadata"].get("namespace") or ctx.ns.argocd
        live = cl.custom("argoproj.io", "v1alpha1", ns, "applications", name)
        if live is None:
            bad.append(f"{name}: not found in namespace {ns}")
            fixes.append("kubectl apply -f argocd/app-of-apps.yaml (the parent creates children)")
            continue
        st = live.get("status") or {}
        sync = (st.get("sync") or {}).get("status", "Unknown")
        health = (st.get("health") or {}).get("status", "Unknown")
        hmsg = (st.get("health") or {}).get("message")
        op = st.get("operationState") or {}
        phase = op.get("phase", "")
        conds = [
            f"{c.get('type')}: {c.get('message', '').strip()}"
            for c in st.get("conditions") or []
            if c.get("type") in ERROR_CONDITIONS or str(c.get("type", "")).endswith("Error")
        ]
        problems: list[str] = []
        if sync != "Synced":
            problems.append(f"sync={sync}")
        if health not in ("Healthy",):
            problems.append(f"health={health}" + (f" ({hmsg})" if hmsg else ""))
        if phase in ("Failed", "Error"):
            problems.append(f"last sync {phase}: {op.get('message', '').strip()}")
        problems.extend(conds)
        if not problems:
            continue
        line = f"{name}: " + "; ".join(problems)
        # Progressing right after a sync is normal; anything else is a failure.
        if health == "Progressing" and sync == "Synced" and not conds and phase != "Failed":
            warn.append(line)
            fixes.append(f"wait for {name} to finish rolling out (argocd app wait {name})")
        else:
            bad.append(line)
            if sync == "OutOfSync":
                fixes.append(
                    f"argocd app diff {name} shows what differs; argocd app sync {name} "
                    "(permanent OutOfSync: ServerSideApply=true / ignoreDifferences)"
                )
            if health in ("Degraded", "Missing"):
                fixes.append(
                    f"kubectl get pods,events -n {(app.get('spec') or {}).get('destination', {}).get('namespace', ns)} "
                    f"for {name}'s failing resources"
                )
            if phase in ("Failed", "Error") or conds:
                fixes.append(f"argocd app get {name} shows the sync error in full")
    n = len(expected)
    if bad:
        return Outcome.fail(
            f"{len(bad)}/{n} Applications unhealthy: " + " | ".join(bad + warn),
            "; ".join(dict.fromkeys(fixes)),
        )
    if warn:
        return Outcome.warn(" | ".join(warn), "; ".join(dict.fromkeys(fixes)))
    names = ", ".join(a["metadata"]["name"] for a in expected)
    return Outcome.ok(f"{n} Applications Synced and Healthy: {names}")


CHECKS = [Check("argocd.apps", "argocd", "Argo CD Applications synced and healthy", _apps)]
