"""#11: the demo with three models, two sharing a namespace (`--models 3`: deepseek and
mistral-s3 in `vllm`, llama in `vllm-llama`): metrics-disabled silences the last one,
mistral, and VLLMMetricsAbsent must fire for that model only, not for deepseek beside it.
Alone (not beside the other scenario stacks of tests/test_scenarios_all.py) so that its
CPU does not starve their timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SILENCED = "vllm/mistralai/Mistral-7B-Instruct-v0.3"


@pytest.mark.timeout(400)
def test_metrics_absent_fires_for_the_silenced_model_only(repo_root: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "observability.cli",
            "scenario",
            "run",
            "metrics-disabled",
            "--models",
            "3",
            "--profile",
            "fast",
            "--fresh",
            "--json",
            "--config",
            str(repo_root / "bundle.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=360,
    )
    data = json.loads(run.stdout)
    (res,) = data["results"]
    assert res["ok"], res
    assert res["target_model"] == SILENCED, res
    absent = [a for a in res["alerts"] if a["alert"] == "VLLMMetricsAbsent"]
    assert [a["models"] for a in absent] == [[SILENCED]], res
    assert len(res["targets"]) == 2, res  # both replicas of that model
