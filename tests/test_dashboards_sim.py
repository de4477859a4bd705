"""Every panel has data against a real Prometheus scraping the simulators under load.

Two simulators run side by side: the newest vLLM in one namespace, 0.7.3 in another.
Prometheus scrapes them (1 s) through the bundle's own ServiceMonitors translated by the
local stack and evaluates the bundle's rule files (the panels read its recordings); requests flow for ~25 s; then `empty_panels` must find nothing, per namespace.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sim_helpers import sim_config

from observability.dashboards import build_all
from observability.dashboards.check import empty_panels
from observability.local.ports import PortAllocator
from observability.local.prometheus import start_prometheus
from observability.local.scrapeconfig import (
    load_service_monitors,
    scrape_configs,
    targets_from_manifest,
)
from observability.process import Supervisor
from observability.sim import SimModel, SimThread
from testkit.rulefill import write_rule_files

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

LOAD_S = 25


def _sim(bundle, version: str, namespace: str) -> SimThread:
    key = bundle.vllm.deploy[0]
    m = bundle.models[key]
    models = (SimModel(key, m.served_name, namespace=namespace),)
    return SimThread(
        sim_config(models, replicas=2, gpus_per_node=1, vllm_version=version, time_scale=0.05)
    )


async def _load(ports: list[int], model: str, seconds: float) -> int:
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient, port: int) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            r = await client.post(
                f"http://127.0.0.1:{port}/v1/completions",
                json={"model": model, "prompt": "hello " * 50, "max_tokens": 64},
            )
            done += r.status_code == 200

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client, p) for p in ports for _ in range(3)))
    return done


def test_every_panel_has_data_on_simulated_vllm_newest_and_0_7_3(bundle, repo_root, tmp_path):
    sims = {
        "vllm": _sim(bundle, "latest", "vllm"),
        "vllm-legacy": _sim(bundle, "0.7.3", "vllm-legacy"),
    }
    sup = Supervisor(tmp_path / "logs")
    ports = PortAllocator()
    try:
        targets = []
        for sim in sims.values():
            targets += targets_from_manifest(sim.start())
        monitors = load_service_monitors(repo_root / "servicemonitors")
        for mon in monitors:  # both test namespaces, like the demo's second model
            mon["spec"]["namespaceSelector"] = {"any": True}
        jobs = scrape_configs(monitors, targets, interval_override="1s")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            # The bundle's rules, as the demo loads them: the panels read the recordings.
            "rule_files": [str(p) for p in write_rule_files(bundle, tmp_path / "rules")],
        }
        _, url = start_prometheus(
            sup, {**config, "scrape_configs": jobs}, tmp_path, ports.one(), config_name="p.yml"
        )
        model = bundle.models[bundle.vllm.deploy[0]].served_name
        replica_ports = [r["port"] for s in sims.values() for r in s.manifest["replicas"]]
        ok = asyncio.run(_load(replica_ports, model, LOAD_S))
        assert ok > 20
        time.sleep(2)  # last scrape after the load
        for name, dash in build_all(bundle).items():  # the pane and its two companions
            for ns in sims:
                empty = empty_panels(
                    url, dash, rate_interval="20s", lookback_s=30, values={"namespace": ns}
                )
                assert empty == [], f"{name}, namespace {ns}: {empty}"
    finally:
        sup.stop()
        ports.release()
        for sim in sims.values():
            if sim.cluster is not None:
                sim.stop()
