"""Shared fixtures: the repository root, the committed bundle config, and simulators."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from observability.config import BundleConfig, load_config
from observability.sim import SimConfig, SimThread

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def bundle() -> BundleConfig:
    return load_config(REPO_ROOT / "bundle.yaml")


@pytest.fixture(scope="module")
def make_sim() -> Iterator[Callable[[SimConfig], SimThread]]:
    """Start simulators (sim_helpers.sim_config gives the config) that stop with the
    module: each test module's `sim` fixture is one call of this."""
    with ExitStack() as stack:
        yield lambda cfg: stack.enter_context(SimThread(cfg))


# The two files that run many scenario stacks at once, queued on one worker back to back
# (six stacks, then four) with config_space, the longest CPU-bound file, on the other;
# two such files at once starved the simulators (kv-saturation missed its page at a load
# average of 15 on 2 cores).
STACK_HEAVY_FIRST = ("test_scenarios_all.py", "test_config_space.py", "test_runtimes_local.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The order the xdist workers take files in (pyproject: `--dist loadfile
    --no-loadscope-reorder`): the stack-heavy files as above, then the other files with
    end-to-end tests, then the rest, so no long file starts last."""
    e2e = {item.path for item in items if item.get_closest_marker("e2e")}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.path.name in STACK_HEAVY_FIRST:
            return (0, STACK_HEAVY_FIRST.index(item.path.name))
        return (1 if item.path in e2e else 2, 0)

    items.sort(key=rank)
