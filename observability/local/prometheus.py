"""Start a supervised Prometheus on 127.0.0.1: one place for its command line.

The demo stack, the tests and the benchmarks all run a real Prometheus the same way:
config file and TSDB in a working directory, a fixed loopback port, ready when
`/-/ready` answers. Callers add flags (retention, resend delay) as `extra_args`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from observability.local.binaries import find_binary
from observability.process import Child, Supervisor, http_ok

__all__ = ["start_prometheus"]


def start_prometheus(
    sup: Supervisor,
    config: dict[str, Any],
    workdir: Path,
    port: int,
    extra_args: Sequence[str] = (),
    binary: Path | None = None,
    ready_timeout: float = 20.0,
    config_name: str = "prometheus.yml",
    data_dir: str = "data",
    name: str = "prometheus",
) -> tuple[Child, str]:
    """Write `config`, start Prometheus under `sup`, wait until ready; (child, URL)."""
    config_path = workdir / config_name
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    child = sup.start(
        name,
        [
            str(binary or find_binary("prometheus")),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / data_dir}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra_args,
        ],
    )
    url = f"http://127.0.0.1:{port}"
    sup.wait_ready(child, lambda: http_ok(f"{url}/-/ready"), ready_timeout)
    return child, url
