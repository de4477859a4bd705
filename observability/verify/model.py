"""The verify data model: a check, its outcome, and the result row users read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["LAYERS", "Check", "CheckFailed", "Outcome", "Result", "Status"]

# Data-path order: the report groups and sorts by this.
LAYERS = (
    "argocd",
    "crds",
    "stack",
    "gpu",
    "vllm",
    "scrape",
    "rules",
    "alerting",
    "grafana",
)


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: status, what it saw, and what to do about it."""

    status: Status
    evidence: str
    fix: str = ""

    @classmethod
    def ok(cls, evidence: str) -> Outcome:
        return cls(Status.PASS, evidence)

    @classmethod
    def warn(cls, evidence: str, fix: str) -> Outcome:
        return cls(Status.WARN, evidence, fix)

    @classmethod
    def fail(cls, evidence: str, fix: str) -> Outcome:
        return cls(Status.FAIL, evidence, fix)

    @classmethod
    def skip(cls, evidence: str, fix: str = "") -> Outcome:
        return cls(Status.SKIP, evidence, fix)


class CheckFailed(Exception):
    """Raised deep inside a check (e.g. an endpoint that does not answer) to end it as FAIL
    (or another status) with evidence and a fix, without threading returns through helpers."""

    def __init__(self, evidence: str, fix: str = "", status: Status = Status.FAIL) -> None:
        super().__init__(evidence)
        self.outcome = Outcome(status, evidence, fix)


@dataclass(frozen=True)
class Check:
    """One hop of the data path. `needs` lists check ids whose FAIL makes this one SKIP
    (no point asking Prometheus for series when Prometheus does not answer)."""

    id: str
    layer: str
    title: str
    run: Callable[[Any], Outcome]
    needs: tuple[str, ...] = ()
    local: bool = False  # also runs in `verify --local` (Prometheus/Alertmanager only)
    timeout: float | None = None  # seconds; None = the runner's default
    # Whether the check belongs to this bundle at all (a runtime or KEDA it does not use:
    # the check is left out, not reported as SKIP). None: always.
    applies: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Result:
    id: str
    layer: str
    title: str
    status: Status
    evidence: str
    fix: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["seconds"] = round(self.seconds, 3)
        d.pop("extra")
        return d
