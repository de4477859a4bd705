"""What the exporters expose: vLLM catalogs per version, DCGM fields, PromQL helpers."""

from observability.metrics.catalog import (
    Catalog,
    MetricFamily,
    available_vllm_versions,
    dcgm_catalog,
    vllm_catalog,
)
from observability.metrics.promql import Promql, divide
from observability.metrics.signals import DCGM, SIGNALS, VLLM, Signal

__all__ = [
    "DCGM",
    "SIGNALS",
    "VLLM",
    "Catalog",
    "MetricFamily",
    "Promql",
    "Signal",
    "available_vllm_versions",
    "dcgm_catalog",
    "divide",
    "vllm_catalog",
]
