"""Find the Prometheus and Alertmanager binaries the local stack runs.

The Debian packages `prometheus` and `prometheus-alertmanager` install them; upstream
tarballs name the Alertmanager binary `alertmanager`. A missing binary is one line naming
the install command, never a traceback.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INSTALL_HINT", "Binaries", "MissingBinaryError", "find_binaries", "find_binary"]

INSTALL_HINT = "sudo apt-get install -y prometheus prometheus-alertmanager"

# Candidate names per tool, Debian name first; env var overrides for a custom install;
# the install command and what needs the tool, for the one-line error.
_CANDIDATES: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "prometheus": ("OBSCTL_PROMETHEUS", ("prometheus",), INSTALL_HINT, ""),
    "promtool": ("OBSCTL_PROMTOOL", ("promtool",), INSTALL_HINT, ""),
    "alertmanager": (
        "OBSCTL_ALERTMANAGER",
        ("prometheus-alertmanager", "alertmanager"),
        INSTALL_HINT,
        "",
    ),
    "amtool": ("OBSCTL_AMTOOL", ("amtool",), INSTALL_HINT, ""),
    "victoria-metrics": (
        "OBSCTL_VICTORIA_METRICS",
        ("victoria-metrics",),
        "sudo apt-get install -y victoria-metrics",
        "; `obsctl demo --clusters N` writes into it",
    ),
}


class MissingBinaryError(RuntimeError):
    """A required binary is not installed; the message names the fix."""


@dataclass(frozen=True)
class Binaries:
    prometheus: Path
    promtool: Path
    alertmanager: Path
    amtool: Path | None  # optional: only for debugging aids


def find_binary(tool: str, required: bool = True) -> Path | None:
    env, names, hint, needed_by = _CANDIDATES[tool]
    override = os.environ.get(env)
    if override:
        p = Path(override)
        if p.is_file() and os.access(p, os.X_OK):
            return p
        raise MissingBinaryError(f"{env}={override} is not an executable file: fix or unset it")
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None
        )
        if found:
            return Path(found)
    if required:
        raise MissingBinaryError(
            f"{names[0]} not found on PATH: install it with `{hint}` "
            f"(or set {env} to the binary){needed_by}"
        )
    return None


def find_binaries() -> Binaries:
    prom = find_binary("prometheus")
    promtool = find_binary("promtool")
    am = find_binary("alertmanager")
    assert prom and promtool and am  # required=True raises instead
    return Binaries(prom, promtool, am, find_binary("amtool", required=False))
