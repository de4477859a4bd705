"""Grafana layer: healthy, Prometheus datasource works, bundle dashboards present, and
every panel's queries return data (evaluated against Prometheus exactly as Grafana would
send them, with "All" selected)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from observability.kube import GRAFANA_DATASOURCE_UID
from observability.promapi import PromError, Response
from observability.verify.context import VerifyContext
from observability.verify.k8s import ProxyTransport
from observability.verify.model import Check, CheckFailed, Outcome, Status
from observability.verify.queries import family_exists

__all__ = ["CHECKS"]

_WORKERS = 8  # panel queries in flight at once

PROXY_AUTH_FIX = (
    "the API server strips the Authorization header on its service proxy, so Grafana's "
    "authenticated API cannot be read that way: run `kubectl -n {ns} port-forward svc/{svc} "
    "3000:80` and pass --grafana-url http://127.0.0.1:3000 (credentials come from the "
    "{secret} Secret or --grafana-token)"
)


def _get(ctx: VerifyContext, path: str) -> tuple[Response, bool]:
    ep, headers, via_proxy = ctx.grafana()
    return ep.get(path, timeout=ctx.opts.http_timeout, headers=headers), via_proxy


def _auth_problem(ctx: VerifyContext, resp: Response, via_proxy: bool) -> Outcome | None:
    if resp.status not in (401, 403):
        return None
    ep, _, _ = ctx.grafana()
    if via_proxy and isinstance(ep, ProxyTransport):
        svc = ep.service
        return Outcome.skip(
            f"{resp.where}: HTTP {resp.status} through the API server proxy",
            PROXY_AUTH_FIX.format(
                ns=ctx.ns.monitoring, svc=svc, secret=ctx.cfg.secrets.grafana_admin.name
            ),
        )
    return Outcome.fail(
        f"{resp.where}: Grafana refused our credentials (HTTP {resp.status})",
        f"pass --grafana-token (or OBSCTL_GRAFANA_TOKEN), or fix the "
        f"{ctx.cfg.secrets.grafana_admin.name} Secret: the admin password only seeds a new "
        "Grafana database, later changes need `grafana cli admin reset-admin-password`",
    )


def _ready(ctx: VerifyContext) -> Outcome:
    resp, _ = _get(ctx, "/api/health")
    if resp.status != 200:
        return Outcome.fail(
            f"{resp.where} answered HTTP {resp.status}", "check the Grafana pod logs"
        )
    body = resp.json()
    if body.get("database") != "ok":
        return Outcome.fail(
            f"Grafana database: {body.get('database')}",
            "check Grafana's storage (PVC, SQLite lock)",
        )
    return Outcome.ok(f"Grafana {body.get('version', '?')} healthy at {resp.where}")


def _datasource(ctx: VerifyContext) -> Outcome:
    resp, proxy = _get(ctx, f"/api/datasources/uid/{GRAFANA_DATASOURCE_UID}")
    if (bad := _auth_problem(ctx, resp, proxy)) is not None:
        return bad
    if resp.status == 404:
        return Outcome.fail(
            f"no Grafana datasource with uid {GRAFANA_DATASOURCE_UID!r}: every bundle panel shows "
            "'datasource not found'",
            "set grafana.sidecar.datasources.defaultDatasourceEnabled: true and "
            f"uid: {GRAFANA_DATASOURCE_UID} in the kube-prometheus-stack values (the GitOps app does)",
        )
    if resp.status != 200:
        return Outcome.fail(f"{resp.where} answered HTTP {resp.status}", "check Grafana logs")
    ds = resp.json()
    health, _ = _get(ctx, f"/api/datasources/uid/{GRAFANA_DATASOURCE_UID}/health")
    if health.status != 200:
        msg = health.json().get("message", "") if health.body.startswith(b"{") else ""
        return Outcome.fail(
            f"datasource {ds.get('name')} ({ds.get('url')}) health check failed: "
            f"HTTP {health.status} {msg}".strip(),
            "Grafana cannot reach Prometheus at that URL: check the Service name and port",
        )
    return Outcome.ok(
        f"datasource {ds.get('name')} uid={GRAFANA_DATASOURCE_UID} -> {ds.get('url')} works"
    )


def _dashboards(ctx: VerifyContext) -> Outcome:
    want = ctx.dashboards()
    if not want:
        return Outcome.warn("the bundle renders no dashboards", "run `obsctl render`")
    missing: list[str] = []
    for uid, model in want.items():
        resp, proxy = _get(ctx, f"/api/dashboards/uid/{uid}")
        if (bad := _auth_problem(ctx, resp, proxy)) is not None:
            return bad
        if resp.status == 404:
            missing.append(f"{model.get('title', uid)} (uid {uid})")
        elif resp.status != 200:
            raise CheckFailed(f"{resp.where} answered HTTP {resp.status}", "check Grafana logs")
    if missing:
        return Outcome.fail(
            "dashboards not in Grafana: " + ", ".join(missing),
            "the Grafana sidecar loads ConfigMaps labelled grafana_dashboard=1 from every "
            "namespace (searchNamespace: ALL): sync the monitoring-config Application and "
            "check the grafana-sc-dashboard container logs",
        )
    return Outcome.ok(f"{len(want)} dashboards present: " + ", ".join(sorted(want)))


def _panel_queries(model: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel key, panel title, PromQL with variables substituted) for every target; the
    key is the panel id, so two panels sharing a title count as two."""
    from observability.dashboards.exprs import (
        UnknownVariable,
        panel_queries,
        substitute,
        template_values,
    )

    values = template_values(model)
    try:
        return [
            (f"{q.panel_id}", q.title, substitute(q.expr, values)) for q in panel_queries(model)
        ]
    except UnknownVariable as err:
        raise CheckFailed(
            f"dashboard {model.get('uid')}: {err}",
            "the rendered dashboard is inconsistent: run `obsctl render` and `obsctl lint`",
        ) from err


def _metric_names(expr: str) -> list[str]:
    from observability.dashboards.panels import families_read

    return families_read(expr)


def _panels(ctx: VerifyContext) -> Outcome:
    from observability.dashboards.availability import expected_empty

    prom = ctx.prometheus()
    dashboards = ctx.dashboards()
    if not dashboards:
        return Outcome.warn("the bundle renders no dashboards", "run `obsctl render`")
    queries = [(uid, k, t, e) for uid, m in dashboards.items() for k, t, e in _panel_queries(m)]

    def has_data(expr: str) -> bool | str:
        # `count(...)`: one row back instead of one per pod (a `by (pod)` panel is a
        # thousand rows on a big fleet), empty exactly when the panel is; a scalar
        # expression cannot be counted and is asked as it is.
        try:
            return bool(prom.query(f"count({expr})"))
        except PromError as err:
            if "bad_data" not in err.evidence:
                return err.evidence
        try:
            return bool(prom.query(expr))
        except PromError as err:
            return err.evidence

    # One query per distinct expression: panels on several dashboards share many.
    distinct = list(dict.fromkeys(e for *_, e in queries))
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        answer = dict(zip(distinct, pool.map(has_data, distinct), strict=True))
    answers = [answer[e] for *_, e in queries]
    by_panel: dict[tuple[str, str], list[tuple[str, bool | str]]] = {}
    titles: dict[tuple[str, str], str] = {}
    for (uid, key, title, expr), ans in zip(queries, answers, strict=True):
        by_panel.setdefault((uid, key), []).append((expr, ans))
        titles[(uid, key)] = title
    errors = [
        f"{titles[k]}: {ans}"
        for k, rows in by_panel.items()
        for _, ans in rows
        if isinstance(ans, str)
    ]
    if errors and len(errors) == len(queries):
        raise CheckFailed("every panel query failed: " + errors[0], "see prometheus.ready")
    empty, expected = [], []
    for k, rows in by_panel.items():
        if any(a is True for _, a in rows):
            continue
        whys = [expected_empty(e, lambda n: _exists(ctx, n)) for e, _ in rows]
        if all(whys):
            expected.append(f"'{titles[k]}' ({whys[0]})")
        else:
            empty.append((k, rows))
    note = f"; {len(expected)} not exposed here, as their panels say" if expected else ""
    if empty:
        reasons: list[str] = []
        for k, rows in empty[:6]:
            names = list(dict.fromkeys(n for e, _ in rows for n in _metric_names(e)))
            absent = [n for n in names if not _exists(ctx, n)]
            why = (
                f"no series for {', '.join(absent[:3])}"
                if absent
                else "series exist but the query returns nothing now (no traffic yet?)"
            )
            reasons.append(f"'{titles[k]}' ({why})")
        return Outcome(
            Status.WARN,
            f"{len(empty)}/{len(by_panel)} panels empty: " + "; ".join(reasons) + note,
            "absent metrics: check scrape.series/scrape.generation (a renamed metric or a "
            "disabled DCGM field); idle series: send traffic and look again",
        )
    n_data = len(by_panel) - len(expected)
    return Outcome.ok(
        f"{n_data}/{len(by_panel)} panels return data ({len(distinct)} distinct queries){note}"
        + (": " + ", ".join(expected[:4]) if expected else "")
    )


def _exists(ctx: VerifyContext, name: str) -> bool:
    def q() -> bool:
        try:
            return bool(ctx.prometheus().query(family_exists(ctx.cfg, name)))
        except PromError:
            return False

    return ctx.once(f"p.exists.{name}", q)


CHECKS = [
    Check("grafana.ready", "stack", "Grafana healthy", _ready),
    Check(
        "grafana.datasource",
        "grafana",
        "Prometheus datasource works",
        _datasource,
        ("grafana.ready",),
    ),
    Check(
        "grafana.dashboards",
        "grafana",
        "bundle dashboards present",
        _dashboards,
        ("grafana.ready",),
    ),
    Check(
        "grafana.panels",
        "grafana",
        "every panel returns data",
        _panels,
        ("prometheus.ready",),
        True,
    ),
]
