"""Every valid bundle.yaml renders a bundle that lints clean: a property over the config space.

The strategy (testkit/configspace.py) draws 1-4 registry models, any deploy subset, shared
or own namespaces, renamed namespaces, cluster_label set or not, replicas, thresholds on
any valid bucket edge, GPU settings and Secret names. CI runs the `ci` hypothesis profile
(8 examples); `HYPOTHESIS_PROFILE=soak` or bench/config_soak.py run many more.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

from observability.config import parse_config
from testkit.configspace import BASE, bundles, check_tree, register_profiles

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.mark.timeout(900)  # ~4 s an example on an idle 2-core box; far more under load
@given(data=bundles())
def test_every_valid_bundle_renders_lints_and_checks_clean(data):
    with tempfile.TemporaryDirectory(prefix="obsctl-space-") as tmp:
        assert check_tree(data, Path(tmp)) == []


@given(data=bundles())
@settings(max_examples=50)
def test_the_strategy_draws_only_valid_bundles(data):
    cfg = parse_config(data)  # raises ConfigError (the test fails) on an invalid draw
    assert 1 <= len(cfg.models) <= 4
    assert set(cfg.vllm.deploy) <= set(cfg.models)


def _deploying(*keys: str) -> dict:
    data = copy.deepcopy(BASE)
    data["vllm"]["deploy"] = list(keys)
    return data


def _registering_ray(data: dict) -> dict:
    data["models"]["ray-llama"] = {
        "hf_id": "org/ray-llama",
        "served_name": "org/ray-llama",
        "runtime": "rayservice",
        "cost": {"input_per_1k": 0.0002, "output_per_1k": 0.0006},
    }
    return data


@pytest.mark.parametrize(
    "data",
    [
        BASE,
        _deploying(),  # monitor-only: nothing deployed
        _deploying("llama-3-8b-instruct"),  # a model with its own namespace, alone
        _deploying("deepseek-r1-distill-llama-8b", "llama-3-8b-instruct"),
        # found by the space: a registered RayService model renders its PodMonitor, which
        # selects no pod here while the model is served from outside (a warning, not an error)
        _registering_ray(_deploying("deepseek-r1-distill-llama-8b")),
    ],
    ids=[
        "committed",
        "none-deployed",
        "own-namespace-alone",
        "two-models",
        "rayservice-registered-not-deployed",
    ],
)
def test_the_reported_layouts_pass_the_property(tmp_path, data):
    assert check_tree(data, tmp_path) == []
