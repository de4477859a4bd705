"""Reading bundle.yaml: `load_config` (a file) and `parse_config` (data already loaded),
each raising `ConfigError` with every problem, one line each, at its line:column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from observability.config.bundle import BundleConfig
from observability.config_errors import format_errors, load_yaml_with_marks

__all__ = ["DEFAULT_BUNDLE_PATH", "ConfigError", "load_config", "parse_config"]

DEFAULT_BUNDLE_PATH = Path("bundle.yaml")


class ConfigError(Exception):
    """bundle.yaml problems, one line each naming the key (and where) and the fix."""

    def __init__(self, lines: str | list[str]) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("\n".join(self.lines))


def parse_config(
    data: Any, source: str = "bundle.yaml", marks: dict[tuple[str, ...], Any] | None = None
) -> BundleConfig:
    """Validate `data`; raise ConfigError listing every problem (with line:column when
    `marks` from the YAML are given)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: top level must be a mapping of keys, not {type(data).__name__}"
        )
    try:
        return BundleConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err, BundleConfig, marks or {}, source)) from None


def load_config(path: Path | str = DEFAULT_BUNDLE_PATH) -> BundleConfig:
    """Load and validate bundle.yaml; raise ConfigError with one line per problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: file not found: run obsctl from the repository root or pass --config PATH"
        )
    try:
        data, marks, duplicates = load_yaml_with_marks(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}: fix the syntax") from None
    dup_lines = [f"{path}:{d}" for d in duplicates]
    try:
        cfg = parse_config(data, source=str(path), marks=marks)
    except ConfigError as err:
        raise ConfigError(dup_lines + err.lines) from None
    if dup_lines:
        raise ConfigError(dup_lines)
    return cfg
