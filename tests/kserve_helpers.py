"""Bundles with KServe models (tests only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtimes_helpers import runtimes_data

KSERVE_KEY = "granite-3-8b-instruct"
KSERVE_MODEL = "ibm-granite/granite-3.3-8b-instruct"
KSERVE_NS = "kserve-llm"


def kserve_data(repo_root: Path, *, api: str, controller_monitors: bool) -> dict[str, Any]:
    """The one-model-per-runtime bundle plus a deployed KServe model in its own namespace."""
    data = runtimes_data(repo_root)
    vllm_key = data["vllm"]["deploy"][0]
    data["models"][KSERVE_KEY] = {
        **data["models"][vllm_key],
        "hf_id": KSERVE_MODEL,
        "served_name": KSERVE_MODEL,
        "runtime": "kserve",
        "namespace": KSERVE_NS,
    }
    data["vllm"]["deploy"] = [*data["vllm"]["deploy"], KSERVE_KEY]
    data.setdefault("runtimes", {})["kserve"] = {
        "api": api,
        "controller_monitors": controller_monitors,
    }
    return data
