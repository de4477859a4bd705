"""What the cluster serves besides replicas: exporters (DCGM per node, kube-state-metrics,
Ray heads, AIBrix components). Each has its port, the Content-Type its real counterpart
answers a scrape with, and renders its exposition at scrape time; the cluster dispatches
`/metrics` on an exporter's port through one port -> exporter map."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PROMETHEUS_TEXT", "Exporter"]

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus text format 0.0.4


class Exporter(Protocol):
    @property
    def port(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    def exposition(self) -> bytes: ...
