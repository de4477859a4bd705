"""Port locks and temp files: private per-user dir, removed on release, reclaimed after
kill -9 (observability.tmpdirs, observability.local.ports)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from observability import tmpdirs
from observability.local.ports import PortAllocator

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "tmp"
    base.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(base))
    return base


def test_lock_dir_private_and_removed_on_release(private_tmp: Path) -> None:
    root = private_tmp / f"obsctl-{os.getuid()}"
    with PortAllocator(seed=7) as ports:
        first = ports.block(3)
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
        locks = sorted((root / "ports").iterdir())
        assert [p.name for p in locks] == [f"{first + i}.lock" for i in range(3)]
        for lock in locks:
            assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
            assert lock.read_text() == f"{os.getpid()}\n"
        # A second allocator drawing the same candidates skips the held ports.
        with PortAllocator(seed=7) as other:
            assert other.block(3) not in range(first - 2, first + 3)
    assert not root.exists(), list(private_tmp.rglob("*"))
    assert list(private_tmp.iterdir()) == []


def test_kill_9_leftovers_reclaimed_live_ones_kept(private_tmp: Path) -> None:
    child = textwrap.dedent(
        """
        import sys, time
        from observability import tmpdirs
        from observability.local.ports import PortAllocator
        p = PortAllocator()
        first = p.block(2)
        tmpdirs.mkdtemp("obsctl-demo-")
        print(first, flush=True)
        time.sleep(120)
        """
    )
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
        )
        for _ in range(2)
    ]
    try:
        firsts = [int(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
        root = private_tmp / f"obsctl-{os.getuid()}"
        assert {d.name for d in root.iterdir()} == {"ports"} | {f"pid-{p.pid}" for p in procs}
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        # The killed one's lock files and temp dir are still there ...
        assert (root / "ports" / f"{firsts[0]}.lock").exists()
        assert (root / f"pid-{procs[0].pid}").exists()
        tmpdirs.sweep()  # ... until the next obsctl process sweeps.
        names = {d.name for d in root.iterdir()}
        assert names == {"ports", f"pid-{procs[1].pid}"}
        assert sorted(p.name for p in (root / "ports").iterdir()) == [
            f"{firsts[1]}.lock",
            f"{firsts[1] + 1}.lock",
        ]
    finally:
        for p in procs:
            p.kill()
            p.wait(10)
    tmpdirs.sweep()
    assert list(private_tmp.iterdir()) == []


def test_cli_leaves_nothing_in_tmpdir(private_tmp: Path, tmp_path: Path) -> None:
    # A leftover of a killed run is reclaimed by any command, which leaves nothing itself.
    stale = private_tmp / f"obsctl-{os.getuid()}" / "pid-999999999"
    stale.mkdir(parents=True, mode=0o700)
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "observability.cli", "render", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert list(private_tmp.iterdir()) == [], time.monotonic() - started


def test_foreign_or_symlinked_dir_refused(private_tmp: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (private_tmp / f"obsctl-{os.getuid()}").symlink_to(elsewhere)
    with pytest.raises(tmpdirs.TempDirError, match="not a directory owned by you"):
        PortAllocator().one()
    with pytest.raises(tmpdirs.TempDirError, match="set TMPDIR to a private directory"):
        tmpdirs.mkdtemp("obsctl-demo-")
    assert list(elsewhere.iterdir()) == []


def test_staging_dir_beside_its_target_reclaims_a_dead_builds(tmp_path: Path) -> None:
    final = tmp_path / "cache" / "tiny-llama-abc"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        final.parent.mkdir()
        left = final.parent / f".{final.name}.{dead.pid}.building"
        kept = final.parent / f".{final.name}.{live.pid}.building"
        left.mkdir()
        kept.mkdir()
        d = tmpdirs.staging_dir(final)
        assert d.parent == final.parent and d.is_dir() and not any(d.iterdir())
        assert d.name == f".{final.name}.{os.getpid()}.building"
        assert not left.exists()  # a build killed with kill -9 leaves nothing for long
        assert kept.is_dir()  # another live build's directory is not touched
        d.rename(final)
        assert final.is_dir()
    finally:
        live.kill()
        live.wait()


def test_every_temporary_directory_comes_from_tmpdirs() -> None:
    """A directory made with tempfile elsewhere is not reclaimed after kill -9."""
    made_elsewhere = [
        f"{p.relative_to(REPO)}:{i}"
        for p in (REPO / "observability").rglob("*.py")
        if p.name != "tmpdirs.py"
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "tempfile.mkdtemp(" in line or "tempfile.TemporaryDirectory(" in line
    ]
    assert made_elsewhere == []
