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

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from observability.local.binaries import find_binary
from observability.process import Child, Supervisor, http_ok

__all__ = ["CentralStore", "find_victoria_metrics"]


def find_victoria_metrics() -> Path:
    found = find_binary("victoria-metrics")
    assert found is not None  # required=True raises instead
    return found


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
