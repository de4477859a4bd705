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


def run_checks(
    checks: Sequence[Check],
    ctx: Any,
    *,
    workers: int = 16,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run `checks` and return one Result per check, in the order given."""
    start = time.monotonic()
    deadline = start + total_timeout
    selected = {c.id for c in checks}
    results: dict[str, Result] = {}
    pending = list(checks)
    running: dict[str, tuple[Check, float]] = {}  # id -> (check, started)
    done_q: queue.Queue[tuple[str, Outcome, float]] = queue.Queue()

    def record(c: Check, out: Outcome, seconds: float) -> None:
        res = Result(c.id, c.layer, c.title, out.status, out.evidence, out.fix, seconds)
        results[c.id] = res
        if on_result:
            on_result(res)

    def launch(c: Check) -> None:
        t0 = time.monotonic()

        def body() -> None:
            out = _execute(c, ctx)
            done_q.put((c.id, out, time.monotonic() - t0))

        running[c.id] = (c, t0)
        threading.Thread(target=body, name=f"verify-{c.id}", daemon=True).start()

    while pending or running:
        # Start every check whose dependencies are settled, up to `workers` at once.
        for c in list(pending):
            if len(running) >= max(1, workers):
                break
            deps = [d for d in c.needs if d in selected]
            if any(d not in results for d in deps):
                continue
            pending.remove(c)
            bad = [d for d in deps if results[d].status in (Status.FAIL, Status.SKIP)]
            if bad:
                record(c, Outcome.skip(f"skipped: {', '.join(bad)} did not pass"), 0.0)
                continue
            launch(c)
        if not running:
            if pending and not any(
                all(d in results for d in c.needs if d in selected) for c in pending
            ):  # a dependency cycle would spin forever; should never happen
                for c in pending:
                    record(c, Outcome.skip("skipped: unresolvable dependency"), 0.0)
                pending.clear()
            continue
        now = time.monotonic()
        limits = [t0 + (c.timeout or check_timeout) for c, t0 in running.values()]
        wait = max(0.0, min([*limits, deadline]) - now)
        try:
            cid, out, secs = done_q.get(timeout=wait)
            if cid in running:
                c, _ = running.pop(cid)
                record(c, out, secs)
            continue
        except queue.Empty:
            pass
        now = time.monotonic()
        for cid, (c, t0) in list(running.items()):
            limit = c.timeout or check_timeout
            if now >= t0 + limit:
                running.pop(cid)
                record(
                    c,
                    Outcome.fail(
                        f"no answer within {limit:g}s (check timeout)",
                        "the component behind this check hangs: see the evidence of the "
                        "checks before it; raise --timeout only for a slow API server",
                    ),
                    now - t0,
                )
        if now >= deadline:
            for cid, (c, t0) in list(running.items()):
                running.pop(cid)
                record(
                    c,
                    Outcome.fail(
                        f"still running when the whole run hit its {total_timeout:g}s bound",
                        "raise --total-timeout, or --skip the slow check",
                    ),
                    now - t0,
                )
            for c in pending:
                record(c, Outcome.skip(f"not started: the run hit its {total_timeout:g}s bound"), 0)
            pending.clear()
    return [results[c.id] for c in checks]
