"""Every pair of optional shapes, and all of them at once, render, lint clean and pass
`render --check` (issue: RayService, AIBrix and KEDA were each proven alone and failed lint
beside the cluster label).

The pairs come from a covering array: row r of the 8 bundles turns on option c when r is
in c's 4-subset of {0..7}, every subset containing row 0. Two such subsets always share row
0 (both on), differ somewhere (one on, the other off, both ways) and, having at most 7 rows
between them, leave one row where both are off: all four combinations of every pair in 8
bundles, for up to 35 options. The random examples of test_config_space.py draw the rest.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.configspace import BASE, check_tree

Option = Callable[[dict[str, Any]], None]
_COST = {"input_per_1k": 0.0002, "output_per_1k": 0.0006}


def _deploy(data: dict[str, Any], key: str, **model: Any) -> None:
    data["models"][key] = {"hf_id": f"org/{key}", "served_name": f"org/{key}", "gpus": 1,
                           "cost": _COST, **model}  # fmt: skip
    data["vllm"]["deploy"].append(key)


def rayservice(d: dict[str, Any]) -> None:
    _deploy(d, "ray-llama", runtime="rayservice", namespace="vllm-llama")


def aibrix(d: dict[str, Any]) -> None:
    _deploy(d, "aibrix-qwen", runtime="aibrix", served_name="aibrix-qwen")


def kserve(d: dict[str, Any]) -> None:
    _deploy(d, "kserve-mistral", runtime="kserve")


def lws(d: dict[str, Any]) -> None:
    _deploy(d, "lws-llama-70b", runtime="lws", nodes=2, gpus=8)


def tgi(d: dict[str, Any]) -> None:
    d["vllm"]["deploy"].append("mistral-7b-instruct-tgi")


def s3(d: dict[str, Any]) -> None:
    d["vllm"]["deploy"].append("mistral-7b-instruct-s3")


def s3_compatible(d: dict[str, Any]) -> None:
    """No identity annotation (EKS Pod Identity or the node's role), a MinIO endpoint."""
    s3 = {"uri": "s3://models/qwen/", "endpoint_url": "http://minio.storage:9000"}
    _deploy(d, "minio-qwen", source="s3", s3=s3)


def pvc(d: dict[str, Any]) -> None:
    d["vllm"]["deploy"].append("qwen2-5-7b-instruct-pvc")


def keda(d: dict[str, Any]) -> None:
    d["autoscaling"] = {"keda": {"enabled": True}}


def cluster_label(d: dict[str, Any]) -> None:
    d["prometheus"].update(cluster_label="cluster", cluster_name="prod-eu")


def ha(d: dict[str, Any]) -> None:
    d["prometheus"]["replicas"] = 2
    d["alertmanager"] = {"replicas": 3}


def remote_write(d: dict[str, Any]) -> None:
    d["prometheus"]["remote_write"] = [
        {"name": "mimir", "url": "https://mimir.example/api/v1/push", "only_bundle_series": True,
         "basic_auth": {"name": "mimir-auth"}},
        {"name": "vm", "url": "https://vm.example/api/v1/write",
         "bearer_token": {"name": "vm-token", "key": "token"}},
    ]  # fmt: skip


def thanos(d: dict[str, Any]) -> None:
    d["prometheus"]["thanos"] = {"enabled": True, "object_store": {"name": "thanos", "key": "o"}}


def gpu_operator(d: dict[str, Any]) -> None:
    d["gpu"]["dcgm_exporter"] = "gpu-operator"


def namespaces(d: dict[str, Any]) -> None:
    d["namespaces"] = {"argocd": "gitops", "monitoring": "observability", "vllm": "inference",
                       "gateway": "api-gateway"}  # fmt: skip


def verify_cronjob(d: dict[str, Any]) -> None:
    d["verify"] = {"cronjob": True}


def receivers(d: dict[str, Any]) -> None:
    d["alerting"]["receivers"] = {"ticket_webhook_url": "https://tickets.example/hook",
                                  "heartbeat_webhook_url": "https://hc.example/ping",
                                  "webhook_token_from_secret": True}  # fmt: skip


def second_model(d: dict[str, Any]) -> None:
    d["vllm"]["deploy"].append("llama-3-8b-instruct")
    d["vllm"]["replicas"] = 2


OPTIONS: list[Option] = [
    rayservice, aibrix, kserve, lws, tgi, s3, s3_compatible, pvc, keda, cluster_label, ha, remote_write, thanos,
    gpu_operator, namespaces, verify_cronjob, receivers, second_model,
]  # fmt: skip
ROWS = 8
COLUMNS = [frozenset((0, *rest)) for rest in itertools.combinations(range(1, ROWS), 3)]


def _bundle(options: list[Option]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for option in options:
        option(data)
    return data


def _row(r: int) -> list[Option]:
    return [opt for opt, rows in zip(OPTIONS, COLUMNS, strict=False) if r in rows]


def test_the_rows_cover_every_pair_both_ways() -> None:
    assert len(OPTIONS) <= len(COLUMNS)
    rows = [set(_row(r)) for r in range(ROWS)]
    for a, b in itertools.combinations(OPTIONS, 2):
        seen = {(a in row, b in row) for row in rows}
        assert seen == {(True, True), (True, False), (False, True), (False, False)}, (a, b)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "options",
    [_row(r) for r in range(ROWS)] + [OPTIONS],
    ids=[f"row{r}" for r in range(ROWS)] + ["everything"],
)
def test_every_pair_of_options_lints_clean(options: list[Option], tmp_path: Path) -> None:
    assert check_tree(_bundle(options), tmp_path) == [], [o.__name__ for o in options]
