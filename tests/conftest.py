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
