"""A bundle with one model per runtime, rendered into a temporary tree (tests only)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from observability.alerting.rules import rule_groups
from observability.config import BundleConfig, parse_config
from observability.local.binaries import find_binary
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


def fill_template(text: str, labels: dict[str, str], value: str) -> str:
    text = re.sub(r"\{\{ \$value \| humanize(Percentage)? \}\}", value, text)
    text = re.sub(
        r"\{\{ \$labels\.(\w+) \| urlquery \}\}",
        lambda m: quote(labels.get(m[1], ""), safe=""),
        text,
    )
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], ""), text)


def fill_annotations(groups: list[dict], tests: list[dict], values: dict[str, str]) -> None:
    """promtool compares annotations too: fill each expected alert's from its rule's
    templates, `$labels` from the expected labels and `$value` from `values` (literal,
    humanized as Prometheus prints it). What the tests pin is which alerts fire, when,
    and with which labels."""
    rules = [r for g in groups for r in g["rules"] if "alert" in r]
    for case in tests:
        for art in case["alert_rule_test"]:
            for exp in art["exp_alerts"]:
                labels = exp["exp_labels"]
                rule = next(
                    r
                    for r in rules
                    if r["alert"] == art["alertname"]
                    and all(labels.get(k) == v for k, v in r["labels"].items())
                )
                out = {
                    key: fill_template(text, labels, values.get(art["alertname"], ""))
                    for key, text in rule["annotations"].items()
                }
                exp["exp_annotations"] = out


def promtool_rules(
    tmp: Path, groups: list[dict[str, Any]], tests: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules` of `tests` against `groups`, in `tmp`."""
    (tmp / "rules.yaml").write_text(
        yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8"
    )
    (tmp / "test.yaml").write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "15s", "tests": tests},
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    return subprocess.run(
        [str(find_binary("promtool")), "test", "rules", "test.yaml"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_promtool_passes(
    tmp: Path, cfg: BundleConfig, tests: list[dict[str, Any]], values: dict[str, str] | None = None
) -> str:
    """The bundle's rules pass `tests`, annotations filled from the rules (fill_annotations)."""
    groups = rule_groups(cfg)
    fill_annotations(groups, tests, values or {})
    res = promtool_rules(tmp, groups, tests)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout
