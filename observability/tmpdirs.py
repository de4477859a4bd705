"""Where obsctl keeps temporary files: one private directory per user, nothing left behind.

Layout, under the system temp dir (``$TMPDIR``):

    obsctl-<uid>/            mode 0700, owned by the user (refused otherwise)
        pid-<pid>/           one process's temp dirs (demo logs, lint scratch, ...)
        ports/<port>.lock    port reservations (flock held while in use; holds the pid)

A process removes its own ``pid-<pid>`` and its port locks when it exits; whatever a
process killed with ``kill -9`` left is reclaimed by the next obsctl process (``sweep``):
a ``pid-N`` directory whose process is gone, a lock file nobody holds the flock on. The
user directory itself goes once it is empty.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
from pathlib import Path

__all__ = [
    "TempDirError",
    "cleanup",
    "mkdtemp",
    "pid_alive",
    "ports_dir",
    "staging_dir",
    "sweep",
    "temporary_directory",
    "user_root",
]


class TempDirError(RuntimeError):
    """The per-user temp directory exists but is not safely ours."""


def _base() -> Path:
    return Path(tempfile.gettempdir())


def user_root(create: bool = True) -> Path:
    """`$TMPDIR/obsctl-<uid>`, created 0700; refuses a directory owned by someone else or
    a symlink (another user could otherwise read or plant our files)."""
    root = _base() / f"obsctl-{os.getuid()}"
    if not create:
        return root
    with contextlib.suppress(FileExistsError):
        os.mkdir(root, 0o700)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise TempDirError(
            f"{root} is not a directory owned by you (uid {os.getuid()}): remove it, or set "
            "TMPDIR to a private directory"
        )
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(root, 0o700)
    return root


def ports_dir() -> Path:
    d = user_root() / "ports"
    with contextlib.suppress(FileExistsError):
        os.mkdir(d, 0o700)
    return d


def _pid_dir() -> Path:
    d = user_root() / f"pid-{os.getpid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(d, 0o700)
    return d


def mkdtemp(prefix: str) -> Path:
    """A new directory inside this process's private temp dir (removed at exit)."""
    for _ in range(3):
        try:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=_pid_dir()))
        except FileNotFoundError:  # another process removed the empty user dir meanwhile
            continue
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_pid_dir()))


def staging_dir(final: Path) -> Path:
    """An empty directory beside `final` to build it in, then rename into place (same
    filesystem: the rename is atomic, which a directory under $TMPDIR would not give a
    cache elsewhere). It is named after this process; one a dead process left (a build
    killed with kill -9) is removed here, by the next build."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for old in final.parent.glob(f".{final.name}.*.building"):
        pid = old.name.removesuffix(".building").rsplit(".", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or not pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    d = final.parent / f".{final.name}.{os.getpid()}.building"
    d.mkdir(mode=0o700)
    return d


def temporary_directory(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """tempfile.TemporaryDirectory in this process's private temp dir."""
    _pid_dir()
    return tempfile.TemporaryDirectory(prefix=prefix, dir=_pid_dir())


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _lock_is_stale(path: Path) -> bool:
    """Nobody holds the flock: its owner exited (or was killed). Removes it if so."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        # Still the file at that path (not one replaced meanwhile)? Then it is ours to drop.
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                os.unlink(path)
        return True
    finally:
        os.close(fd)


def sweep() -> None:
    """Reclaim what dead obsctl processes of this user left: pid dirs, port locks."""
    root = user_root(create=False)
    if not root.is_dir() or root.is_symlink() or root.stat().st_uid != os.getuid():
        return
    for entry in list(root.iterdir()):
        if entry.name.startswith("pid-"):
            pid = entry.name.removeprefix("pid-")
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)
    ports = root / "ports"
    if ports.is_dir():
        for lock in list(ports.glob("*.lock")):
            _lock_is_stale(lock)
    _remove_empty(root)


def _remove_empty(root: Path) -> None:
    for d in (root / "ports", root):
        try:
            os.rmdir(d)
        except OSError as err:  # not empty (someone else's locks), or gone already
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.EBUSY):
                raise


def cleanup() -> None:
    """Remove this process's temp dir; then the user dir if nothing else is in it."""
    root = user_root(create=False)
    if not root.is_dir():
        return
    shutil.rmtree(root / f"pid-{os.getpid()}", ignore_errors=True)
    with contextlib.suppress(OSError):
        _remove_empty(root)


atexit.register(cleanup)
