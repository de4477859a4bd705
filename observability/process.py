"""Supervise child processes: start, wait until ready, stop the whole tree, leave nothing.

Every child runs in its own session (so a terminal Ctrl-C reaches only us and we stop the
children in order), with stdout/stderr in a log file (so a failed start can show its tail),
and with PR_SET_PDEATHSIG=SIGTERM on Linux (so even a SIGKILLed `obsctl demo` leaves no
orphans). `stop` sends SIGTERM to each child's process group, waits, then SIGKILLs every
descendant psutil still sees.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from observability.httppool import shared_client

__all__ = ["Child", "ChildFailedError", "Supervisor", "http_ok", "tail"]

_PR_SET_PDEATHSIG = 1


# Resolved once in the parent: dlopen between fork and exec could deadlock on a lock
# another thread (the webhook server) held at fork time.
_PRCTL = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        _PRCTL = ctypes.CDLL("libc.so.6", use_errno=True).prctl


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


class ChildFailedError(RuntimeError):
    """A child exited early or never became ready; the message carries its log tail."""


def tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        return shared_client().get(url, timeout=timeout).is_success
    except (httpx.HTTPError, ValueError):
        return False


@dataclass
class Child:
    name: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Supervisor:
    """Owns a set of children; `stop()` is idempotent and safe from a signal handler path."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # only prctl: async-signal-safe
            )
        except OSError as err:
            raise ChildFailedError(f"{name}: cannot start {argv[0]}: {err}") from None
        finally:
            log.close()
        child = Child(name, list(argv), popen, log_path)
        self.children.append(child)
        return child

    def wait_ready(
        self,
        child: Child,
        ready: Callable[[], bool],
        timeout: float = 30.0,
        interval: float = 0.1,
    ) -> float:
        """Poll `ready()` until true; return seconds waited. Raise if the child dies."""
        start = time.monotonic()
        while True:
            if not child.alive():
                raise ChildFailedError(
                    f"{child.name} exited with code {child.popen.returncode} during start-up; "
                    f"last log lines:\n{tail(child.log_path)}"
                )
            if ready():
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise ChildFailedError(
                    f"{child.name} not ready after {timeout:.0f}s; last log lines:\n"
                    f"{tail(child.log_path)}"
                )
            time.sleep(interval)

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def pids(self) -> dict[str, int]:
        return {c.name: c.pid for c in self.children}

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM each child's group (newest first), wait, then SIGKILL what is left."""
        procs: list[psutil.Process] = []
        for child in reversed(self.children):
            try:
                p = psutil.Process(child.pid)
                procs.extend([p, *p.children(recursive=True)])
            except psutil.NoSuchProcess:
                pass
            if child.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGTERM)
        _gone, alive = psutil.wait_procs(procs, timeout=timeout)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=2)
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.popen.wait(timeout=1)  # reap, so no zombie stays behind
        self.children.clear()
