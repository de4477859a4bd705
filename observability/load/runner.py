"""Run the seed benchmark mix with Locust in a subprocess and summarise the samples.

Locust (what the seed project uses) runs headless in its own process: its gevent
monkey-patching never touches obsctl, and a stuck load generator is killed with its
process group like any other child. The locustfile writes one JSON line per request; the
report is computed here from those raw timings, not from Locust's rounded statistics.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from observability import tmpdirs
from observability.httppool import shared_client
from observability.load.report import LoadReport, read_samples, summarize
from observability.process import Supervisor

__all__ = ["LoadSpec", "Target", "discover_model", "locust_argv", "run_load", "start_load"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass(frozen=True)
class Target:
    url: str  # base URL without /v1
    model: str


@dataclass(frozen=True)
class LoadSpec:
    targets: tuple[Target, ...]
    users: int = 8
    rate: float = 4.0  # requests/s over all users; 0 = closed loop (back to back)
    duration_s: float | None = 30.0  # None = until stopped
    stream: bool = True
    api: str = "completions"
    # seconds a user may take to finish its request once the run time is up; a request
    # still running after it is cut off (aborted on the server, no client sample)
    stop_timeout_s: float = 2.0


def discover_model(url: str, timeout: float = 5.0) -> str:
    """The first served model name at `url` (/v1/models)."""
    resp = shared_client().get(f"{url.rstrip('/')}/v1/models", timeout=timeout)
    resp.raise_for_status()
    data = resp.json()
    models = [m["id"] for m in data.get("data", [])]
    if not models:
        raise ValueError(f"{url}/v1/models lists no model: pass --model")
    return models[0]


def locust_argv(spec: LoadSpec) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(spec.users),
        "--spawn-rate",
        str(max(spec.users, 1)),
        "--host",
        spec.targets[0].url,
        "--only-summary",
        "--loglevel",
        "ERROR",
        "--stop-timeout",
        f"{spec.stop_timeout_s:g}",
        "--exit-code-on-error",
        "0",
    ]
    if spec.duration_s is not None:
        argv += ["--run-time", f"{max(round(spec.duration_s), 1)}s"]
    return argv


def locust_env(spec: LoadSpec, samples: Path) -> dict[str, str]:
    per_user = spec.rate / spec.users if spec.rate > 0 and spec.users else 0.0
    return {
        "OBSCTL_LOAD_TARGETS": json.dumps([{"url": t.url, "model": t.model} for t in spec.targets]),
        "OBSCTL_LOAD_SAMPLES": str(samples),
        "OBSCTL_LOAD_USER_RATE": str(per_user),
        "OBSCTL_LOAD_STREAM": "1" if spec.stream else "0",
        "OBSCTL_LOAD_API": spec.api,
        "PYTHONUNBUFFERED": "1",
    }


def start_load(sup: Supervisor, spec: LoadSpec, samples: Path, name: str = "load"):  # type: ignore[no-untyped-def]
    """Start Locust as a supervised child (for the demo and scenarios); returns the Child."""
    return sup.start(name, locust_argv(spec), env=locust_env(spec, samples))


def run_load(spec: LoadSpec, samples: Path | None = None) -> LoadReport:
    """Run to completion (or Ctrl-C) and return the client-side report."""
    with tmpdirs.temporary_directory(prefix="obsctl-load-") as tmp:
        samples = samples or Path(tmp) / "samples.jsonl"
        sup = Supervisor(Path(tmp) / "logs")
        started = time.time()
        child = start_load(sup, spec, samples)
        try:
            limit = (spec.duration_s or 0) + spec.stop_timeout_s + 30
            while child.alive():
                if spec.duration_s is not None and time.time() - started > limit:
                    break
                time.sleep(0.2)
        finally:
            sup.stop()
        got = read_samples(samples)
        if not got and child.popen.returncode not in (0, None, -15):
            from observability.process import tail

            raise RuntimeError(
                f"locust failed (exit {child.popen.returncode}): {tail(child.log_path)}"
            )
        return summarize(got, spec.duration_s)
