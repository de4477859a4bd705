"""The single pane: overview stats, then latency, throughput, scheduler, cache, errors,
GPU and cost rows, top to bottom, then one row per runtime in use and the inference
router's (pane_router). Each group of rows
is built in its own module (pane_overview, pane_latency, pane_engine, pane_gpu); this
one puts them in order."""

from __future__ import annotations

from observability.config import BundleConfig
from observability.dashboards.finalize import dashboard_json
from observability.dashboards.layout import laid_out
from observability.dashboards.pane_engine import cache, errors, scheduler
from observability.dashboards.pane_gpu import GPU_BY, GPU_LEGEND, capacity, cost, gpu
from observability.dashboards.pane_latency import latency, request_shape, throughput
from observability.dashboards.pane_overview import STAT_H, STAT_W, alerts, overview
from observability.dashboards.pane_router import ROW as ROUTER_ROW
from observability.dashboards.pane_router import router
from observability.dashboards.panels import PanelSpec
from observability.dashboards.queries import Queries
from observability.dashboards.runtimes import runtime_rows

__all__ = [
    "GPU_BY",
    "GPU_LEGEND",
    "STAT_H",
    "STAT_W",
    "alerts",
    "build_single_pane",
    "cache",
    "capacity",
    "cost",
    "errors",
    "gpu",
    "latency",
    "overview",
    "request_shape",
    "rows",
    "scheduler",
    "throughput",
]


def rows(cfg: BundleConfig) -> list[tuple[str, list[PanelSpec]]]:
    q = Queries(cfg)
    return [
        ("Overview", overview(q, cfg)),
        ("Alerts", alerts(q, cfg)),
        ("Latency", latency(q, cfg)),
        ("Throughput", throughput(q, cfg)),
        ("Request shape", request_shape(q, cfg)),
        ("Scheduler", scheduler(q, cfg)),
        ("KV cache", cache(q, cfg)),
        ("Errors", errors(q, cfg)),
        ("GPU (DCGM)", gpu(q, cfg)),
        ("GPU capacity and pod lifecycle", capacity(q, cfg)),
        ("Cost", cost(q, cfg)),
        *runtime_rows(cfg),
        *([(ROUTER_ROW, router(q, cfg))] if cfg.pool.enabled else []),
    ]


def build_single_pane(cfg: BundleConfig) -> dict:
    return dashboard_json(cfg, laid_out(rows(cfg)))
