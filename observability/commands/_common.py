"""Shared CLI plumbing: exit codes, one-line errors, loading the bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from observability.config import BundleConfig, ConfigError, load_config

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigOption",
    "die",
    "load_bundle",
    "print_json",
]

EXIT_OK = 0
EXIT_FAILED = 1  # a check failed
EXIT_USAGE = 2  # bad usage, bad config, or something unreachable

ConfigOption = typer.Option(
    Path("bundle.yaml"), "--config", "-c", help="Path to bundle.yaml.", envvar="OBSCTL_CONFIG"
)


def die(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit; never a traceback."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def load_bundle(path: Path) -> BundleConfig:
    """The validated config, or every problem in it (one `error:` line each) and exit 2."""
    try:
        return load_config(path)
    except ConfigError as err:
        for line in err.lines[:-1]:
            typer.secho(f"error: {line}", err=True, fg=typer.colors.RED)
        die(err.lines[-1])


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
