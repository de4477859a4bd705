"""Free TCP ports on 127.0.0.1 that no other demo (or anything else) is using.

Two demos started at once must not pick the same port between "probe" and "bind". A
port is handed out only while we hold an exclusive flock on `<port>.lock` in the user's
private temp dir (observability.tmpdirs: 0700, so another user never trips over our
files) and the lock stays held until the stack stops, so a concurrent `obsctl demo` (or
test) skips it. Releasing removes the file; a process killed with `kill -9` leaves files
nobody holds a flock on, which the next allocator (tmpdirs.sweep) removes. Blocks of
consecutive ports are available for the simulator, which takes `P, P+1, ...`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Self

from observability import tmpdirs

__all__ = ["PortAllocator", "Workspace", "port_is_free", "port_is_open"]

# Above the usual service ports and below the Linux ephemeral range (32768+), so a port
# we pick is not taken a moment later by an outgoing connection.
_LOW, _HIGH = 20000, 32000


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """Something is listening on the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


class PortAllocator:
    """Hands out free ports and keeps them reserved (by lock file) until `release`."""

    def __init__(self, seed: int | None = None) -> None:
        self._rand = random.Random(seed if seed is not None else os.getpid() ^ id(self))
        self._held: dict[int, tuple[int, Path]] = {}  # port -> (lock fd, lock path)
        tmpdirs.sweep()

    @property
    def ports(self) -> list[int]:
        return sorted(self._held)

    def _lock(self, port: int) -> bool:
        for _ in range(3):
            path = tmpdirs.ports_dir() / f"{port}.lock"
            try:
                fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
            except FileNotFoundError:  # the empty dir was swept meanwhile: recreate
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # its holder released (unlinked) it between our open and flock
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._held[port] = (fd, path)
            return True
        return False

    def _unlock(self, port: int) -> None:
        held = self._held.pop(port, None)
        if held is None:
            return
        fd, path = held
        # Unlink while still holding the flock, so nobody locks a file about to vanish
        # (and _lock re-checks the inode for the one who opened it just before).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def block(self, count: int) -> int:
        """Reserve `count` consecutive free ports; return the first."""
        for _ in range(500):
            first = self._rand.randrange(_LOW, _HIGH - count)
            got: list[int] = []
            for p in range(first, first + count):
                if p in self._held or not self._lock(p):
                    break
                got.append(p)
                if not port_is_free(p):
                    break
            if len(got) == count and all(port_is_free(p) for p in got):
                return first
            for p in got:
                self._unlock(p)
        raise RuntimeError(f"no block of {count} free ports between {_LOW} and {_HIGH}")

    def one(self) -> int:
        return self.block(1)

    def release(self) -> None:
        for port in list(self._held):
            self._unlock(port)
        tmpdirs.sweep()

    def __enter__(self) -> PortAllocator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Workspace:
    """What a local stack holds while it runs: its reserved ports and its temporary
    directory (from tmpdirs). Subclasses start and stop; `release` gives both back, and
    `with stack:` stops it whatever happens inside."""

    ports: PortAllocator
    _tmp: Path | None

    def start(self, progress: Callable[[str], None] | None = None) -> Self:
        """Start every part, saying each step to `progress`; a failure stops what started."""
        try:
            self._start(progress or (lambda _msg: None))
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, say: Callable[[str], None]) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        self.ports.release()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
