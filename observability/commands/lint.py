"""`obsctl lint`: validate everything rendered, offline; exit 1 on any error."""

from __future__ import annotations

from pathlib import Path

import typer

from observability.commands._common import (
    EXIT_FAILED,
    ConfigOption,
    die,
    load_bundle,
    print_json,
)
from observability.lint.runner import run_lint
from observability.lint.schemas import KUBERNETES_VERSION, supported_kubernetes_versions


def lint(
    config: Path = ConfigOption,
    kubernetes_version: str = typer.Option(
        KUBERNETES_VERSION,
        "--kubernetes-version",
        "-k",
        help="Kubernetes minor version whose schemas core kinds are checked against.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print findings and summary as JSON."),
    root_dir: Path | None = typer.Option(
        None,
        "--root",
        help="Rendered tree to check (default: bundle.yaml's directory), e.g. `render --out`.",
        file_okay=False,
    ),
) -> None:
    """Validate rendered manifests offline: schemas (strict), CRDs, kustomize, cross-refs."""
    cfg = load_bundle(config)
    root = root_dir.resolve() if root_dir else config.resolve().parent
    if not root.is_dir():
        die(f"--root {root_dir}: no such directory: render into it first (obsctl render --out)")
    version = ".".join(kubernetes_version.removeprefix("v").split(".")[:2])
    supported = supported_kubernetes_versions()
    if version not in supported:
        die(
            f"--kubernetes-version {kubernetes_version}: no schemas for it; "
            f"use one of {supported[0]}..{supported[-1]}"
        )
    report = run_lint(root, cfg, kubernetes_version=version)
    if as_json:
        print_json(
            {"findings": [f.to_dict() for f in report.findings], "summary": report.summary()}
        )
    else:
        for f in report.findings:
            typer.echo(f.line())
        checks = ", ".join(f"{k}: {v}" for k, v in report.checks.items())
        verdict = "ok" if report.ok else "FAILED"
        typer.echo(
            f"lint {verdict}: {len(report.errors)} errors, {len(report.warnings)} warnings "
            f"in {report.objects} objects ({report.seconds:.1f}s; {checks})"
        )
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
