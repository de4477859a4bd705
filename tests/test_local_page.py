"""The demo's live snapshot page, served against a real Prometheus."""

from __future__ import annotations

import html
import urllib.error
import urllib.request
from pathlib import Path

from local_helpers import exporter, prometheus, query, wait_for

from observability.config import BundleConfig
from observability.dashboards import build_single_pane
from observability.dashboards.exprs import iter_panels
from observability.local.pageserver import SnapshotServer
from observability.local.ports import PortAllocator, port_is_open


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_page_renders_the_single_pane_and_caches_it(tmp_path: Path, bundle: BundleConfig) -> None:
    dashboard = build_single_pane(bundle)
    with PortAllocator() as ports, exporter(ports) as exp_port:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "vllm", "static_configs": [{"targets": [f"127.0.0.1:{exp_port}"]}]}
            ],
        }
        with prometheus(config, tmp_path, ports) as prom_url:
            assert wait_for(lambda: query(prom_url, "up == 1"), 20)
            with SnapshotServer(prom_url, bundle, "1s", port=ports.one()) as page:
                status, body = _get(page.url)
                assert status == 200, body[:300]
                assert html.escape(dashboard["title"]) in body
                titles = [p["title"] for p in iter_panels(dashboard)]
                assert len(titles) > 10
                missing = [t for t in titles if html.escape(t) not in body]
                assert missing == []
                assert "http-equiv='refresh'" in body and "live: last 15m" in body

                # Within the cache age the same render comes back; another range renders.
                assert _get(page.url)[1] == body
                status, hour = _get(page.url + "?range=1h")
                assert status == 200 and "live: last 1h" in hour

                status, bad = _get(page.url + "?range=forever")
                assert status == 400 and "?range=15m" in bad
                assert _get(page.url + "nope")[0] == 404
                port = int(page.url.rsplit(":", 1)[1].strip("/"))
            assert not port_is_open(port)


def test_prometheus_down_gives_a_one_line_error_page(bundle: BundleConfig) -> None:
    with PortAllocator() as ports:
        dead = f"http://127.0.0.1:{ports.one()}"  # reserved, nothing listens
        with SnapshotServer(dead, bundle, "15s", port=0, max_age_s=1) as page:
            status, body = _get(page.url)
    assert status == 503
    assert "Prometheus cannot be queried" in body and dead in body
    assert "Traceback" not in body
    assert "http-equiv='refresh'" in body  # the tab recovers when Prometheus is back
