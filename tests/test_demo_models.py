"""Several models in the demo (`--models`): which models run, and the single pane on them.

The selection and its one-line errors are checked directly. Then a fast stack runs three
models of the shipped bundle, two sharing the namespace `vllm`, against real Prometheus:
every target is up, and the committed dashboard's per-model panels, queried the way
Grafana sends them, give one series per model, told apart by namespace and model_name
(two within `vllm`). "Ready pods per model" reads the lifecycle recordings, which exist
only for deployed models: it shows all three because the stack's rules treat every model
it runs as deployed. (`tests/test_scenarios_all.py` runs metrics-disabled on such a stack:
VLLMMetricsAbsent must fire for the third model only.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from observability.cli import app
from observability.config import BundleConfig
from observability.dashboards.exprs import iter_panels, substitute, template_values
from observability.local.models import ModelsError, demo_config, demo_models, parse_models
from observability.local.stack import LocalStack, StackOptions
from observability.promapi import Prometheus

DEEPSEEK = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
LLAMA = "meta-llama/Meta-Llama-3-8B-Instruct"
MISTRAL = "mistralai/Mistral-7B-Instruct-v0.3"
THREE = (
    ("deepseek-r1-distill-llama-8b", "vllm"),
    ("llama-3-8b-instruct", "vllm-llama"),
    ("mistral-7b-instruct-s3", "vllm"),
)


def test_counts_pick_new_namespaces_first_then_share(bundle: BundleConfig) -> None:
    assert demo_models(bundle) == THREE[:2]  # the default: two models, two namespaces
    assert parse_models(bundle, "3") == THREE
    assert parse_models(bundle, "1") == THREE[:1]


def test_keys_with_namespaces(bundle: BundleConfig) -> None:
    assert parse_models(bundle, "llama-3-8b-instruct=vllm, mistral-7b-instruct-s3") == (
        ("llama-3-8b-instruct", "vllm"),
        ("mistral-7b-instruct-s3", "vllm"),
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("0", "--models 0: give 1 to 4"),
        ("9", "--models 9: give 1 to 4"),
        ("llama-3-8b-instrct", "did you mean 'llama-3-8b-instruct'?"),
        ("mistral-7b-instruct-s3,mistral-7b-instruct-s3", "named twice"),
        ("llama-3-8b-instruct=elsewhere", "namespace 'elsewhere' of 'llama-3-8b-instruct' is not"),
    ],
)
def test_bad_models_name_the_problem(bundle: BundleConfig, spec: str, says: str) -> None:
    with pytest.raises(ModelsError, match=None) as err:
        parse_models(bundle, spec)
    assert says in str(err.value)


def test_two_models_serving_one_name_in_one_namespace_are_refused(bundle: BundleConfig) -> None:
    models = dict(bundle.models)
    models["qwen2-5-7b-instruct-pvc"] = models["qwen2-5-7b-instruct-pvc"].model_copy(
        update={"served_name": MISTRAL}
    )
    cfg = bundle.model_copy(update={"models": models})
    with pytest.raises(ModelsError) as err:
        parse_models(cfg, "mistral-7b-instruct-s3,qwen2-5-7b-instruct-pvc")
    assert "cannot be told apart" in str(err.value)


def test_demo_config_deploys_every_model_run_one_absent_rule_each(bundle: BundleConfig) -> None:
    from observability.alerting.rules import rule_groups

    cfg = demo_config(bundle, THREE)
    assert cfg.vllm.deploy == [k for k, _ in THREE]
    absent = [
        r["labels"]
        for g in rule_groups(cfg)
        for r in g["rules"]
        if r.get("alert") == "VLLMMetricsAbsent"
    ]
    assert [(a["namespace"], a["model_name"]) for a in absent] == [
        ("vllm", DEEPSEEK),
        ("vllm-llama", LLAMA),
        ("vllm", MISTRAL),
    ]
    moved = demo_config(bundle, (("llama-3-8b-instruct", "vllm"),))
    assert moved.model_namespace("llama-3-8b-instruct") == "vllm"


def test_demo_cli_refuses_bad_models_in_one_line(repo_root: Path) -> None:
    res = CliRunner().invoke(
        app, ["demo", "--models", "9", "-c", str(repo_root / "bundle.yaml")], catch_exceptions=False
    )
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --models 9: give 1 to 4"), lines


# -- three models on real Prometheus ----------------------------------------------------
def _panel_expr(dash: dict[str, Any], title: str, values: dict[str, str]) -> str:
    panel = next(p for p in iter_panels(dash) if p["title"] == title)
    return substitute(panel["targets"][0]["expr"], template_values(dash, values), "1m")


def _series(prom: Prometheus, expr: str) -> dict[tuple[str, str], float]:
    return {
        (r["metric"].get("namespace", ""), r["metric"]["model_name"]): float(r["value"][1])
        for r in prom.query(expr)
    }


def _wait_for(
    prom: Prometheus, expr: str, ok: Callable[[dict[tuple[str, str], float]], bool], timeout: float
) -> dict[tuple[str, str], float]:
    """The panel's series once `ok` holds for them, or the last ones read at `timeout`."""
    end = time.monotonic() + timeout
    while True:
        got = _series(prom, expr)
        if ok(got) or time.monotonic() > end:
            return got
        time.sleep(0.5)


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_three_models_two_sharing_a_namespace_every_target_up_panels_per_model(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    dash = json.loads((repo_root / "dashboards" / "vllm-single-pane.json").read_text("utf-8"))
    stack = LocalStack(
        StackOptions(
            cfg=bundle,
            repo_root=repo_root,
            profile="fast",
            models=parse_models(bundle, "3"),
            state_file=tmp_path / "state.json",
        )
    )
    try:
        stack.start()
        targets = stack.targets()
        assert [t for t in targets if t["health"] != "up"] == []
        vllm = {
            (t["labels"]["namespace"], t["labels"]["pod"])
            for t in targets
            if t["labels"]["job"] == "vllm"
        }
        assert len(vllm) == 6  # 3 models x 2 replicas
        assert sorted(ns for ns, _ in vllm) == ["vllm"] * 4 + ["vllm-llama"] * 2
        every = {("vllm", DEEPSEEK), ("vllm-llama", LLAMA), ("vllm", MISTRAL)}
        with Prometheus(stack.prometheus_url, timeout=5.0) as prom:
            ttft = _panel_expr(dash, "Time to first token", {})
            got = _wait_for(prom, ttft, lambda t: set(t) == every, 40)
            assert set(got) == every, got
            # Pinned to the shared namespace: the two models in it, apart by model_name.
            shared = _panel_expr(dash, "Time to first token", {"namespace": "vllm"})
            assert set(_series(prom, shared)) == {("vllm", DEEPSEEK), ("vllm", MISTRAL)}
            # The series exist from the first scrape (counters start at 0); wait for the load's
            # tokens to reach every model. On a busy CI machine that can take tens of seconds.
            tokens = _wait_for(
                prom,
                _panel_expr(dash, "Generation tokens/s", {}),
                lambda t: len(t) == 3 and all(v > 0 for v in t.values()),
                60,
            )
            assert {m for _, m in tokens} == {DEEPSEEK, LLAMA, MISTRAL}, tokens
            assert all(v > 0 for v in tokens.values()), tokens
            ready = _series(prom, _panel_expr(dash, "Ready pods per model", {}))
            assert {m: v for (_, m), v in ready.items()} == {DEEPSEEK: 2, LLAMA: 2, MISTRAL: 2}
            firing = {a["labels"]["alertname"] for a in prom.alerts() if a["state"] == "firing"}
            assert firing <= {"Watchdog"}, firing
    finally:
        stack.stop()
