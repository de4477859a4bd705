"""Print results: a rich table grouped by layer with a summary line, or JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from observability.verify.model import LAYERS, Result, Status

__all__ = ["exit_code", "print_table", "summary_line", "to_json"]

STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "bold red", Status.SKIP: "dim"}


def exit_code(results: Sequence[Result], strict: bool = False) -> int:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses or (strict and Status.WARN in statuses):
        return 1
    return 0


def summary_line(results: Sequence[Result], seconds: float) -> str:
    c = Counter(r.status for r in results)
    parts = [f"{c.get(s, 0)} {s.value}" for s in Status]
    verdict = "FAIL" if c.get(Status.FAIL) else ("WARN" if c.get(Status.WARN) else "PASS")
    return f"{verdict}: {', '.join(parts)} in {seconds:.2f}s"


def to_json(results: Sequence[Result], seconds: float, target: str) -> dict[str, Any]:
    return {
        "target": target,
        "summary": {s.value: sum(1 for r in results if r.status is s) for s in Status},
        "seconds": round(seconds, 3),
        "ok": exit_code(results) == 0,
        "checks": [r.to_dict() for r in results],
    }


def print_table(
    results: Sequence[Result], seconds: float, target: str, console: Console | None = None
) -> None:
    console = console or Console(soft_wrap=False)
    table = Table(title=f"obsctl verify: {target}", show_lines=False, expand=True)
    table.add_column("layer", style="bold", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("evidence / fix", ratio=1, overflow="fold")
    order = {layer: i for i, layer in enumerate(LAYERS)}
    last = None
    for r in sorted(results, key=lambda r: order.get(r.layer, len(order))):
        text = Text(r.evidence)
        if r.fix and r.status is not Status.PASS:
            text.append("\nfix: ", style="bold")
            text.append(r.fix)
        table.add_row(
            r.layer if r.layer != last else "",
            r.id,
            Text(r.status.value, style=STYLE[r.status]),
            text,
            end_section=False,
        )
        last = r.layer
    console.print(table)
    style = "bold red" if any(r.status is Status.FAIL for r in results) else "bold green"
    console.print(Text(summary_line(results, seconds), style=style))
