"""How many valid bundle.yaml configurations render a bundle that lints clean?

Draws configurations from the same hypothesis strategy as tests/test_config_space.py
(testkit/configspace.py: models, deploy subsets, namespaces, cluster label, thresholds,
GPU settings, Secret names, and whatever dimensions were added since), renders each into
a temporary tree, lints it (every stage, promtool and kustomize included), checks
`render --check` and rule uniqueness, and prints how many were tried and passed. A
failure prints its problems and the drawn deploy/namespace layout; Ctrl-C stops after the
current configuration and still prints the totals.

    .venv/bin/python bench/config_soak.py [--examples 200] [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from testkit.configspace import bundles, check_tree  # noqa: E402


def _layout(data: dict[str, Any]) -> str:
    models = {
        k: m.get("namespace") or data["namespaces"]["vllm"] for k, m in data["models"].items()
    }
    return (
        f"models={models} deploy={data['vllm']['deploy']} "
        f"cluster_label={data['prometheus']['cluster_label']!r}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200, help="configurations to draw")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (reproducible run)")
    args = ap.parse_args()

    tried = passed = 0
    failures: list[tuple[str, list[str]]] = []
    start = time.monotonic()

    @settings(
        max_examples=args.examples,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=bundles())
    def one(data: dict[str, Any]) -> None:
        nonlocal tried, passed
        with tempfile.TemporaryDirectory(prefix="obsctl-soak-") as tmp:
            problems = check_tree(data, Path(tmp))
        tried += 1
        if problems:
            failures.append((_layout(data), problems))
            print(f"[{tried}] FAIL {_layout(data)}", flush=True)
            for p in problems[:5]:
                print(f"      {p}")
        else:
            passed += 1
        if tried % 10 == 0:
            rate = tried / (time.monotonic() - start)
            print(
                f"[{tried}/{args.examples}] {passed} passed ({rate:.2f} configurations/s)",
                flush=True,
            )

    run = seed(args.seed)(one) if args.seed is not None else one
    try:
        run()
    except KeyboardInterrupt:
        print("interrupted: totals so far")
    elapsed = time.monotonic() - start
    print(
        f"config soak: {tried} configurations tried, {passed} passed, "
        f"{tried - passed} failed in {elapsed:.0f}s"
    )
    return 0 if tried and passed == tried else 1


if __name__ == "__main__":
    sys.exit(main())
