"""Scenarios that run on a stack of their own, not beside the three concurrent stacks of
tests/test_scenarios_all.py.

- #11: the demo with three models, two sharing a namespace (`--models 3`: deepseek and
  mistral-s3 in `vllm`, llama in `vllm-llama`): metrics-disabled silences the last one,
  mistral, and VLLMMetricsAbsent must fire for that model only, not for deepseek beside it.
  A three-model stack's CPU starved the other stacks' timing.
- latency-degradation: with three stacks on two cores it missed VLLMHighTimeToFirstToken
  in four full CI runs while passing alone every time. The cause was the load, not the
  rule: Locust's closed-loop users wait out their slowed replies, so the slowed model got
  too few first tokens to move p99 over 5 m. The scenario now adds open-loop short
  requests (catalog: burst_users/burst_max_tokens); it stays alone for margin."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario_helpers import run_scenarios

pytestmark = pytest.mark.e2e

SILENCED = "vllm/mistralai/Mistral-7B-Instruct-v0.3"


@pytest.mark.timeout(400)
def test_metrics_absent_fires_for_the_silenced_model_only(repo_root: Path) -> None:
    (res,) = run_scenarios(repo_root, ("metrics-disabled",), models="3")
    assert res["ok"], res
    assert res["target_model"] == SILENCED, res
    absent = [a for a in res["alerts"] if a["alert"] == "VLLMMetricsAbsent"]
    assert [a["models"] for a in absent] == [[SILENCED]], res
    assert len(res["targets"]) == 2, res  # both replicas of that model


@pytest.mark.timeout(400)
def test_latency_degradation_pages_both_latency_alerts(repo_root: Path) -> None:
    (res,) = run_scenarios(repo_root, ("latency-degradation",))
    assert res["ok"], res
    fired = {a["alert"] for a in res["alerts"] if a["fired"]}
    assert {"VLLMHighInterTokenLatency", "VLLMHighTimeToFirstToken"} <= fired, res
