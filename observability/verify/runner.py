"""Run checks concurrently with a timeout per check and a bound on the whole run.

Each running check gets its own daemon thread (the kubernetes client is synchronous), at
most `workers` at a time. A check that overruns its timeout is recorded as FAIL and left
behind: its thread is a daemon and every network call below it carries its own timeout,
so it cannot keep the process alive or block the report. A check whose `needs` failed is
SKIPped with the name of the failed dependency instead of repeating the same error.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from graphlib import TopologicalSorter
from typing import Any

from observability.promapi import PromError
from observability.verify.model import Check, CheckFailed, Outcome, Result, Status

__all__ = ["DEFAULT_CHECK_TIMEOUT", "DEFAULT_TOTAL_TIMEOUT", "run_checks", "select_checks"]

DEFAULT_CHECK_TIMEOUT = 10.0
DEFAULT_TOTAL_TIMEOUT = 45.0


def select_checks(
    checks: Sequence[Check], only: Iterable[str] = (), skip: Iterable[str] = ()
) -> list[Check]:
    """Filter by id (or by layer name, or an `id.*` prefix); unknown names are an error."""
    only, skip = [s for s in only if s], [s for s in skip if s]
    ids = {c.id for c in checks}

    def match(name: str, c: Check) -> bool:
        # An id, a layer (`stack`), or an id prefix (`grafana`, `scrape.*`).
        name = name.removesuffix("*").removesuffix(".")
        return c.id == name or c.layer == name or c.id.split(".", 1)[0] == name

    for name in [*only, *skip]:
        if not any(match(name, c) for c in checks):
            known = ", ".join(sorted(ids))
            raise ValueError(f"unknown check {name!r}: known checks are {known}")
    out = [c for c in checks if not only or any(match(n, c) for n in only)]
    return [c for c in out if not any(match(n, c) for n in skip)]


def _execute(check: Check, ctx: Any) -> Outcome:
    try:
        out = check.run(ctx)
    except CheckFailed as err:
        return err.outcome
    except PromError as err:  # an API call failed: the check fails with its evidence and fix
        return Outcome.fail(err.evidence, err.fix)
    except Exception as err:  # a bug or an unexpected answer must not hide the other checks
        tb = traceback.extract_tb(err.__traceback__)[-1]
        where = f"{tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}"
        return Outcome.fail(
            f"check crashed: {type(err).__name__}: {err} ({where})",
            "this is a bug in obsctl verify: please report it with `--json` output",
        )
    if not isinstance(out, Outcome):
        return Outcome.fail(f"check returned {type(out).__name__}", "bug in obsctl verify")
    return out


def _timed_out(limit: float) -> Outcome:
    return Outcome.fail(
        f"no answer within {limit:g}s (check timeout)",
        "the component behind this check hangs: see the evidence of the checks before "
        "it; raise --timeout only for a slow API server",
    )


def run_checks(
    checks: Sequence[Check],
    ctx: Any,
    *,
    workers: int = 16,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run `checks` and return one Result per check, in the order given.

    `graphlib.TopologicalSorter` over `needs` decides what may start: a check starts (in
    its own daemon thread, at most `workers` at a time) once every check it needs has a
    result; recording a result, finished or timed out, releases its dependents."""
    by_id = {c.id: c for c in checks}
    graph = TopologicalSorter({c.id: [d for d in c.needs if d in by_id] for c in checks})
    graph.prepare()  # CycleError on a dependency cycle: a bug in the check list
    deadline = time.monotonic() + total_timeout
    results: dict[str, Result] = {}
    ready: list[Check] = []
    running: dict[str, float] = {}  # id -> start time (monotonic)
    finished: queue.Queue[tuple[str, Outcome, float]] = queue.Queue()

    def record(c: Check, out: Outcome, seconds: float, release: bool = True) -> None:
        results[c.id] = Result(c.id, c.layer, c.title, out.status, out.evidence, out.fix, seconds)
        if on_result:
            on_result(results[c.id])
        if release:  # its dependents may start
            graph.done(c.id)

    def start(c: Check) -> None:
        t0 = running[c.id] = time.monotonic()

        def body() -> None:
            finished.put((c.id, _execute(c, ctx), time.monotonic() - t0))

        threading.Thread(target=body, name=f"verify-{c.id}", daemon=True).start()

    def limit(cid: str) -> float:
        return by_id[cid].timeout or check_timeout

    while graph.is_active() and time.monotonic() < deadline:
        ready += [by_id[cid] for cid in graph.get_ready()]
        while ready and len(running) < max(1, workers):
            c = ready.pop(0)
            bad = [d for d in c.needs if d in results and results[d].status in _BLOCKING]
            if bad:
                record(c, Outcome.skip(f"skipped: {', '.join(bad)} did not pass"), 0.0)
            else:
                start(c)
        if not running:
            continue
        wake = min([t0 + limit(cid) for cid, t0 in running.items()] + [deadline])
        try:
            cid, out, seconds = finished.get(timeout=max(0.0, wake - time.monotonic()))
        except queue.Empty:
            now = time.monotonic()
            for cid, t0 in list(running.items()):
                if now >= t0 + limit(cid):
                    del running[cid]
                    record(by_id[cid], _timed_out(limit(cid)), now - t0)
            continue
        if running.pop(cid, None) is not None:  # else it was already recorded as timed out
            record(by_id[cid], out, seconds)

    now = time.monotonic()
    for cid, t0 in running.items():
        out = Outcome.fail(
            f"still running when the whole run hit its {total_timeout:g}s bound",
            "raise --total-timeout, or --skip the slow check",
        )
        record(by_id[cid], out, now - t0, release=False)
    for c in checks:
        if c.id not in results:
            out = Outcome.skip(f"not started: the run hit its {total_timeout:g}s bound")
            record(c, out, 0.0, release=False)
    return [results[c.id] for c in checks]


_BLOCKING = (Status.FAIL, Status.SKIP)  # a dependency with this result skips its dependents
