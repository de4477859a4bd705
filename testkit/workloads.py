"""A bundle that renders every kind of pod template: one model per registered runtime, every
weight source, KEDA on, all deployed, and the rendered tree with its kustomize builds.

The runtimes come from the registry, so a runtime added there (LWS, KServe, ...) is rendered
here without a change; its pod templates are then held to what tests/test_pod_security.py
checks.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

from observability.config import BundleConfig, parse_config
from observability.lint.kustomize import build_all
from observability.lint.manifests import Manifest, load_manifests
from observability.render.registry import apply, render_all
from observability.runtimes import REGISTRY
from testkit.configspace import BASE, REPO_ROOT

__all__ = ["every_workload_data", "rendered_manifests", "runtime_key"]


def runtime_key(runtime: str) -> str:
    return f"wl-{runtime}"


def every_workload_data() -> dict[str, Any]:
    """The committed bundle (its s3, pvc and TGI models) plus one model per runtime, all
    deployed, KEDA scaling each on its queue."""
    data = copy.deepcopy(BASE)
    template = data["models"]["deepseek-r1-distill-llama-8b"]
    for name in REGISTRY:
        key = runtime_key(name)
        data["models"][key] = {
            **copy.deepcopy(template),
            "hf_id": f"org/{key}",
            "served_name": key,  # a Kubernetes name: AIBrix routes on it
            "runtime": name,
            "autoscaling": {"min_replicas": 1, "max_replicas": 3, "waiting_per_replica": 8},
        }
    data["vllm"]["deploy"] = list(data["models"])
    data.setdefault("autoscaling", {})["keda"] = {"enabled": True}
    return data


def rendered_manifests(data: dict[str, Any], tmp: Path) -> tuple[BundleConfig, list[Manifest]]:
    """Render `data` under `tmp` and return every raw manifest and every kustomize-built one."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "bundle.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    shutil.copytree(REPO_ROOT / "alerts" / "tests", tmp / "alerts" / "tests", dirs_exist_ok=True)
    cfg = parse_config(data)
    apply(render_all(cfg), tmp)
    raw, _findings = load_manifests(tmp)
    builds, _findings = build_all(tmp)
    built = [
        Manifest(f"{b.dir}/kustomization.yaml", i, obj)
        for b in builds.values()
        for i, obj in enumerate(b.objects)
        if "apiVersion" in obj and "kind" in obj
    ]
    return cfg, raw + built
