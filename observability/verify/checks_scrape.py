"""Scrape layer: monitors selected by the Prometheus, targets up, key series present,
names not escaped (`vllm_` for `vllm:`), and which vLLM metric generation is running."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from observability.kube import DCGM_JOB
from observability.metrics.names import DCGM, VLLM
from observability.verify import queries as q
from observability.verify.checks_gpu import gpu_capacity, gpu_nodes
from observability.verify.checks_vllm import vllm_pods
from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome
from observability.verify.selectors import explain_mismatch, fmt_selector

__all__ = ["CHECKS"]

PLURAL = {"ServiceMonitor": "servicemonitors", "PodMonitor": "podmonitors"}
SELECTOR_FIELD = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor"}
POOL_PREFIX = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor"}
ESCAPING_FIX = (
    "the vLLM image ships prometheus-client>=0.23, which escapes ':' to '_' when Prometheus "
    "2.x negotiates OpenMetrics without escaping=allow-utf-8 (prometheus/client_python#1177). "
    "Fix one of: upgrade Prometheus to 3.x; keep scrapeProtocols: [PrometheusText0.0.4] on "
    "the vLLM ServiceMonitor (the bundle sets it; Prometheus >= 2.49 honours it); pin "
    "prometheus-client<0.23 in the vLLM image"
)


def _meta(obj: dict[str, Any]) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return m.get("namespace") or "", m.get("name") or ""


# (problem, fix) for one monitor, or None when it is fine at that step.
Problem = tuple[str, str] | None


def _label_problem(prom: dict[str, Any], kind: str, ref: str, live: dict[str, Any]) -> Problem:
    """The Prometheus object's `<kind>Selector` does not match the monitor's labels."""
    field, (pns, pname) = SELECTOR_FIELD[kind], _meta(prom)
    sel = (prom.get("spec") or {}).get(f"{field}Selector")
    why = explain_mismatch(sel, (live.get("metadata") or {}).get("labels") or {})
    if not why:
        return None
    return (
        f"{ref} not selected by Prometheus {pns}/{pname}: {field}Selector "
        f"{fmt_selector(sel)} but {'; '.join(why)}",
        f"set prometheus.prometheusSpec.{field}SelectorNilUsesHelmValues: false in the "
        f"kube-prometheus-stack values (selects all), or label {ref} to match "
        f"{fmt_selector(sel)}",
    )


def _namespace_problem(
    prom: dict[str, Any], kind: str, ref: str, ns: str, ns_labels: Callable[[str], dict]
) -> Problem:
    """The monitor's namespace is outside the Prometheus object's `<kind>NamespaceSelector`."""
    field, (pns, pname) = SELECTOR_FIELD[kind], _meta(prom)
    nsel = (prom.get("spec") or {}).get(f"{field}NamespaceSelector")
    if nsel is None:  # no selector: the operator only looks in Prometheus' own namespace
        if ns == pns:
            return None
        return (
            f"{ref} is in namespace {ns} but Prometheus {pns}/{pname} has no "
            f"{field}NamespaceSelector, so it only looks in {pns}",
            f"set prometheus.prometheusSpec.{field}NamespaceSelector: {{}}",
        )
    why = explain_mismatch(nsel, ns_labels(ns))
    if not why:
        return None
    return (
        f"{ref}: namespace {ns} not selected by {field}NamespaceSelector "
        f"{fmt_selector(nsel)}: {'; '.join(why)}",
        f"label namespace {ns} to match, or set {field}NamespaceSelector: {{}}",
    )


def _target_problem(cl: Any, ref: str, ns: str, live: dict[str, Any]) -> Problem:
    """A selected ServiceMonitor matches no Service, or no Service port it scrapes."""
    mspec = live.get("spec") or {}
    nssel = mspec.get("namespaceSelector") or {}
    where = nssel.get("matchNames") or ([ns] if not nssel.get("any") else [])
    if not where:
        return None  # any namespace: nothing to list cheaply
    svc_sel = (mspec.get("selector") or {}).get("matchLabels") or {}
    found = [svc for w in where for svc in cl.services(w, svc_sel)]
    if not found:
        return (
            f"{ref} is selected but matches no Service in {', '.join(where)} "
            f"with labels {fmt_selector(mspec.get('selector'))}",
            "check the Service labels of the workload it should scrape",
        )
    ports = {p.get("name") for svc in found for p in svc["spec"].get("ports") or []}
    wanted = {e.get("port") for e in mspec.get("endpoints") or [] if e.get("port")}
    if wanted and not wanted & ports:
        return (
            f"{ref} scrapes port {sorted(wanted)} but the Services name their "
            f"ports {sorted(p for p in ports if p)}",
            "name the Service port as the ServiceMonitor endpoint expects",
        )
    return None


def _selected(ctx: VerifyContext) -> Outcome:
    """Every monitor the bundle renders exists, is selected by the Prometheus object (labels
    and namespace), and (ServiceMonitors) selects a Service with the port it scrapes."""
    cl = ctx.need_cluster()
    prom = ctx.prometheus_cr()
    if prom is None:
        return Outcome.fail(
            f"no Prometheus object in {ctx.ns.monitoring}",
            "sync the kube-prometheus-stack Application",
        )
    monitors = ctx.expected_monitors()
    if not monitors:
        return Outcome.warn(
            "the bundle renders no ServiceMonitor/PodMonitor", "run `obsctl render`"
        )

    @functools.cache
    def ns_labels(ns: str) -> dict[str, str]:
        return ((cl.namespace(ns) or {}).get("metadata") or {}).get("labels") or {}

    problems: list[tuple[str, str]] = []
    ok: list[str] = []
    for want in monitors:
        kind = want["kind"]
        ns, name = _meta(want)
        ns = ns or ctx.ns.monitoring
        ref = f"{kind} {ns}/{name}"
        live = cl.custom("monitoring.coreos.com", "v1", ns, PLURAL[kind], name)
        problem = (
            (
                f"{ref} does not exist",
                "sync the monitoring-config Application (argocd app sync ...)",
            )
            if live is None
            else _label_problem(prom, kind, ref, live)
            or _namespace_problem(prom, kind, ref, ns, ns_labels)
            or (_target_problem(cl, ref, ns, live) if kind == "ServiceMonitor" else None)
        )
        if problem:
            problems.append(problem)
        else:
            ok.append(ref)
    if problems:
        return Outcome.fail(
            "; ".join(p for p, _ in problems), "; ".join(dict.fromkeys(f for _, f in problems))
        )
    pns, pname = _meta(prom)
    return Outcome.ok(f"selected by Prometheus {pns}/{pname}: " + ", ".join(ok))


def _pools(ctx: VerifyContext) -> dict[str, list[dict[str, Any]]]:
    """Bundle monitor ref -> its active targets (pool `serviceMonitor/<ns>/<name>/<i>`)."""
    targets = ctx.once("p.targets", lambda: ctx.prometheus().targets())
    out: dict[str, list[dict[str, Any]]] = {}
    for m in ctx.expected_monitors():
        ns, name = _meta(m)
        prefix = f"{POOL_PREFIX[m['kind']]}/{ns or ctx.ns.monitoring}/{name}/"
        out[f"{m['kind']} {ns}/{name}"] = [
            t for t in targets if str(t.get("scrapePool", "")).startswith(prefix)
        ]
    if ctx.cluster is None and not any(out.values()):
        # The local stack may name its jobs differently: judge every active target.
        out = {}
        for t in targets:
            out.setdefault(f"job {t.get('labels', {}).get('job', t.get('scrapePool'))}", []).append(
                t
            )
    return out


def _targets(ctx: VerifyContext) -> Outcome:
    pools = _pools(ctx)
    if not pools:
        return Outcome.fail(
            f"Prometheus at {ctx.prometheus().label} has no active targets",
            "no ServiceMonitor is selected: see scrape.selected",
        )
    empty = [ref for ref, ts in pools.items() if not ts]
    down = [
        f"{t.get('scrapeUrl')} ({t.get('lastError') or t.get('health')})"
        for ts in pools.values()
        for t in ts
        if t.get("health") != "up"
    ]
    problems: list[str] = []
    fixes: list[str] = []
    if empty:
        problems.append("no targets for " + ", ".join(empty))
        fixes.append(
            "Prometheus did not pick these monitors up or they match no ready endpoint: "
            "see scrape.selected and `kubectl get endpoints`"
        )
    if down:
        problems.append(f"{len(down)} targets down: " + "; ".join(down[:5]))
        fixes.append(
            "the target refuses or times out: check the pod is Ready, the port/path in the "
            "ServiceMonitor, and NetworkPolicies allowing the monitoring namespace"
        )
    if problems:
        return Outcome.fail("; ".join(problems), "; ".join(fixes))
    n = sum(len(ts) for ts in pools.values())
    return Outcome.ok(f"{n} targets up across {len(pools)} monitors")


def _series(ctx: VerifyContext) -> Outcome:
    prom = ctx.prometheus()
    problems: list[str] = []
    fixes: list[str] = []
    running = VLLM.RUNNING.v1
    rows = prom.query(q.running_pods(ctx.cfg))
    pods_seen = {r["metric"].get("pod") for r in rows}
    models_seen = {r["metric"].get("model_name") for r in rows}
    if not rows:
        escaped = running.replace(":", "_")
        if prom.query(q.escaped_running(ctx.cfg)):
            problems.append(f"no {running} series, but {escaped} exists: names are escaped")
            fixes.append("see scrape.escaping for the cause and fix")
        else:
            problems.append(f"no {running} series at all")
            fixes.append("vLLM is not scraped: see scrape.targets")
    elif ctx.cluster is not None:
        missing = sorted(
            p["metadata"]["name"] for p in vllm_pods(ctx) if p["metadata"]["name"] not in pods_seen
        )
        if missing:
            problems.append(f"no {running} for vLLM pods {', '.join(missing[:5])}")
            fixes.append("those pods are not scraped: check their targets in scrape.targets")
        want = {m.served_name for _, m in ctx.cfg.deployed_models}
        if not want & models_seen:
            problems.append(f"model_name labels {sorted(models_seen)} lack {sorted(want)}")
            fixes.append("the served model name differs from bundle.yaml: see vllm.api")
    gpu_rows = prom.query(q.gpu_hosts(ctx.cfg))
    per_host = {
        r["metric"].get("Hostname") or r["metric"].get("hostname"): int(float(r["value"][1]))
        for r in gpu_rows
    }
    n_gpus = sum(per_host.values())
    if not gpu_rows:
        problems.append(f"no {DCGM.GPU_UTIL} series at all")
        fixes.append("dcgm-exporter is not scraped: see gpu.exporters and scrape.targets")
    elif ctx.cluster is not None:
        short = [
            f"{n['metadata']['name']} ({per_host.get(n['metadata']['name'], 0)}/{gpu_capacity(n)} GPUs)"
            for n in gpu_nodes(ctx)
            if per_host.get(n["metadata"]["name"], 0) < gpu_capacity(n)
        ]
        if short:
            problems.append("GPUs without DCGM series on " + ", ".join(short[:5]))
            fixes.append(
                "the exporter on those nodes is not scraped or DCGM cannot see every GPU; "
                "note dcgm-exporter >4.5.3 renamed label Hostname to hostname"
            )
    if problems:
        return Outcome.fail("; ".join(problems), "; ".join(fixes))
    return Outcome.ok(
        f"{running} for {len(pods_seen)} pods (models {', '.join(sorted(m for m in models_seen if m))}); "
        f"{DCGM.GPU_UTIL} for {n_gpus} GPUs on {len(per_host)} nodes"
    )


def _vllm_names(ctx: VerifyContext) -> tuple[list[str], list[str]]:
    """(current vllm:/vllm_ names, pods scraped with escaped names).

    Which pods are escaped is read from one family (the running-requests gauge, on every
    pod of every vLLM version), and the names from one pod of each naming: escaping is
    per scrape, so a pod's names are all colon or all escaped, and the cost grows with
    pods rather than with every series of every pod (1,000 pods hold ~300,000 series).
    Without that gauge anywhere, every vllm series is read as before."""

    def names() -> tuple[list[str], list[str]]:
        prom = ctx.prometheus()
        rows = prom.query(q.running_by_naming(ctx.cfg))
        if not rows:
            rows = prom.query(q.names_matching(ctx.cfg, "vllm[:_].+"))
            return sorted({r["metric"].get("__name__", "") for r in rows} - {""}), []
        one: dict[str, dict[str, str]] = {}
        escaped: list[str] = []
        for r in rows:
            m = r["metric"]
            under = m.get("__name__", "").startswith("vllm_")
            one.setdefault("_" if under else ":", m)
            if under:
                escaped.append(m.get("pod", ""))
        found: set[str] = set()
        for pod in one.values():
            rows = prom.query(q.pod_names(ctx.cfg, "vllm[:_].+", pod))
            found |= {r["metric"].get("__name__", "") for r in rows}
        return sorted(found - {""}), sorted(p for p in escaped if p)

    return ctx.once("p.vllmnames", names)


def _escaping(ctx: VerifyContext) -> Outcome:
    names, escaped_pods = _vllm_names(ctx)
    colon = [n for n in names if n.startswith("vllm:")]
    under = [n for n in names if n.startswith("vllm_")]
    if not names:
        return Outcome.warn(
            "no vllm: or vllm_ series in Prometheus", "see scrape.targets: vLLM is not scraped"
        )
    if under and not colon:
        return Outcome.fail(
            f"found {len(under)} vllm_* names (e.g. {', '.join(sorted(under, key=len)[:3])}) "
            "and no vllm:* "
            "names: every rule and panel querying vllm:* is empty",
            ESCAPING_FIX,
        )
    if under:
        pods = f" ({', '.join(escaped_pods[:5])})" if escaped_pods else ""
        return Outcome.warn(
            f"both vllm:* ({len(colon)}) and vllm_* ({len(under)}, e.g. {under[0]}) names: "
            f"some vLLM pods are scraped with escaped names{pods}",
            ESCAPING_FIX,
        )
    return Outcome.ok(f"{len(colon)} vllm:* metric names, none escaped to vllm_*")


def _has(names: list[str], family: str | None) -> bool:
    return bool(family) and any(n == family or n.startswith(family + "_") for n in names)


def _generation(ctx: VerifyContext) -> Outcome:
    pairs = [VLLM.KV_CACHE_USAGE, VLLM.ITL]
    families = [n for s in pairs for n in (s.v1, s.v0) if n]
    rows = ctx.prometheus().query(q.families_current(ctx.cfg, families))
    names = sorted({r["metric"].get("__name__", "") for r in rows} - {""})
    if not names and not any(n.startswith("vllm:") for n in _vllm_names(ctx)[0]):
        return Outcome.skip("no vllm:* names to judge (see scrape.escaping)")
    new = [s.v1.split(":", 1)[1] for s in pairs if _has(names, s.v1)]
    old = [s.v0.split(":", 1)[1] for s in pairs if _has(names, s.v0)]
    if new and not old:
        return Outcome.ok(
            f"new metric generation (vLLM >= 0.15; V1 engine): {', '.join(new)}; "
            "the bundle's rules and panels use these names"
        )
    if old and not new:
        return Outcome.ok(
            f"old metric generation (vLLM <= 0.9.1, e.g. 0.7.3): {', '.join(old)}; the "
            "bundle falls back to these names (`or`), which vLLM >= 0.12/0.15 removed: "
            "upgrade vLLM to get kv_cache_usage_perc and inter_token_latency_seconds"
        )
    if new and old:
        prom = ctx.prometheus()
        new_pods = {
            r["metric"].get("pod") for r in prom.query(q.pods_with(ctx.cfg, VLLM.KV_CACHE_USAGE.v1))
        }
        old_pods = {
            r["metric"].get("pod") for r in prom.query(q.pods_with(ctx.cfg, VLLM.KV_CACHE_USAGE.v0))
        }
        only_old = sorted(p for p in old_pods - new_pods if p)
        if only_old:
            return Outcome.warn(
                f"mixed fleet: pods {', '.join(only_old[:5])} expose only old names "
                f"({', '.join(old)}), others the new ones ({', '.join(new)})",
                "upgrade the old replicas so all pods run one vLLM version",
            )
        return Outcome.ok(
            f"transition release (vLLM 0.9.2-0.14): both {', '.join(new)} and deprecated "
            f"{', '.join(old)}; the bundle prefers the new names"
        )
    return Outcome.warn(
        "neither kv_cache_usage_perc nor gpu_cache_usage_perc is exposed",
        "the vLLM engine metrics are missing (--disable-log-stats set?)",
    )


P = ("prometheus.ready",)


def _source(metric: dict[str, str]) -> str:
    job, service = metric.get("job", ""), metric.get("service", "")
    return f"job={job}" + (f" (Service {service})" if service and service != job else "")


def _dcgm_duplicates(ctx: VerifyContext) -> Outcome:
    """Two exporters reporting one GPU (the bundled chart next to the GPU Operator's, or the
    operator's own ServiceMonitor next to ours) double every DCGM series; rules and panels
    count GPUs by UUID so nothing doubles on screen, but say which one to turn off."""
    rows = ctx.prometheus().query(q.gpu_sources(ctx.cfg))
    sources: dict[str, set[str]] = {}
    for r in rows:
        sources.setdefault(r["metric"].get("UUID", ""), set()).add(_source(r["metric"]))
    dup = {u: s for u, s in sources.items() if len(s) > 1}
    if not sources:
        return Outcome.warn(f"no {DCGM.GPU_UTIL} series", "see scrape.series")
    if not dup:
        return Outcome.ok(f"each of {len(sources)} GPUs is reported by one exporter")
    seen = sorted(set().union(*dup.values()))
    ours = f"job={DCGM_JOB}"
    others = [s for s in seen if not s.startswith(ours + " ") and s != ours] or seen[1:]
    evidence = (
        f"{len(dup)} of {len(sources)} GPUs are reported by {len(seen)} exporters "
        f"({', '.join(seen)}), e.g. {sorted(dup)[0]}"
    )
    if ctx.cfg.gpu.dcgm_exporter == "bundled":
        fix = (
            f"turn off one: the GPU Operator runs its own exporter ({', '.join(others)}), so "
            "set gpu.dcgm_exporter: gpu-operator in bundle.yaml and re-render (drops the "
            "bundled dcgm-exporter chart; the bundle then scrapes the operator's exporter)"
        )
    else:
        fix = (
            f"turn off the scrape behind {', '.join(others)}: for the GPU Operator's own "
            "ServiceMonitor set dcgmExporter.serviceMonitor.enabled=false (the bundle's "
            "dcgm-exporter monitor already scrapes that exporter, with honorLabels)"
        )
    return Outcome.warn(evidence, fix)


CHECKS = [
    Check("scrape.selected", "scrape", "monitors selected by Prometheus", _selected),
    Check("scrape.targets", "scrape", "scrape targets up", _targets, P, local=True),
    Check("scrape.series", "scrape", "key series for every pod and GPU", _series, P, local=True),
    Check("scrape.escaping", "scrape", "vllm: names not escaped", _escaping, P, local=True),
    Check("scrape.generation", "scrape", "vLLM metric generation", _generation, P, local=True),
    Check(
        "scrape.dcgm_duplicates",
        "scrape",
        "one exporter per GPU",
        _dcgm_duplicates,
        P,
        local=True,
    ),
]
