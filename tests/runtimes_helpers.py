"""A bundle with one model per runtime, rendered into a temporary tree (tests only)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from observability.config import BundleConfig, parse_config
from observability.render.registry import apply, render_all

RAY_KEY = "llama-3-8b-instruct"
VLLM_KEY = "deepseek-r1-distill-llama-8b"


def runtimes_data(repo_root: Path) -> dict[str, Any]:
    """The committed bundle.yaml with the second model on a RayService, both deployed."""
    data = yaml.safe_load((repo_root / "bundle.yaml").read_text(encoding="utf-8"))
    data["vllm"]["deploy"] = [VLLM_KEY, RAY_KEY]
    data["models"][RAY_KEY]["runtime"] = "rayservice"
    # the registry's TGI example would add its own mapping; these tests are about Ray's
    data["models"].pop("mistral-7b-instruct-tgi", None)
    return data


def render_tree(repo_root: Path, tmp: Path, data: dict[str, Any]) -> tuple[Path, BundleConfig]:
    """Write bundle.yaml and everything `obsctl render` produces for it under `tmp`."""
    tree = tmp / "tree"
    tree.mkdir()
    (tree / "bundle.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    shutil.copytree(repo_root / "alerts" / "tests", tree / "alerts" / "tests")
    cfg = parse_config(data)
    apply(render_all(cfg), tree)
    return tree, cfg
