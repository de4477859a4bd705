"""The central metrics store several local clusters remote-write into: VictoriaMetrics.

Why VictoriaMetrics (Debian package `victoria-metrics`) and not a second Prometheus with
`--web.enable-remote-write-receiver`: an HA pair writes every sample twice, and a store
must deduplicate it, as Thanos Receive, Mimir and Cortex do in a cluster. VictoriaMetrics
does that with two flags (`-relabelConfig` dropping the replica label, then
`-dedup.minScrapeInterval` keeping one sample per interval); a Prometheus receiver would
keep both replicas as separate series (or reject the second as out of order). It answers
the Prometheus query API, so the snapshot, the dashboards' queries and `promapi` read it
unchanged.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from observability.local.binaries import MissingBinaryError
from observability.process import Child, Supervisor, http_ok

__all__ = ["VM_INSTALL_HINT", "CentralStore", "find_victoria_metrics"]

VM_INSTALL_HINT = "sudo apt-get install -y victoria-metrics"
_ENV = "OBSCTL_VICTORIA_METRICS"


def find_victoria_metrics() -> Path:
    override = os.environ.get(_ENV)
    if override:
        p = Path(override)
        if p.is_file() and os.access(p, os.X_OK):
            return p
        raise MissingBinaryError(f"{_ENV}={override} is not an executable file: fix or unset it")
    found = shutil.which("victoria-metrics")
    if found:
        return Path(found)
    raise MissingBinaryError(
        f"victoria-metrics not found on PATH: install it with `{VM_INSTALL_HINT}` "
        f"(or set {_ENV} to the binary); `obsctl demo --clusters N` writes into it"
    )


@dataclass
class CentralStore:
    """One VictoriaMetrics process; `stop()` and `start()` again keep its data directory,
    so an outage test restarts the same store."""

    workdir: Path
    port: int
    dedup_interval: str
    replica_label: str
    binary: Path | None = None
    _sup: Supervisor | None = None
    _child: Child | None = None
    starts: int = 0
    log_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_dir = self.workdir / "logs"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def argv(self) -> list[str]:
        relabel = self.workdir / "central-relabel.yml"
        return [
            str(self.binary),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.workdir / 'central-data'}",
            "-retentionPeriod=1d",
            # HA: drop the replica label, then keep one sample per scrape interval.
            f"-relabelConfig={relabel}",
            f"-dedup.minScrapeInterval={self.dedup_interval}",
            # Answer with the newest samples (default hides the last 30 s) and never from
            # a cache that predates samples remote write delivers late (after an outage).
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ]

    def start(self, timeout: float = 20.0) -> CentralStore:
        self.binary = self.binary or find_victoria_metrics()
        self.workdir.mkdir(parents=True, exist_ok=True)
        relabel = [{"action": "labeldrop", "regex": self.replica_label}]
        (self.workdir / "central-relabel.yml").write_text(yaml.safe_dump(relabel), "utf-8")
        self._sup = self._sup or Supervisor(self.log_dir)
        self._child = self._sup.start("victoria-metrics", self.argv())
        self._sup.wait_ready(self._child, lambda: http_ok(f"{self.url}/health"), timeout)
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self._child is not None and self._child.alive()

    def stop(self) -> None:
        if self._sup is not None:
            self._sup.stop()
        self._child = None
