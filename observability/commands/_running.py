"""How `obsctl demo` runs a local stack (one cluster or several) until told to stop: one
Ctrl-C or SIGTERM path, one summary loop, one promise that no process is left behind."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import typer

from observability.commands._common import die
from observability.local.binaries import MissingBinaryError
from observability.local.interrupt import interrupt_on_term
from observability.promapi import PromError

__all__ = ["Running", "running", "watch"]


class Running(Protocol):
    def stop(self) -> None: ...

    def dead_children(self) -> list[str]: ...


@contextlib.contextmanager
def running(stack: Running, *, json_out: bool = False) -> Iterator[None]:
    """Stop `stack` however the block ends: Ctrl-C is a normal end, a part that fails to
    start or answer is one line (exit 2); then say that nothing is left."""
    from observability.process import ChildFailedError  # psutil: the [demo] extra

    with interrupt_on_term():
        try:
            yield
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            typer.echo("\nstopping", err=json_out)
        except (MissingBinaryError, ChildFailedError, RuntimeError, PromError) as err:
            stack.stop()
            die(str(err))
        finally:
            stack.stop()
    typer.echo("stopped: no process left", err=json_out)


def watch(
    stack: Running, duration: float, interval: float, summary: Callable[[], Iterable[str]]
) -> None:
    """Print `summary` every `interval` seconds for `duration` (0: until Ctrl-C); a part
    that stops on its own ends the demo with exit 1."""
    typer.echo("\nCtrl-C stops everything.")
    started = time.monotonic()
    while not duration or time.monotonic() - started < duration:
        dead = stack.dead_children()
        if dead:
            die(f"{', '.join(dead)} stopped unexpectedly; see its log above", 1)
        for line in summary():
            typer.echo(line)
        left = duration - (time.monotonic() - started) if duration else interval
        time.sleep(max(min(interval, left), 0))
