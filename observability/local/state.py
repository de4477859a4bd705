"""The state of a running local stack: one typed model, written by the stack and read by
`obsctl verify --local`, `obsctl scenario run`, the demo's URL list and the tests.

A stack writes `.obsctl/demo-<pid>.json` (`StackState.write`, atomic); readers go through
`read_state` / `live_states`, which return `StackState` objects (with `state_file` set to the
file they came from) only for stacks whose owner process still runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
from pydantic import BaseModel, ConfigDict, ValidationError

from observability.duration import duration_seconds

__all__ = [
    "STATE_DIR",
    "STATE_GLOB",
    "AibrixInfo",
    "EppInfo",
    "GpuRef",
    "NodeInfo",
    "RayHeadInfo",
    "ReplicaInfo",
    "StackState",
    "live_states",
    "read_state",
]

# Where stacks write their state, relative to the checkout: `.obsctl/demo-<pid>.json`.
# Readers consider every `demo-*.json` there (the pre-per-stack `demo-state.json` too).
STATE_DIR = Path(".obsctl")
STATE_GLOB = "demo-*.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuRef(_Frozen):
    index: int
    uuid: str


class ReplicaInfo(_Frozen):
    """One simulated vLLM replica (the simulator's manifest entry, plus its base URL)."""

    pod: str
    namespace: str
    service: str
    container: str
    model: str  # served model name
    model_key: str  # bundle.yaml models.<key>
    port: int
    node: str
    gpus: tuple[GpuRef, ...] = ()
    runtime: str = "vllm"  # models.<key>.runtime
    url: str
    # what answers at `url`: sim (the simulator), vllm-cpu (a real vLLM this stack started,
    # engine/server.py) or external (a server that already ran: obsctl demo --target)
    engine: str = "sim"


class NodeInfo(_Frozen):
    """One simulated GPU node's dcgm-exporter."""

    node: str
    dcgm_port: int
    namespace: str
    pod: str
    service: str


class RayHeadInfo(_Frozen):
    """The Ray head pod of a rayservice model (serves ray_serve_* metrics)."""

    pod: str
    namespace: str
    model_key: str
    port: int
    node: str


class AibrixInfo(_Frozen):
    """A simulated AIBrix control-plane pod (gateway plugins or controller manager)."""

    component: str
    pod: str
    namespace: str
    port: int


class EppInfo(_Frozen):
    """The inference pool's simulated endpoint picker (obsctl demo --inference-pool)."""

    pool: str
    pod: str
    namespace: str
    port: int
    service: str
    port_name: str


class StackState(_Frozen):
    pid: int
    started_at: float
    profile: str  # standard | fast
    vllm_version: str
    prometheus_url: str
    alertmanager_url: str
    webhook_url: str
    # Every Prometheus of this cluster (an HA pair: two); the first is `prometheus_url`.
    prometheus_urls: tuple[str, ...] = ()
    cluster: str = "local-demo"  # the external cluster label's value (demo --clusters)
    sim_admin_url: str
    snapshot_url: str = ""
    scrape_interval: str
    evaluation_interval: str
    group_wait_s: float
    replicas: tuple[ReplicaInfo, ...]
    nodes: tuple[NodeInfo, ...]
    ray_heads: tuple[RayHeadInfo, ...] = ()
    aibrix: tuple[AibrixInfo, ...] = ()
    epps: tuple[EppInfo, ...] = ()  # the inference pool's endpoint picker, when it is on
    pids: dict[str, int] = {}
    ports: tuple[int, ...] = ()
    tmp_dir: str = ""
    load_samples: str = ""
    state_file: str = ""  # set by the readers: the file this state came from

    @property
    def scrape_interval_s(self) -> float:
        return duration_seconds(self.scrape_interval)

    @property
    def evaluation_interval_s(self) -> float:
        return duration_seconds(self.evaluation_interval)

    def write(self, path: Path) -> None:
        """Atomically (a reader never sees half a file); `state_file` is not stored."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        text = self.model_dump_json(indent=2, exclude={"state_file"})
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> StackState | None:
        """The state in `path`, or None when it is missing, unreadable or not a state."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.model_validate({**data, "state_file": str(path)})
        except (OSError, ValueError, ValidationError):
            return None

    def owner_alive(self) -> bool:
        """The writing process still runs (and is not a later process that reused its pid)."""
        try:
            created = psutil.Process(self.pid).create_time()
        except psutil.Error:
            return False
        # A reused pid belongs to a process created after the demo wrote its state.
        return created <= self.started_at + 1.0


def _read_live(path: Path) -> StackState | None:
    state = StackState.read(path)
    return state if state is not None and state.owner_alive() else None


def live_states(state_dir: Path) -> list[StackState]:
    """Every live stack's state in `state_dir` (owner process alive), newest first."""
    found = [s for p in sorted(state_dir.glob(STATE_GLOB)) if (s := _read_live(p))]
    return sorted(found, key=lambda s: s.started_at, reverse=True)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def read_state(path: Path, warn: Callable[[str], None] | None = _stderr) -> StackState | None:
    """The running stack's state, or None when there is none (or its owner is gone).

    `path` is one stack's state file, or a state directory (`STATE_DIR` of a checkout):
    then every `demo-*.json` there is considered and the newest live one wins; `warn` gets
    one line naming the others when several demos run."""
    if not path.is_dir():
        return _read_live(path)
    states = live_states(path)
    if len(states) > 1 and warn is not None:
        others = ", ".join(f"pid {s.pid}" for s in states[1:])
        warn(
            f"{len(states)} obsctl demo stacks are running; using the newest (pid "
            f"{states[0].pid}, Prometheus {states[0].prometheus_url}), not "
            f"{others}: stop the others or pass the URLs explicitly"
        )
    return states[0] if states else None
