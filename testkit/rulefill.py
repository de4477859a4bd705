"""Our rule files for a Prometheus that serves backfilled history, and the recorded series
over that history.

Prometheus evaluates rules only from the moment it loads them, so a Prometheus filled with
`promtool tsdb create-blocks-from openmetrics` holds no recorded series for its past. The
dashboard reads the `vllm.recording` group, so `backfill_recordings` runs `promtool tsdb
create-blocks-from rules` for that group against the Prometheus holding the raw history and
moves the blocks into its data dir; restart it to serve them (as one that had run the rules
all along would).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from observability.alerting.rules import rule_groups
from observability.alerting.vllm_recording import GROUP
from observability.config import BundleConfig

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


def backfill_recordings(
    prometheus_url: str,
    rule_file: Path,
    data_dir: Path,
    start: float,
    end: float,
    eval_interval: str = "15s",
    promtool: str = "promtool",
    timeout_s: float = 1800,
) -> None:
    """Evaluate `rule_file`'s recording rules over [start, end] every `eval_interval`
    against `prometheus_url` and move the blocks into `data_dir`."""
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
