"""Record what a real Prometheus 2.x answers to verify's remote-write and external-label
reads, for tests/fixtures/verify/remote-write.json (the fake Prometheus in
tests/verify_fakes/remote.py serves it).

Runs `obsctl demo --clusters 2` machinery (two clusters, a central VictoriaMetrics), waits
until remote write flows, and stores cluster-a's `/api/v1/status/config`, build info and
the answer to every query in observability/verify/queries.py (remote-write ones).

    .venv/bin/python scripts/record_verify_remote.py tests/fixtures/verify/remote-write.json
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

from observability.config import load_config
from observability.local.multicluster import MultiClusterStack, MultiOptions, cluster_config
from observability.verify.queries import all_queries


def scrub(text: str) -> str:
    """No path of the recording machine in the fixture: the demo's temp dir -> <demo-dir>."""
    tmp = re.escape(tempfile.gettempdir())
    return re.sub(tmp + r"/obsctl-[A-Za-z0-9_-]+", "<demo-dir>", text)


def main(out: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    cfg = load_config(repo / "bundle.yaml")
    opts = MultiOptions.of(cfg, repo, clusters=2, prometheus_replicas=1, users=2)
    with MultiClusterStack(opts) as multi:
        multi.wait_caught_up(60, max_lag=5)
        time.sleep(15)  # a few self-scrapes of the queue metrics
        stack = multi.stacks[0]
        url = stack.prometheus_url
        ccfg = cluster_config(cfg, stack.opts.cluster_name)
        rec: dict[str, object] = {
            "source": "Prometheus (Debian 2.42) of `obsctl demo --clusters 2`, cluster-a, "
            "remote-writing to VictoriaMetrics; recorded by scripts/record_verify_remote.py",
            "cluster_label": ccfg.prometheus.cluster_label,
            "cluster_name": ccfg.prometheus.cluster_name,
            "config": httpx.get(f"{url}/api/v1/status/config").json(),
            "buildinfo": httpx.get(f"{url}/api/v1/status/buildinfo").json(),
            "queries": {},
        }
        queries: dict[str, object] = {}
        for name, expr in all_queries(ccfg).items():
            if name.startswith("prometheus.remote_write/"):
                queries[expr] = httpx.post(f"{url}/api/v1/query", data={"query": expr}).json()
        rec["queries"] = queries
        out.write_text(scrub(json.dumps(rec, indent=1, sort_keys=True)) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
