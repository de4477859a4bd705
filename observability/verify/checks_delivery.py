"""How the dashboards reach Grafana (`dashboards.delivery`), read from the cluster:

- `sidecar`: each dashboard's ConfigMap exists in the monitoring namespace with the label
  the kube-prometheus-stack Grafana sidecar watches and the folder annotation;
- `grafana-operator`: the GrafanaDashboard CRD is served at v1beta1, and each bundle
  GrafanaDashboard exists and its status says the operator applied it
  (`DashboardSynchronized` True, no `NoMatchingInstance`).

`grafana.dashboards` then asks Grafana itself; this check says which hop broke."""

from __future__ import annotations

from typing import Any

from observability.render.dashboards import (
    FOLDER_ANNOTATION,
    GRAFANA_DASHBOARD_API,
    SIDECAR_LABEL,
    configmap_name,
)
from observability.verify import bundle as bundle_facts
from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS", "GRAFANA_DASHBOARD_CRD"]

GRAFANA_DASHBOARD_CRD = "grafanadashboards.grafana.integreatly.org"
_GROUP, _VERSION = GRAFANA_DASHBOARD_API.split("/")
SYNCED = "DashboardSynchronized"
NO_INSTANCE = "NoMatchingInstance"
_SYNC_FIX = (
    "the monitoring-config Application syncs dashboards/: check its sync status and "
    "`kubectl -n {ns} get {what}`"
)


def _sidecar(ctx: VerifyContext, files: list[str]) -> Outcome:
    cl = ctx.need_cluster()
    ns = ctx.ns.monitoring
    missing, unlabelled = [], []
    for f in files:
        name = configmap_name(f)
        cm = cl.configmap(ns, name)
        if cm is None:
            missing.append(name)
            continue
        meta = cm.get("metadata") or {}
        labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
        if any(labels.get(k) != v for k, v in SIDECAR_LABEL.items()):
            unlabelled.append(f"{name} lacks label grafana_dashboard=1")
        elif FOLDER_ANNOTATION not in notes:
            unlabelled.append(f"{name} lacks annotation {FOLDER_ANNOTATION}")
        elif f not in (cm.get("data") or {}):
            unlabelled.append(f"{name} has no key {f}")
    fix = (
        "the sidecar loads only ConfigMaps labelled grafana_dashboard=1: something else "
        "manages these ConfigMaps; re-sync monitoring-config (it owns them)"
    )
    names = ", ".join(configmap_name(f) for f in files)
    ok = f"{len(files)} sidecar ConfigMaps in {ns}: {names}"
    where = (ns, "dashboard ConfigMaps", "configmaps -l grafana_dashboard=1")
    return _verdict(where, missing, unlabelled, fix, ok)


def _verdict(
    where: tuple[str, str, str], missing: list[str], problems: list[str], fix: str, ok: str
) -> Outcome:
    """A delivery path's verdict: objects missing first (Argo CD did not sync them), then
    objects that exist but do not deliver (`problems`, with `fix`), else `ok`. `where` is
    (namespace, what is missing, the `kubectl get` argument that lists them)."""
    ns, kind, listing = where
    if missing:
        return Outcome.fail(
            f"{kind} missing in {ns}: " + ", ".join(missing), _SYNC_FIX.format(ns=ns, what=listing)
        )
    if problems:
        return Outcome.fail("; ".join(problems), fix)
    return Outcome.ok(ok)


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conds if c.get("type") == kind), None)


def _problem(obj: dict[str, Any]) -> str | None:
    """Why the operator has not applied this GrafanaDashboard, or None when it has."""
    status = obj.get("status") or {}
    none_match = _condition(obj, NO_INSTANCE)
    if status.get("NoMatchingInstances") or (none_match or {}).get("status") == "True":
        return "no Grafana instance matches its instanceSelector"
    synced = _condition(obj, SYNCED)
    if synced is None:
        return "not reconciled by the Grafana Operator yet (no DashboardSynchronized condition)"
    if synced.get("status") != "True":
        msg = synced.get("message") or synced.get("reason") or "no message"
        return f"DashboardSynchronized {synced.get('status')}: {msg}"
    return None


def _operator(ctx: VerifyContext, files: list[str]) -> Outcome:
    cl = ctx.need_cluster()
    ns = ctx.ns.monitoring
    crd = cl.crd(GRAFANA_DASHBOARD_CRD)
    if crd is None:
        return Outcome.fail(
            f"CRD {GRAFANA_DASHBOARD_CRD} missing: the Grafana Operator is not installed",
            "install the Grafana Operator (helm chart grafana-operator, v5) or set "
            "dashboards.delivery: sidecar in bundle.yaml",
        )
    served = [
        v.get("name") for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")
    ]
    if _VERSION not in served:
        return Outcome.fail(
            f"{GRAFANA_DASHBOARD_CRD} serves {served}, the bundle renders {_VERSION}",
            "upgrade the Grafana Operator to v5",
        )
    missing, broken = [], []
    sel = ctx.cfg.dashboards.grafana_operator.instance_selector
    sel_txt = ",".join(f"{k}={v}" for k, v in sorted(sel.items()))
    for f in files:
        name = f.removesuffix(".json")
        obj = cl.custom(_GROUP, _VERSION, ns, "grafanadashboards", name)
        if obj is None:
            missing.append(name)
        elif (why := _problem(obj)) is not None:
            broken.append(f"{ns}/{name}: {why}")
    fix = (
        f"label the operator's Grafana CR {sel_txt} (dashboards.grafana_operator."
        "instance_selector), in the monitoring namespace unless allow_cross_namespace_"
        f"import is true; for a sync error read `kubectl -n {ns} describe "
        "grafanadashboard` and the operator's logs"
    )
    ok = f"{len(files)} GrafanaDashboards synchronized to Grafana ({sel_txt})"
    return _verdict((ns, "GrafanaDashboards", "grafanadashboards"), missing, broken, fix, ok)


def _delivery(ctx: VerifyContext) -> Outcome:
    files = bundle_facts.dashboard_files_of(ctx.cfg)
    if not files:
        return Outcome.warn("the bundle renders no dashboards", "run `obsctl render`")
    if ctx.cfg.dashboards.delivery == "grafana-operator":
        return _operator(ctx, files)
    return _sidecar(ctx, files)


CHECKS = [
    Check(
        "grafana.delivery",
        "grafana",
        "dashboards delivered (sidecar ConfigMaps or GrafanaDashboards)",
        _delivery,
    ),
]
