"""Stage: fault scenarios with measured alert timing, run against a running local stack."""

from __future__ import annotations

import importlib
from typing import Any

from observability.scenarios.catalog import SCENARIOS, Scenario

# Eager: the catalog. Lazy: everything run.py exports (its __all__), which needs the local
# stack (psutil: the [demo] extra), so `obsctl --help` and `scenario list` work on the base
# install.
__all__ = ["SCENARIOS", "Scenario"]


def __getattr__(name: str) -> Any:
    if not name.startswith("_"):
        run = importlib.import_module("observability.scenarios.run")
        if name in run.__all__:
            return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
