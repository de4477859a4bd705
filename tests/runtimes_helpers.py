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
AIBRIX_KEY = "qwen2-5-7b-instruct"
TGI_KEY = "mistral-7b-instruct"


def runtimes_data(repo_root: Path) -> dict[str, Any]:
    """The committed bundle.yaml with one model per runtime, all deployed: the first on the
    vLLM Deployment, the second on a RayService, a third on AIBrix, a fourth on TGI."""
    data = yaml.safe_load((repo_root / "bundle.yaml").read_text(encoding="utf-8"))
    data["models"][AIBRIX_KEY] = {
        **data["models"][VLLM_KEY],
        "hf_id": "Qwen/Qwen2.5-7B-Instruct",
        "served_name": AIBRIX_KEY,  # AIBrix: label = Service name = served name
        "runtime": "aibrix",
    }
    data["models"][AIBRIX_KEY].pop("namespace", None)
    data["models"][TGI_KEY] = {
        **data["models"][VLLM_KEY],
        "hf_id": "mistralai/Mistral-7B-Instruct-v0.3",
        "served_name": "mistralai/Mistral-7B-Instruct-v0.3",
        "runtime": "tgi",
    }
    data["vllm"]["deploy"] = [VLLM_KEY, RAY_KEY, AIBRIX_KEY, TGI_KEY]
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


def keda_data(repo_root: Path) -> dict[str, Any]:
    """runtimes_data with KEDA enabled (the vLLM model gets a ScaledObject)."""
    data = runtimes_data(repo_root)
    data["autoscaling"] = {"keda": {"enabled": True}}
    data["models"][VLLM_KEY]["autoscaling"] = {
        "min_replicas": 1,
        "max_replicas": 4,
        "waiting_per_replica": 8,
    }
    return data
