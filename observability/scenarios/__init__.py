"""Stage: fault scenarios with measured alert timing, run against a running local stack."""

from __future__ import annotations

import importlib
from typing import Any

from observability.scenarios.catalog import SCENARIOS, Scenario

__all__ = [
    "SCENARIOS",
    "AlertTiming",
    "Scenario",
    "ScenarioResult",
    "active_alerts",
    "clear_faults",
    "fault_targets",
    "format_result",
    "max_range_s",
    "run_scenario",
]

_RUN = {
    "AlertTiming",
    "ScenarioResult",
    "active_alerts",
    "clear_faults",
    "fault_targets",
    "format_result",
    "max_range_s",
    "run_scenario",
}


def __getattr__(name: str) -> Any:
    # Running a scenario needs the local stack (psutil: the [demo] extra); the catalog
    # does not, so `obsctl --help` and `scenario list` work on the base install.
    if name in _RUN:
        return getattr(importlib.import_module("observability.scenarios.run"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
