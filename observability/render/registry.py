"""The registry of rendered outputs: path -> text, built from one config.

Each stage module exposes `artifacts(cfg) -> dict[path, content]`; the Argo CD tree
(`argocd.artifacts(cfg, rendered)`) is built last from what the others rendered.
`render_all` renders everything in memory first (so a failing builder writes nothing), then
`apply` writes, or `check` compares with the files on disk and lists drift and orphans.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from observability.config import BundleConfig
from observability.render import (
    alertmanager,
    alerts,
    argocd,
    dashboards,
    deploy,
    rbac,
    runtimes,
    servicemonitors,
)
from observability.render.writer import serialize, write_atomic

__all__ = [
    "GENERATED_DIRS",
    "HAND_WRITTEN",
    "STAGES",
    "RenderResult",
    "apply",
    "check",
    "render_all",
    "render_objects",
    "seed_hand_written",
]

# Directories whose files are all produced by `obsctl render` ...
GENERATED_DIRS = ("argocd", "servicemonitors", "alerts", "dashboards", "deploy")
# ... except these hand-written subtrees.
HAND_WRITTEN = ("alerts/tests/",)

Builder = Callable[[BundleConfig], dict[str, Any]]


# Every stage but the Argo CD tree, which comes last: its Applications point only at the
# directories these render (an Application whose path does not exist fails to sync).
STAGES: tuple[Builder, ...] = (
    servicemonitors.artifacts,
    deploy.artifacts,
    runtimes.artifacts,
    rbac.artifacts,
    alerts.artifacts,
    alertmanager.artifacts,
    dashboards.artifacts,
)


def render_objects(cfg: BundleConfig) -> dict[str, Any]:
    """Path -> object (dict, list or text) for every rendered file, the Argo CD tree last."""
    out: dict[str, Any] = {}
    for build in STAGES:
        for path, content in build(cfg).items():
            if path in out:
                raise ValueError(f"two builders produce {path}")
            out[path] = content
    for path, content in argocd.artifacts(cfg, rendered=out).items():
        if path in out:
            raise ValueError(f"two builders produce {path}")
        out[path] = content
    return out


def render_all(cfg: BundleConfig) -> dict[str, str]:
    """Path -> file text, sorted: what `obsctl render` writes."""
    return {path: serialize(path, c) for path, c in sorted(render_objects(cfg).items())}


@dataclass
class RenderResult:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)  # differs from or missing on disk
    orphans: list[str] = field(default_factory=list)  # on disk, produced by no builder

    @property
    def clean(self) -> bool:
        return not self.drifted and not self.orphans


def _orphans(root: Path, rendered: dict[str, str]) -> list[str]:
    found: list[str] = []
    for d in GENERATED_DIRS:
        base = root / d
        if not base.is_dir():
            continue
        for p in base.rglob("*"):
            rel = p.relative_to(root).as_posix()
            if p.is_file() and rel not in rendered and not rel.startswith(HAND_WRITTEN):
                found.append(rel)
    return sorted(found)


def check(rendered: dict[str, str], root: Path) -> RenderResult:
    res = RenderResult()
    for rel, text in rendered.items():
        p = root / rel
        if p.is_file() and p.read_text(encoding="utf-8") == text:
            res.unchanged.append(rel)
        else:
            res.drifted.append(rel)
    res.orphans = _orphans(root, rendered)
    return res


def apply(rendered: dict[str, str], root: Path, prune: bool = False) -> RenderResult:
    res = check(rendered, root)
    for rel in res.drifted:
        write_atomic(root / rel, rendered[rel])
    res.written, res.drifted = res.drifted, []
    if prune:
        for rel in res.orphans:
            (root / rel).unlink()
        res.orphans = []
    return res


def seed_hand_written(src: Path, dst: Path) -> list[str]:
    """Copy the hand-written subtrees (alerts/tests/) from `src` to a render target `dst`
    that lacks them, so the target is a tree lint can check on its own."""
    copied: list[str] = []
    if src.resolve() == dst.resolve():
        return copied
    for sub in HAND_WRITTEN:
        if (src / sub).is_dir() and not (dst / sub).exists():
            shutil.copytree(src / sub, dst / sub)
            copied.append(sub)
    return copied
