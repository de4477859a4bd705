"""Per-stack state files: two demos in one checkout never lose each other, and readers
find the newest live one (ignoring dead owners and reused pids)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from observability.config import BundleConfig
from observability.local.stack import (
    STATE_DIR,
    LocalStack,
    StackOptions,
    StackState,
    live_states,
    read_state,
)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(5)


def _state(**fields: object) -> StackState:
    base: dict[str, object] = {
        "pid": os.getpid(),
        "started_at": time.time(),
        "profile": "fast",
        "vllm_version": "0.7.3",
        "prometheus_url": "http://127.0.0.1:1",
        "alertmanager_url": "http://127.0.0.1:2",
        "webhook_url": "http://127.0.0.1:3",
        "sim_admin_url": "http://127.0.0.1:4",
        "scrape_interval": "1s",
        "evaluation_interval": "1s",
        "group_wait_s": 1.0,
        "replicas": [],
        "nodes": [],
    }
    return StackState.model_validate(base | fields)


def _write(path: Path, **fields: object) -> None:
    _state(**fields).write(path)


def test_state_round_trips_and_a_foreign_file_is_no_state(tmp_path: Path) -> None:
    replica = {
        "pod": "vllm-a-0",
        "namespace": "vllm",
        "service": "vllm-a",
        "container": "vllm",
        "model": "org/A",
        "model_key": "a",
        "port": 8000,
        "node": "gpu-node-0",
        "gpus": [{"index": 0, "uuid": "GPU-0"}],
        "url": "http://127.0.0.1:8000",
    }
    written = _state(replicas=[replica], pids={"sim": 12}, ports=[8000])
    path = tmp_path / "demo-1.json"
    written.write(path)
    got = StackState.read(path)
    assert got == written.model_copy(update={"state_file": str(path)})
    assert got is not None and got.replicas[0].gpus[0].uuid == "GPU-0"
    assert got.scrape_interval_s == 1.0
    assert "state_file" not in json.loads(path.read_text())
    path.write_text(json.dumps({"pid": os.getpid(), "prometheus_url": "http://x"}))
    assert StackState.read(path) is None  # not a state this version writes


def test_newest_live_stack_wins_dead_and_reused_pids_are_ignored(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    d = tmp_path / ".obsctl"
    me = psutil.Process()
    older = me.create_time() + 1
    newer = psutil.Process(sleeper.pid).create_time() + 1
    _write(d / f"demo-{me.pid}.json", pid=me.pid, started_at=older, prometheus_url="http://a")
    _write(d / f"demo-{sleeper.pid}.json", pid=sleeper.pid, started_at=newer, prometheus_url="b")
    dead = subprocess.Popen(["true"])
    dead.wait(5)
    _write(
        d / f"demo-{dead.pid}.json", pid=dead.pid, started_at=time.time() + 10, prometheus_url="c"
    )
    # A live pid whose process started after the state was written: a reused pid.
    _write(
        d / "demo-reused.json", pid=me.pid, started_at=me.create_time() - 3600, prometheus_url="d"
    )

    states = live_states(d)
    assert [s.prometheus_url for s in states] == ["b", "http://a"]
    warnings: list[str] = []
    got = read_state(tmp_path / STATE_DIR, warn=warnings.append)
    assert got is not None and got.pid == sleeper.pid
    assert got.state_file == str(d / f"demo-{sleeper.pid}.json")
    assert len(warnings) == 1
    assert "2 obsctl demo stacks are running" in warnings[0] and f"pid {me.pid}" in warnings[0]

    # One stack's file, read directly, is that stack's state or nothing.
    assert read_state(d / f"demo-{me.pid}.json").prometheus_url == "http://a"  # type: ignore[union-attr]
    assert read_state(d / f"demo-{dead.pid}.json") is None

    sleeper.kill()
    sleeper.wait(5)
    warnings.clear()
    got = read_state(tmp_path / STATE_DIR, warn=warnings.append)
    assert got is not None and got.pid == me.pid and warnings == []
    assert read_state(tmp_path / "elsewhere" / STATE_DIR) is None


def test_the_pre_per_stack_file_name_is_still_read(tmp_path: Path) -> None:
    _write(tmp_path / STATE_DIR / "demo-state.json", pid=os.getpid(), prometheus_url="http://x")
    got = read_state(tmp_path / STATE_DIR)
    assert got is not None and got.prometheus_url == "http://x"


def test_two_stacks_own_their_files(tmp_path: Path, bundle: BundleConfig, repo_root: Path) -> None:
    """Two real stacks in one checkout: each writes its own file; stopping the first
    leaves the second findable; stopping both leaves no file (and no live state)."""
    state_dir = tmp_path / ".obsctl"

    def stack() -> LocalStack:
        return LocalStack(
            StackOptions(
                cfg=bundle,
                repo_root=repo_root,
                profile="fast",
                replicas=1,
                load=False,
                state_dir=state_dir,
            )
        )

    first, second = stack(), stack()
    try:
        first.start()
        second.start()
        assert first.state_file != second.state_file
        assert first.state_file.is_file() and second.state_file.is_file()
        assert first.state_file.name.startswith(f"demo-{os.getpid()}")
        newest = read_state(state_dir, warn=None)
        assert newest is not None and newest.prometheus_url == second.prometheus_url
        assert newest.snapshot_url == second.running.snapshot_url

        first.stop()
        assert not first.state_file.exists() and second.state_file.is_file()
        after = read_state(state_dir)
        assert after is not None and after.prometheus_url == second.prometheus_url
    finally:
        first.stop()
        second.stop()
    assert list(state_dir.glob("demo-*.json")) == []
    assert read_state(state_dir) is None
