"""Prometheus durations (`30s`, `5m`, `1h30m`, `30d`): the one parser and pydantic type.

The grammar is Prometheus' own (`model.ParseDuration`): whole numbers with the units
y, w, d, h, m, s, ms, each at most once and largest first, or a bare `0`. `Duration` is the
pydantic field type (config), `duration_seconds` the parser every other place uses (CLI
options, the snapshot page's `?range=`, scenario timing).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = ["UNIT_SECONDS", "Duration", "DurationError", "check_duration", "duration_seconds"]

UNIT_SECONDS = {"y": 31536000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_GRAMMAR = re.compile("".join(rf"(?:(?P<{u}>\d+){u})?" for u in UNIT_SECONDS))
_EXAMPLES = "e.g. 30s, 5m, 1h30m, 30d"


class DurationError(ValueError):
    """Not a Prometheus duration; the message names the value and shows valid ones."""


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration such as `1h30m` or `15s`."""
    if value == "0":
        return 0.0
    m = _GRAMMAR.fullmatch(value) if isinstance(value, str) and value else None
    if m is None or not any(m.groupdict().values()):
        raise DurationError(f"{value!r} is not a Prometheus duration ({_EXAMPLES})")
    return float(sum(int(n) * UNIT_SECONDS[u] for u, n in m.groupdict().items() if n))


def check_duration(value: str) -> str:
    """`value` itself when it is a duration, else `DurationError`."""
    duration_seconds(value)
    return value


Duration = Annotated[
    str,
    AfterValidator(check_duration),
    Field(description=f"Prometheus duration, {_EXAMPLES}"),
]
