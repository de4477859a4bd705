"""Stage: fault scenarios with measured alert timing, run against a running local stack."""

from observability.scenarios.catalog import SCENARIOS, Scenario
from observability.scenarios.run import (
    AlertTiming,
    ScenarioResult,
    active_alerts,
    clear_faults,
    fault_targets,
    format_result,
    max_range_s,
    run_scenario,
)

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
