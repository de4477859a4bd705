"""Alert quality on the local stack: detection time vs the theoretical minimum per scenario,
false positives under benign load, and series ingested per vLLM replica vs its raw exposition.

    .venv/bin/python bench/scenarios.py [--scenarios a,b] [--runtime NAME] [--json]

Runs each scenario on its own fresh fast-profile stack (real Prometheus + Alertmanager,
simulators, Locust load): follow-on alerts of one fault (5 m rate windows, SLO windows
up to 3 h) would otherwise still fire during the next. Prints one table, PASS or FAIL per
scenario: every expected alert pages, none unexpected, each page within 1.2x the minimum
computed from its rule (observability/scenarios/minimum.py; an expected alert without a
computable minimum fails). Exits 1 when any scenario fails.

Router scenarios (`epp-crash`, `pool-unready`, `scheduling-failures`, `datalayer-errors`:
faults on the inference pool's endpoint picker) run with gateway.inference_pool on, as
`obsctl demo --inference-pool` runs it.

`--runtime NAME` serves the stack's only model through that runtime, as `obsctl demo
--runtime NAME --models 1` does (KServe: scraped through ODH's renaming monitor and mapped;
LWS: groups of a leader and a worker), so every scenario proves the same alert names on it.

`--engine vllm-cpu` runs the real-engine scenarios (kv-saturation, queue-backlog,
target-down: observability/scenarios/catalog.py REAL_SCENARIOS) on stacks with one real
vLLM replica on CPU whose KV cache is shrunk to 24 blocks (`bash scripts/setup.sh --real`
first; each stack waits for the engine to start, about a minute; docs/real-engine.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from observability.config import load_config  # noqa: E402
from observability.local.models import demo_models  # noqa: E402
from observability.local.router import with_inference_pool  # noqa: E402
from observability.local.stack import LocalStack, StackOptions, with_runtime  # noqa: E402
from observability.local.summary import query  # noqa: E402
from observability.runtimes import REGISTRY  # noqa: E402
from observability.scenarios import SCENARIOS, format_result, run_scenario  # noqa: E402
from observability.scenarios.catalog import REAL_ENGINE_ARGS, REAL_SCENARIOS  # noqa: E402


def raw_samples(url: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def series_ratio(stack: LocalStack) -> list[dict[str, object]]:
    rows = []
    for rep in stack.running.replicas:
        if rep.runtime != "vllm":
            continue  # vLLM replicas only (a TGI replica is scraped as job="tgi")
        expr = f'count({{pod="{rep.pod}", job="vllm", __name__!~"up|scrape_.+"}})'
        ingested = int(float(query(stack.prometheus_url, expr)[0]["value"][1]))
        raw = raw_samples(rep.url)
        rows.append({"pod": rep.pod, "raw": raw, "ingested": ingested, "ratio": ingested / raw})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", default="", help="comma-separated; default: all")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--runtime", choices=list(REGISTRY), help="serve the only model through this runtime"
    )
    ap.add_argument(
        "--engine",
        choices=["sim", "vllm-cpu"],
        default="sim",
        help="vllm-cpu: the real-engine scenarios on a stack with one real vLLM replica",
    )
    args = ap.parse_args()
    real = args.engine == "vllm-cpu"
    catalog = REAL_SCENARIOS if real else SCENARIOS
    names = [n for n in args.scenarios.split(",") if n] or list(catalog)
    cfg = load_config(ROOT / "bundle.yaml")
    models: tuple[tuple[str, str], ...] = ()
    if args.runtime:
        models = demo_models(cfg, 1)
        cfg = with_runtime(cfg, args.runtime, models[0][0])
    results, series = [], []
    for name in names:
        # a router scenario (target epp) runs with the inference pool on
        pooled = catalog[name].needs_pool and not cfg.pool.enabled
        stack = LocalStack(
            StackOptions(
                cfg=with_inference_pool(cfg, models) if pooled else cfg,
                repo_root=ROOT,
                profile="fast",
                models=models,
                state_file=ROOT / ".obsctl" / f"bench-state-{os.getpid()}.json",
                real_replicas=1 if real else 0,
                engine_args=REAL_ENGINE_ARGS if real else (),
            )
        )
        try:
            stack.start(progress=lambda m: print(f"- {m}", file=sys.stderr))
            if not series:
                time.sleep(3)  # a few scrapes with load, so every family has its series
                series = series_ratio(stack)
            handle = stack.running
            res = run_scenario(
                catalog[name],
                handle,
                say=lambda m: print(f"- {m}", file=sys.stderr),
                kill=lambda _pod, s=stack: s.engines[0].kill(),
            )
            results.append(res)
            print("\n".join(format_result(res)), file=sys.stderr)
        finally:
            stack.stop()
    if args.json:
        print(json.dumps({"scenarios": [r.to_json() for r in results], "series": series}, indent=2))
        return 0 if all(r.ok for r in results) else 1
    if args.runtime:
        print(f"runtime: {args.runtime} (the stack's only model: {models[0][0]})")
    if real:
        print("engine: one real vLLM replica on CPU (vllm-cpu, 24 KV blocks) per stack")
    print(
        f"\n{'':<4} {'scenario':<20} {'alert':<28} {'fired':<5} {'webhook':>8} {'minimum':>8} "
        f"{'ratio':>6}"
    )
    for r in results:
        verdict = "PASS" if r.ok else "FAIL"
        if not r.alerts:
            print(f"{verdict:<4} {r.scenario:<20} {'(none)':<28}")
        for t in r.alerts:
            wh = f"{t.webhook_s:7.1f}s" if t.webhook_s is not None else "       -"
            mn = f"{t.theoretical_min_s:7.1f}s" if t.theoretical_min_s is not None else "       -"
            ratio = f"{t.ratio:5.2f}x" if t.ratio is not None else "     -"
            tag = (
                ""
                if t.expected
                else "  (unexpected)"
                if t.alert in r.unexpected
                else "  (fired, paged nobody)"
                if t.webhook_s is None
                else "  (tolerated)"
            )
            print(
                f"{verdict:<4} {r.scenario:<20} {t.alert:<28} {'yes' if t.fired else 'NO':<5} "
                f"{wh} {mn} {ratio}{tag}"
            )
        for note in r.notes:
            print(f"{'':<4} {r.scenario:<20} note: {note}")
    failed = [r.scenario for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios pass", end="")
    print(f"; FAIL: {', '.join(failed)}" if failed else "")
    benign = [r for r in results if r.scenario == "benign"]
    if benign:
        print(f"\nfalse positives under benign load: {len(benign[0].unexpected)}")
    print(f"\n{'pod':<52} {'raw':>6} {'ingested':>9} {'ratio':>6}")
    for s in series:
        print(f"{s['pod']:<52} {s['raw']:>6} {s['ingested']:>9} {s['ratio']:>6.2f}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
