"""KEDA locally: the ScaledObject's exact query, evaluated against the demo's Prometheus,
asks for more replicas while a queue builds and returns to the minimum once it drains."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from observability.autoscaling import desired_replicas, scaled_object, waiting_query
from observability.autoscaling.evaluate import desired_now
from observability.config import BundleConfig
from observability.load.burst import Burst
from observability.local.stack import LocalStack, StackOptions
from observability.promapi import Prometheus


def test_desired_replicas_is_the_hpa_formula_clamped() -> None:
    assert desired_replicas(0, 8, 1, 4) == 1
    assert desired_replicas(8, 8, 1, 4) == 1
    assert desired_replicas(8.5, 8, 1, 4) == 2
    assert desired_replicas(24, 8, 1, 4) == 3
    assert desired_replicas(500, 8, 1, 4) == 4
    assert desired_replicas(0, 8, 0, 4) == 0


def _keda(bundle: BundleConfig, max_num_seqs: int | None = None) -> BundleConfig:
    auto = bundle.autoscaling.model_copy(
        update={"keda": bundle.autoscaling.keda.model_copy(update={"enabled": True})}
    )
    models = dict(bundle.models)
    if max_num_seqs is not None:
        key = bundle.vllm.deploy[0]
        models[key] = models[key].model_copy(update={"max_num_seqs": max_num_seqs})
    return bundle.model_copy(update={"autoscaling": auto, "models": models})


def test_scaled_object_carries_the_query_the_demo_evaluates(bundle: BundleConfig) -> None:
    cfg = _keda(bundle)
    key = cfg.vllm.deploy[0]
    so = scaled_object(cfg, key)
    (trigger,) = so["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == waiting_query(cfg, key)
    assert trigger["metadata"]["query"] == (
        'sum(vllm:num_requests_waiting{namespace="vllm", '
        'model_name="deepseek-ai/DeepSeek-R1-Distill-Llama-8B"})'
    )
    assert trigger["metadata"]["threshold"] == "8"
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (1, 4)
    assert so["spec"]["scaleTargetRef"]["name"] == f"vllm-{key}"


def _desired(url: str, cfg: BundleConfig, key: str) -> int:
    with Prometheus(url, timeout=3.0) as prom:
        return desired_now(prom, cfg, [key])[0].replicas


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_desired_replicas_rise_with_the_queue_and_return(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    # 8 sequences per batch: 64 back-to-back clients on two replicas leave ~48 waiting.
    cfg = _keda(bundle, max_num_seqs=8)
    opts = StackOptions(
        cfg=cfg, repo_root=repo_root, profile="fast", state_file=tmp_path / "s.json", users=2
    )
    stack = LocalStack(opts)
    key = cfg.vllm.deploy[0]
    try:
        stack.start()
        baseline = _desired(stack.prometheus_url, cfg, key)
        assert baseline == 1
        replicas = [r for r in stack.running.replicas if r.model_key == key]
        peak = baseline
        with Burst([(r.url, r.model) for r in replicas], 64):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and peak < 3:
                time.sleep(1)
                peak = max(peak, _desired(stack.prometheus_url, cfg, key))
        assert peak >= 3, peak
        deadline = time.monotonic() + 60
        after = peak
        while time.monotonic() < deadline and after > 1:
            time.sleep(1)
            after = _desired(stack.prometheus_url, cfg, key)
        assert after == 1
    finally:
        stack.stop()
