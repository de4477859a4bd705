"""The base install runs render, lint and verify; the demo stack is the [demo] extra.

Building a base-only venv takes minutes, so the check blocks the demo packages' imports
with a meta-path finder in a subprocess instead: anything that imports them at module
level on the render/lint/verify path fails here. A second check reads every import in
the package and requires its distribution in pyproject.toml (base or an extra).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from observability.commands._common import DEMO_PACKAGES

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
BASE_STAGES = ("alerting", "config", "lint", "metrics", "render", "verify", "runtimes")

BLOCKER = """
import importlib.abc, sys
BLOCK = set(sys.argv[1].split(","))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
sys.meta_path.insert(0, Blocker())
sys.argv = ["obsctl", *sys.argv[2:]]
if sys.argv[1:] == ["--import-base"]:
    import importlib, pkgutil, observability
    stages = {STAGES}
    names = [m.name for m in pkgutil.walk_packages(observability.__path__, "observability.")
             if m.name.split(".")[1].removesuffix(".py") in stages]
    for name in names:
        importlib.import_module(name)
    print(len(names))
    raise SystemExit(0)
from observability.cli import main
main()
"""


def _blocked(*args: str) -> subprocess.CompletedProcess[str]:
    code = BLOCKER.replace("{STAGES}", repr(set(BASE_STAGES)))
    return subprocess.run(
        [sys.executable, "-c", code, ",".join(sorted(DEMO_PACKAGES)), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["render", "--help"],
        ["lint", "--help"],
        ["verify", "--help"],
        ["render", "--check"],
        ["verify", "--list"],
    ],
)
def test_render_lint_verify_without_demo_packages(args: list[str]) -> None:
    proc = _blocked(*args)
    assert proc.returncode == 0, proc.stderr
    assert "blocked" not in proc.stderr + proc.stdout


def test_every_base_stage_module_imports_without_demo_packages() -> None:
    proc = _blocked("--import-base")
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 40  # render, lint, verify, alerting, metrics, ... modules


def test_demo_commands_name_the_extra() -> None:
    proc = _blocked("demo", "--duration", "1")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: this command needs the demo extra (Python package 'psutil' is not installed): "
        "pip install 'vllm-observability-bundle[demo]' (render, lint and verify need only the "
        "base install)\n"
    )
    proc = _blocked("sim", "fault", "slow-gpu", "--json")  # httpx only: runs, unreachable
    assert proc.returncode == 2 and "unreachable" in json.loads(proc.stdout)["error"]
    proc = _blocked("snapshot", "-p", "http://127.0.0.1:9", "--json")
    assert "'matplotlib' is not installed" in json.loads(proc.stdout)["error"]


# Modules that run in the real engine's own virtualenv (.venv-vllm), never in obsctl's.
REAL_ENGINE = "observability/engine/"


def _imported_top_levels(real: bool = False) -> set[str]:
    """Third-party top-level modules imported by obsctl's code (`real`: by the code that
    runs in the real engine's virtualenv)."""
    names: set[str] = set()
    for path in (REPO / "observability").rglob("*.py"):
        if path.relative_to(REPO).as_posix().startswith(REAL_ENGINE) != real:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"observability", "__future__"}


def _declared(requirements: list[str]) -> set[str]:
    out = set()
    for req in requirements:
        name = req.split(";")[0]
        for sep in "<>=!~[ ":
            name = name.split(sep)[0]
        out.add(name.strip().lower().replace("_", "-"))
    return out


def test_every_imported_package_is_declared_and_demo_ones_are_extras() -> None:
    base = _declared(PYPROJECT["project"]["dependencies"])
    demo = _declared(PYPROJECT["project"]["optional-dependencies"]["demo"])
    dists = importlib.metadata.packages_distributions()
    missing, misplaced = [], []
    for mod in sorted(_imported_top_levels()):
        owners = {d.lower().replace("_", "-") for d in dists.get(mod, [mod])}
        if not owners & (base | demo):
            missing.append(f"{mod} ({', '.join(sorted(owners))})")
        if mod in DEMO_PACKAGES and owners & base:
            misplaced.append(mod)
    real = _declared(PYPROJECT["project"]["optional-dependencies"]["real"])
    for mod in sorted(_imported_top_levels(real=True) - _imported_top_levels()):
        owners = {d.lower().replace("_", "-") for d in dists.get(mod, [mod])} | {mod}
        if not owners & (base | demo | real):
            missing.append(f"{mod} (real engine)")
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert not misplaced, f"demo-only packages in the base install: {misplaced}"
    # The demo set named in the CLI's hint is what the [demo] extra installs.
    for mod in DEMO_PACKAGES:
        assert {d.lower().replace("_", "-") for d in dists[mod]} & demo, mod
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "kubernetes>=37,<38" in PYPROJECT["project"]["dependencies"]
