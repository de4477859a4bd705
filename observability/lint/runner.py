"""`obsctl lint`: run every offline check over the rendered tree and collect Findings.

Checks, in order: YAML loads; core kinds against the Kubernetes schemas (strict);
custom kinds against the vendored CRD schemas; every kustomization builds (and what it
builds passes the schemas too, which covers patches); cross-object references (including:
no rule or panel reads a series a monitor drops); then the bundle-specific checks in
PLUGINS: `rules.check` and `dashboards.check`, each `(root, cfg) -> list[Finding]`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from observability.config import BundleConfig
from observability.lint import (
    alertmanager,
    clusters,
    dashboards,
    helm_values,
    panel_meaning,
    readiness,
    rules,
    sources,
)
from observability.lint.crossref import check_crossrefs
from observability.lint.drops import check_dropped_metrics
from observability.lint.findings import Finding
from observability.lint.kustomize import build_all
from observability.lint.manifests import Manifest, load_manifests
from observability.lint.podsecurity import check_pod_security
from observability.lint.schemas import KUBERNETES_VERSION, validate_core, validate_custom

__all__ = ["PLUGINS", "LintReport", "run_lint"]

# The alert-rule and dashboard checks (promtool, metric contract, dashboard invariants) and
# the cluster-label check over rules, panels and verify queries.
PLUGINS: dict[str, Callable[[Path, BundleConfig], list[Finding]]] = {
    "rules": rules.check,
    "dashboards": dashboards.check,
    "panel-meaning": panel_meaning.check,
    "alertmanager": alertmanager.check,
    "sources": sources.check,
    "clusters": clusters.check,
    "readiness": readiness.check,
    "helm-values": helm_values.check,
}


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)  # check -> "ran" | "skipped: why"
    objects: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, object]:
        return {
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "objects": self.objects,
            "checks": self.checks,
            "seconds": round(self.seconds, 2),
        }


def _schema(m: Manifest, version: str) -> list[Finding]:
    core = validate_core(m, version)
    return core if core is not None else validate_custom(m)


def _built_manifests(builds: dict) -> list[Manifest]:
    return [
        Manifest(f"{b.dir}/kustomization.yaml", i, obj)
        for b in builds.values()
        for i, obj in enumerate(b.objects)
        if "apiVersion" in obj and "kind" in obj
    ]


def _plugin(name: str, root: Path, cfg: BundleConfig) -> tuple[list[Finding], str]:
    try:
        return list(PLUGINS[name](root, cfg)), "ran"
    except Exception as err:  # a broken check is a finding, never a traceback
        return [
            Finding(name, f"observability/lint/{name}.py", f"check crashed: {err!r}")
        ], "crashed"


def run_lint(
    root: Path,
    cfg: BundleConfig,
    kubernetes_version: str = KUBERNETES_VERSION,
    plugins: tuple[str, ...] = tuple(PLUGINS),
) -> LintReport:
    start = time.monotonic()
    report = LintReport()
    raw, findings = load_manifests(root)
    report.findings += findings
    report.objects = len(raw)

    for m in raw:
        report.findings += _schema(m, kubernetes_version)
    report.checks["schema"] = f"ran (Kubernetes {kubernetes_version}, strict)"
    report.checks["crd"] = "ran"

    builds, findings = build_all(root)
    report.findings += findings
    report.checks["kustomize"] = f"ran ({len(builds)} kustomizations)"

    # Built output passes the schemas too (patches, generated ConfigMaps); report only
    # problems the raw files did not already show (same kind, field and message).
    def key(f: Finding) -> tuple[str, str, str]:
        return (f.obj.split("/", 1)[0], f.field, f.message)

    seen = {key(f) for f in report.findings}
    for m in _built_manifests(builds):
        for f in _schema(m, kubernetes_version):
            if key(f) not in seen:
                report.findings.append(f)
                seen.add(key(f))

    report.findings += check_crossrefs(root, cfg, raw, builds)
    report.findings += check_dropped_metrics(root, raw)
    report.checks["crossref"] = "ran"
    report.findings += check_pod_security([*raw, *_built_manifests(builds)])
    report.checks["pod-security"] = "ran (restricted)"

    for name in plugins:
        findings, status = _plugin(name, root, cfg)
        report.findings += findings
        report.checks[name] = status
    report.seconds = time.monotonic() - start
    return report
