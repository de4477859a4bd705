"""Our rule files for a Prometheus that serves backfilled history, and the recorded series
over that history.

Prometheus evaluates rules only from the moment it loads them, so a Prometheus filled with
`promtool tsdb create-blocks-from openmetrics` holds no recorded series for its past. The
dashboard reads the `vllm.recording` group, so `backfill_recordings` runs `promtool tsdb
create-blocks-from rules` for that group against the Prometheus holding the raw history and
moves the blocks into its data dir; restart it to serve them (as one that had run the rules
all along would). promtool evaluates every rule against the source Prometheus, so a rule
over another recording of the group (a quantile over a bucket rate) only finds its input
once that recording's blocks are served: such rules go in a later pass, after `restart`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from observability.alerting.rules import rule_groups
from observability.alerting.vllm_recording import GROUP
from observability.config import BundleConfig
from observability.metrics.promql_ast import metric_names

__all__ = ["backfill_recordings", "write_rule_files"]


def write_rule_files(cfg: BundleConfig, out_dir: Path, profile: str = "standard") -> list[Path]:
    """`[dashboard recordings file, every other group's file]` from `rule_groups(cfg)`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = rule_groups(cfg, profile)
    recording = [g for g in groups if g["name"] == GROUP]
    rest = [g for g in groups if g["name"] != GROUP]
    paths = []
    for name, part in (("recording-rules.yaml", recording), ("alert-rules.yaml", rest)):
        path = out_dir / name
        path.write_text(yaml.safe_dump({"groups": part}, sort_keys=False, width=1000))
        paths.append(path)
    return paths


def _passes(groups: list[dict]) -> list[list[dict]]:
    """The groups split into passes: a rule reading a name recorded in the file runs one
    pass after the rule recording it."""
    rules = [r for g in groups for r in g["rules"] if "record" in r]
    level: dict[str, int] = {}
    for rule in rules:  # a group's rules read only the recordings above them
        deps = [level[n] + 1 for n in metric_names(rule["expr"]) if n in level]
        level[rule["record"]] = max(level.get(rule["record"], 0), *deps, 0)
    n = max(level.values(), default=0) + 1
    out = []
    for i in range(n):
        part = [
            {**g, "rules": [r for r in g["rules"] if level.get(r.get("record")) == i]}
            for g in groups
        ]
        out.append([g for g in part if g["rules"]])
    return out


def backfill_recordings(
    prometheus_url: str,
    rule_file: Path,
    data_dir: Path,
    start: float,
    end: float,
    eval_interval: str = "15s",
    promtool: str = "promtool",
    timeout_s: float = 1800,
    restart: Callable[[], None] | None = None,
) -> None:
    """Evaluate `rule_file`'s recording rules over [start, end] every `eval_interval`
    against `prometheus_url` and move the blocks into `data_dir`. Rules over recordings
    of the same file need `restart` (serve `data_dir` again, same URL) between passes."""
    passes = _passes(yaml.safe_load(rule_file.read_text())["groups"])
    if len(passes) > 1 and restart is None:
        raise ValueError(f"{rule_file}: rules read recordings of the file; pass restart=")
    for i, groups in enumerate(passes):
        if i:
            restart()  # type: ignore[misc]  # checked above
        part = rule_file.parent / f"{rule_file.stem}.pass{i}.yaml"
        part.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000))
        try:
            _backfill_pass(
                prometheus_url, part, data_dir, start, end, eval_interval, promtool, timeout_s
            )
        finally:
            part.unlink()


def _backfill_pass(
    prometheus_url: str,
    rule_file: Path,
    data_dir: Path,
    start: float,
    end: float,
    eval_interval: str,
    promtool: str,
    timeout_s: float,
) -> None:
    """One `promtool tsdb create-blocks-from rules` run, its blocks moved into `data_dir`."""
    out = data_dir.parent / f"{data_dir.name}.rules"
    try:
        subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--start={int(start)}",
                f"--end={int(end)}",
                f"--url={prometheus_url}",
                f"--output-dir={out}",
                f"--eval-interval={eval_interval}",
                "--quiet",
                str(rule_file),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        for block in out.iterdir():
            if block.is_dir():
                shutil.move(str(block), str(data_dir / block.name))
    finally:
        shutil.rmtree(out, ignore_errors=True)
