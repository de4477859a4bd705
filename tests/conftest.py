"""Shared fixtures: the repository root and the committed bundle config."""

from __future__ import annotations

from pathlib import Path

import pytest

from observability.config import BundleConfig, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def bundle() -> BundleConfig:
    return load_config(REPO_ROOT / "bundle.yaml")
