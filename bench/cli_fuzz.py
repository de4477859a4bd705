#!/usr/bin/env python3
"""The CLI contract fuzz (tests/test_cli_contract.py) with more examples, not derandomized,
printing how many inputs each property threw at obsctl.

    python bench/cli_fuzz.py [--examples 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200, help="examples per property")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "counts.json"
        env = {
            **os.environ,
            "OBSCTL_FUZZ_EXAMPLES": str(args.examples),
            "OBSCTL_FUZZ_RANDOM": "1",
            "OBSCTL_FUZZ_REPORT": str(report),
        }
        started = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-n",
                "0",
                "-k",
                "fuzz",
                "tests/test_cli_contract.py",
            ],
            cwd=ROOT,
            env=env,
        )
        took = time.monotonic() - started
        counts = json.loads(report.read_text()) if report.exists() else {}
    total = sum(counts.values())
    for tag, n in sorted(counts.items()):
        print(f"{tag:<28} {n:>6} inputs")
    verdict = "all kept the contract" if proc.returncode == 0 else "CONTRACT BROKEN (see above)"
    print(f"{total} inputs in {took:.0f} s: {verdict}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
