"""Stage: verify. Health checks of every hop of the data path, against a cluster (through
the Kubernetes API and its service proxy) or the local stack (Prometheus/Alertmanager)."""

from observability.verify.api import ClusterUnreachable, VerifyRun, run_verify
from observability.verify.checks import ALL_CHECKS, check_ids
from observability.verify.context import Options
from observability.verify.model import Check, Outcome, Result, Status

__all__ = [
    "ALL_CHECKS",
    "Check",
    "ClusterUnreachable",
    "Options",
    "Outcome",
    "Result",
    "Status",
    "VerifyRun",
    "check_ids",
    "run_verify",
]
