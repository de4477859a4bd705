"""What KEDA would ask for now: the ScaledObject's exact query against a Prometheus."""

from __future__ import annotations

from dataclasses import dataclass

from observability.autoscaling.keda import desired_replicas, waiting_query
from observability.config import BundleConfig
from observability.promapi import Prometheus

__all__ = ["Desired", "desired_now"]


@dataclass(frozen=True)
class Desired:
    key: str
    query: str
    value: float
    replicas: int
    min_replicas: int
    max_replicas: int

    def line(self) -> str:
        return (
            f"KEDA {self.key}: waiting {self.value:g} -> {self.replicas} replicas "
            f"(ceil(waiting/target) in [{self.min_replicas}, {self.max_replicas}])"
        )


def desired_now(prom: Prometheus, cfg: BundleConfig, keys: list[str]) -> list[Desired]:
    out = []
    for key in keys:
        scale = cfg.models[key].autoscaling
        q = waiting_query(cfg, key)
        res = prom.query(q)
        value = float(res[0]["value"][1]) if res else 0.0
        out.append(
            Desired(
                key,
                q,
                value,
                desired_replicas(
                    value, scale.waiting_per_replica, scale.min_replicas, scale.max_replicas
                ),
                scale.min_replicas,
                scale.max_replicas,
            )
        )
    return out
