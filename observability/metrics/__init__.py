"""What the exporters expose: vLLM catalogs per version, DCGM fields, PromQL helpers."""

from observability.metrics.catalog import (
    Catalog,
    MetricFamily,
    available_vllm_versions,
    dcgm_catalog,
    vllm_catalog,
)
from observability.metrics.names import DCGM, SIGNALS, VLLM, Signal
from observability.metrics.promql import Promql, divide

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
