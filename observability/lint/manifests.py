"""Load the rendered Kubernetes manifests of the repository, remembering where each came from.

A manifest is every YAML document with `apiVersion` and `kind` under the generated
directories, except kustomization files, the patches they reference (partial objects)
and hand-written promtool tests. Documents with neither key (plain config files) are
not Kubernetes objects and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from observability.lint.findings import Finding
from observability.render.registry import GENERATED_DIRS, HAND_WRITTEN

__all__ = ["Manifest", "field_path", "load_manifests", "obj_id", "yaml_files"]

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Manifest:
    file: str  # repository-relative path
    index: int  # document number in the file
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def id(self) -> str:
        return obj_id(self.obj)


def obj_id(obj: dict[str, Any], default_ns: str = "") -> str:
    """`Kind/namespace/name` (namespace omitted when unknown)."""
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        meta = {}
    ns = meta.get("namespace") or default_ns
    parts = [str(obj.get("kind", "?")), *([str(ns)] if ns else []), str(meta.get("name", "?"))]
    return "/".join(parts)


def field_path(parts: Any) -> str:
    """`spec.endpoints[0].port` from a jsonschema path deque."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def yaml_files(root: Path) -> Iterator[Path]:
    for d in GENERATED_DIRS:
        base = root / d
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.is_file() and p.suffix in (".yaml", ".yml"):
                    yield p


def _patch_files(root: Path) -> set[Path]:
    """Files kustomizations use as patches: partial objects, validated after the build."""
    found: set[Path] = set()
    for d in GENERATED_DIRS:
        for k in (root / d).rglob("kustomization.yaml") if (root / d).is_dir() else ():
            try:
                data = yaml.safe_load(k.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError:
                continue  # reported by the kustomize check
            entries = [*(data.get("patches") or []), *(data.get("patchesStrategicMerge") or [])]
            for e in entries:
                path = e.get("path") if isinstance(e, dict) else e
                if isinstance(path, str):
                    found.add((k.parent / path).resolve())
    return found


def load_manifests(root: Path) -> tuple[list[Manifest], list[Finding]]:
    manifests: list[Manifest] = []
    findings: list[Finding] = []
    patches = _patch_files(root)
    for path in yaml_files(root):
        rel = path.relative_to(root).as_posix()
        if path.name in KUSTOMIZATION_NAMES or rel.startswith(HAND_WRITTEN):
            continue
        if path.resolve() in patches:
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            findings.append(
                Finding("yaml", rel, f"not valid YAML{where}: re-render with `obsctl render`")
            )
            continue
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                findings.append(
                    Finding("yaml", rel, f"document {i} is a {type(doc).__name__}, not a mapping")
                )
                continue
            has = ("apiVersion" in doc, "kind" in doc)
            if not any(has):
                continue  # a plain config file, not a Kubernetes object
            if not all(has):
                missing = "kind" if has[0] else "apiVersion"
                findings.append(
                    Finding("schema", rel, f"object has no {missing}", obj_id(doc), missing)
                )
                continue
            manifests.append(Manifest(rel, i, doc))
    return manifests, findings
