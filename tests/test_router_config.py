"""gateway.inference_pool: off by default; a model that names a pool must name the enabled
one and run in its namespace; the TTFT threshold sits on an EPP bucket edge. Every error
names the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from observability.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load((ROOT / "bundle.yaml").read_text(encoding="utf-8"))
KEY = next(iter(RAW["vllm"]["deploy"]))


def _data(enabled: bool = True, **pool) -> dict:
    data = copy.deepcopy(RAW)
    data["gateway"] = {"inference_pool": {"enabled": enabled, **pool}}
    return data


def test_off_by_default() -> None:
    cfg = parse_config(copy.deepcopy(RAW))
    assert cfg.pool.enabled is False
    assert cfg.pool_models == []


def test_defaults_follow_the_router_chart() -> None:
    cfg = parse_config(_data())
    assert cfg.epp_service == "vllm-pool-epp"  # the chart's `<release>-epp`
    assert cfg.pool_namespace == cfg.namespaces.vllm == cfg.epp_namespace
    assert (cfg.pool.epp.port_name, cfg.pool.epp.port) == ("http-metrics", 9090)
    assert cfg.pool.auth.source == "service-account"


def test_a_model_joins_the_pool() -> None:
    data = _data()
    data["models"][KEY]["inference_pool"] = "vllm-pool"
    data["models"][KEY].pop("namespace", None)
    assert parse_config(data).pool_models == [KEY]


@pytest.mark.parametrize(
    ("enabled", "pool", "model_ns", "wanted"),
    [
        (False, "vllm-pool", None, "enabled is false"),
        (True, "other-pool", None, "is not the configured pool"),
        (True, "vllm-pool", "team-x", "selects pods in its own namespace"),
    ],
)
def test_a_model_naming_a_pool_is_checked(enabled, pool, model_ns, wanted) -> None:
    data = _data(enabled)
    data["models"][KEY]["inference_pool"] = pool
    if model_ns:
        data["models"][KEY]["namespace"] = model_ns
    else:
        data["models"][KEY].pop("namespace", None)
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert f"models.{KEY}.inference_pool" in str(err.value) and wanted in str(err.value)


def test_ttft_threshold_must_be_an_epp_bucket_edge() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(_data(thresholds={"ttft_p99_seconds": 2.5}))
    assert "gateway.inference_pool.thresholds.ttft_p99_seconds" in str(err.value)
    assert "bucket edge of llm_d_epp_request_ttft_seconds" in str(err.value)
    assert (
        parse_config(_data(thresholds={"ttft_p99_seconds": 3})).pool.thresholds.ttft_p99_seconds
        == 3.0
    )


def test_error_ratios_are_ordered_and_unknown_keys_rejected() -> None:
    with pytest.raises(ConfigError, match="error_ratio_critical"):
        parse_config(_data(thresholds={"error_ratio_warning": 0.3, "error_ratio_critical": 0.2}))
    with pytest.raises(ConfigError, match=r"gateway\.inference_pool\.epp\.prot"):
        parse_config(_data(epp={"prot": 9090}))
