"""Autoscaling on the queue: KEDA ScaledObjects, their query and the replicas they ask for."""

from observability.autoscaling.keda import (
    desired_replicas,
    keda_application,
    scalable_models,
    scaled_object,
    waiting_query,
)

__all__ = [
    "desired_replicas",
    "keda_application",
    "scalable_models",
    "scaled_object",
    "waiting_query",
]
