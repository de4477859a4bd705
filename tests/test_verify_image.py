"""The verify image: Dockerfile shape, the CronJob runs its entrypoint (no install at run
time), and that exact command line works in the venv."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from observability.render.rbac import VERIFY_ARGS, VERIFY_COMMAND

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
CRONJOB = yaml.safe_load((REPO / "deploy/verify/cronjob/cronjob.yaml").read_text("utf-8"))
POD = CRONJOB["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_multistage_pinned_nonroot() -> None:
    ins = _instructions()
    args = dict(rest.split("=", 1) for op, rest in ins if op == "ARG" and "=" in rest)
    froms = [rest for op, rest in ins if op == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build"), froms
    for ref in froms:
        image = ref.split()[0]
        image = args.get(image.strip("${}"), image)
        assert re.search(r":[\w.-]+@sha256:[0-9a-f]{64}$", image), image
    users = [rest for op, rest in ins if op == "USER"]
    assert users == ["65532:65532"]  # matches the CronJob's runAsUser/runAsGroup
    assert json.loads(dict(ins)["ENTRYPOINT"]) == list(VERIFY_COMMAND)
    # Only the base install (render, lint, verify): no extras in the image.
    installs = [rest for op, rest in ins if op == "RUN" and "pip install" in rest]
    assert len(installs) == 1 and "pip install --no-cache-dir ." in installs[0], installs
    assert "[" not in installs[0].split("pip install", 1)[1].split("&&")[0]


def test_cronjob_runs_the_image_entrypoint_without_installing() -> None:
    (verify,) = POD["containers"]
    assert verify["command"] == list(VERIFY_COMMAND)
    assert verify["args"] == list(VERIFY_ARGS)
    assert not any("pip" in " ".join(c.get("args", [])) for c in POD["containers"])
    sc = POD["securityContext"]
    assert sc["runAsUser"] == 65532 and sc["runAsNonRoot"] is True


def test_entrypoint_command_in_the_venv_outside_a_cluster() -> None:
    """The exact command line of the CronJob, run with the venv's obsctl: outside a pod
    there is no service account, which must be exit 2 and one JSON error document."""
    args = [
        a if a != "/workspace/repo/bundle.yaml" else str(REPO / "bundle.yaml") for a in VERIFY_ARGS
    ]
    exe = Path(sys.executable).parent / VERIFY_COMMAND[0]
    proc = subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(exe.parent), "HOME": "/nonexistent"},
    )
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 2
    assert "in-cluster service account" in doc["error"], doc
    assert "Traceback" not in proc.stderr
