"""The inference pool in the local stack (`obsctl demo --inference-pool`): the bundle with
the pool on, the token the simulated endpoint picker requires and Prometheus sends (as the
ServiceMonitor's Secret would hold it), and the simulator settings for the EPP."""

from __future__ import annotations

import secrets
from typing import Any

from observability.config import BundleConfig
from observability.local.models import DemoModels, demo_models
from observability.local.ports import PortAllocator

__all__ = ["epp_secrets", "epp_settings", "with_inference_pool"]


def with_inference_pool(
    cfg: BundleConfig, models: DemoModels = (), disaggregation: bool = False
) -> BundleConfig:
    """`cfg` with gateway.inference_pool on (obsctl demo --inference-pool): the pool in the
    namespace of the demo's first model, every demo model there routed by it; with
    `disaggregation` (the simulator's NIXL prefill/decode pairs, `--nixl`) a P/D pool."""
    models = models or demo_models(cfg)
    ns = models[0][1]
    members = {k for k, n in models if n == ns}
    registry = {
        k: m.model_copy(update={"inference_pool": cfg.pool.name}) if k in members else m
        for k, m in cfg.models.items()
    }
    pool = cfg.pool.model_copy(
        update={
            "enabled": True,
            "namespace": ns,
            **({"disaggregation": True} if disaggregation else {}),
        }
    )
    gateway = cfg.gateway.model_copy(update={"inference_pool": pool})
    return cfg.model_copy(update={"gateway": gateway, "models": registry})


def epp_secrets(cfg: BundleConfig) -> dict[tuple[str, str], str]:
    """(Secret name, key) -> token: the Secret the EPP's monitor reads, as a cluster holds it."""
    auth = cfg.pool.auth
    if not cfg.pool.enabled or auth.source == "none":
        return {}
    return {(auth.secret.name, auth.secret.key): secrets.token_hex(16)}


def epp_settings(
    cfg: BundleConfig,
    ports: PortAllocator,
    tokens: dict[tuple[str, str], str],
    generation: str = "0.10.0",
) -> dict[str, Any]:
    """SimConfig fields of the pool's endpoint picker (none when the pool is off);
    `generation`: whose metric names it serves (sim/epp.py GENERATIONS)."""
    if not cfg.pool.enabled:
        return {}
    return {
        "epp_port": ports.one(),
        "epp_pool": cfg.pool.name,
        "epp_namespace": cfg.epp_namespace,
        "epp_token": next(iter(tokens.values()), ""),
        "epp_service": cfg.epp_service,
        "epp_port_name": cfg.pool.epp.port_name,
        "epp_generation": generation,
    }
