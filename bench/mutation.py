"""Mutation testing as a measure: does the test suite fail when the product breaks?

    .venv/bin/python bench/mutation.py [--only ID,ID] [--jobs 2] [--json]

A curated list of mutations (file, old snippet, new snippet) over alerting, dashboards,
verify checks, config, the simulator's metrics and the committed catalogs. Each is applied
in a fresh copy of the repository (the working tree, without .git/.venv), the rendered
files are regenerated (`obsctl render`, as a developer would after the change), then the
relevant test files run against the copy (PYTHONPATH points at it). A mutation is KILLED
when render fails or a test fails, SURVIVED otherwise. Every test subset is run once
unmutated first (baseline): a subset that fails on the clean tree is reported and its
mutations are not counted. Prints one line per mutation and `killed/total`.

Goal: >= 90% killed; every survivor is killed by a new test or explained as equivalent in
docs/testing.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".obsctl", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info"
)
TIMEOUT_S = 600

# Relevant test subsets per area (whole files: what a developer runs for that area).
ALERTING = (
    "tests/test_alerts_rules.py",
    "tests/test_alerts_thresholds.py",
    "tests/test_alerts_inhibition.py",
)
DASHBOARDS = ("tests/test_dashboards_build.py", "tests/test_dashboards_scope.py")
VERIFY_CLUSTER = ("tests/test_verify_cluster.py",)
VERIFY_FAILURES = ("tests/test_verify_failures.py",)
CONFIG = ("tests/test_config.py",)
SIM = ("tests/test_sim_gauges.py", "tests/test_sim_catalog.py", "tests/test_sim_api.py")
CATALOG = ("tests/test_metrics_catalog_pinned.py", "tests/test_sim_catalog.py")
RENDER = ("tests/test_gitops_render.py", "tests/test_lint_gitops.py")


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str = ""


M = Mutation
MUTATIONS: tuple[Mutation, ...] = (
    # -- alerting ------------------------------------------------------------------------
    M(
        "kv-threshold-0.94",
        "observability/alerting/vllm_saturation.py",
        'f"({usage})\\n> {threshold:g}",',
        'f"({usage})\\n> {threshold + 0.04:g}",',
        ALERTING,
        "KV warning fires at 0.94 (description still says 90%)",
    ),
    M(
        "kv-gt-to-ge",
        "observability/alerting/vllm_saturation.py",
        'f"({usage})\\n> {threshold:g}",',
        'f"({usage})\\n>= {threshold:g}",',
        ALERTING,
    ),
    M(
        "kv-no-for",
        "observability/alerting/vllm_saturation.py",
        'f"({usage})\\n> {threshold:g}",\n            t.saturation_for,',
        'f"({usage})\\n> {threshold:g}",\n            "0s",',
        ALERTING,
    ),
    M(
        "kv-median-to-max",
        "observability/alerting/vllm_saturation.py",
        "quantile_over_time(0.5, {q.sel(n)}[{window}])",
        "max_over_time({q.sel(n)}[{window}])",
        ALERTING,
    ),
    M(
        "kv-critical-uses-warning",
        "observability/alerting/vllm_saturation.py",
        'kv("critical", a.kv_cache_critical_ratio),',
        'kv("critical", a.kv_cache_warning_ratio),',
        ALERTING,
    ),
    M(
        "p99-to-p95",
        "observability/alerting/vllm_latency.py",
        'return f"histogram_quantile(0.99, {recorded}) > {threshold:g}"',
        'return f"histogram_quantile(0.95, {recorded}) > {threshold:g}"',
        ALERTING,
    ),
    M(
        "error-critical-uses-warning",
        "observability/alerting/vllm_availability.py",
        'errors("critical", a.error_ratio_critical),',
        'errors("critical", a.error_ratio_warning),',
        ALERTING,
    ),
    M(
        "stalled-zero-to-lt1",
        "observability/alerting/vllm_availability.py",
        '[{window}]))) == 0"',
        '[{window}]))) < 1"',
        ALERTING,
    ),
    M(
        "gpu-temp-gt-to-ge",
        "observability/alerting/gpu.py",
        'f"max by ({sc.by(sc.gpu)}) ({DCGM.GPU_TEMP}) > {threshold:g}",',
        'f"max by ({sc.by(sc.gpu)}) ({DCGM.GPU_TEMP}) >= {threshold:g}",',
        ALERTING,
    ),
    M(
        "gpu-underutil-lt-to-le",
        "observability/alerting/gpu.py",
        'f"< {a.gpu_utilization_low_ratio * 100:g}",',
        'f"<= {a.gpu_utilization_low_ratio * 100:g}",',
        ALERTING,
    ),
    M(
        "slo-burn-14.4-to-13.4",
        "observability/alerting/timing.py",
        'BurnWindow("1h", "5m", 14.4, "2m", "critical"),',
        'BurnWindow("1h", "5m", 13.4, "2m", "critical"),',
        ALERTING,
    ),
    M(
        "xid-79-not-critical",
        "observability/config/alerting.py",
        "default_factory=lambda: [48, 64, 74, 79, 92, 94, 95, 119, 120, 154],",
        "default_factory=lambda: [48, 64, 74, 92, 94, 95, 119, 120, 154],",
        ALERTING,
    ),
    M(
        "kv-default-0.94",
        "observability/config/alerting.py",
        "kv_cache_warning_ratio: float = Field(\n        0.90, gt=0, le=1,",
        "kv_cache_warning_ratio: float = Field(\n        0.94, gt=0, le=1,",
        ALERTING,
    ),
    M(
        "inhibit-twin-equal-drops-pod",
        "observability/alerting/alertmanager.py",
        '"equal": ["alertname", *cl, "namespace", "model_name", "pod", "Hostname", "gpu"],',
        '"equal": ["alertname", *cl, "namespace", "model_name", "Hostname", "gpu"],',
        ALERTING,
    ),
    M(
        "inhibit-list-drops-queue",
        "observability/alerting/alertmanager.py",
        '    "VLLMHighRequestLatency",\n    "VLLMQueueBacklog",\n)',
        '    "VLLMHighRequestLatency",\n)',
        ALERTING,
        "an alert removed from the TargetDown inhibition list",
    ),
    M(
        "inhibit-targetdown-mutes-critical",
        "observability/alerting/alertmanager.py",
        'f\'alertname=~"{"|".join(INHIBITED_BY_TARGET_DOWN)}"\',\n                \'severity="warning"\',',
        'f\'alertname=~"{"|".join(INHIBITED_BY_TARGET_DOWN)}"\',',
        ALERTING,
    ),
    # -- dashboards ----------------------------------------------------------------------
    M(
        "panel-loses-namespace",
        "observability/dashboards/queries.py",
        'return Promql(self._matchers("namespace", "model_name", "pod"), self._by(by), RATE)',
        'return Promql(self._matchers("model_name", "pod"), self._by(by), RATE)',
        DASHBOARDS,
        'a panel query loses namespace=~"$namespace"',
    ),
    M(
        "panel-undefined-namespaces",
        "observability/dashboards/queries.py",
        "parts += [f'{lbl}=~\"${lbl}\"' for lbl in labels]",
        "parts += [f'{lbl}=~\"${lbl}s\"' if lbl == 'namespace' else f'{lbl}=~\"${lbl}\"' "
        "for lbl in labels]",
        DASHBOARDS,
        "a panel query uses the undefined $namespaces",
    ),
    M(
        "per-pod-recording-loses-pod",
        "observability/dashboards/queries.py",
        '        labels = ("namespace", "model_name", "pod")\n',
        '        labels = ("namespace", "model_name")\n',
        DASHBOARDS,
    ),
    M(
        "substitute-unknown-to-wildcard",
        "observability/dashboards/exprs.py",
        "            raise UnknownVariable(name, sorted(values))",
        '            return ".*"',
        DASHBOARDS,
    ),
    M(
        "scope-lint-accepts-equality",
        "observability/lint/scope.py",
        'and m.op == "=~"\n',
        "",
        DASHBOARDS,
    ),
    # -- verify ----------------------------------------------------------------------------
    M(
        "verify-rules-loaded-never-missing",
        "observability/verify/checks_rules.py",
        'missing = [w for w in want if w["name"] not in groups]',
        "missing = []",
        VERIFY_FAILURES,
        "verify's rules.loaded never reports a missing group",
    ),
    M(
        "verify-operator-ready-ignores-replicas",
        "observability/verify/checks_crds.py",
        "if want and ready < want:",
        "if False:",
        VERIFY_FAILURES,
    ),
    M(
        "verify-grafana-database-ignored",
        "observability/verify/checks_grafana.py",
        'if body.get("database") != "ok":',
        "if False:",
        VERIFY_FAILURES,
    ),
    M(
        "verify-alertmanager-no-integration-passes",
        "observability/verify/checks_alerting.py",
        "    if not real:",
        "    if False:",
        VERIFY_FAILURES,
    ),
    M(
        "verify-watchdog-missing-passes",
        "observability/verify/checks_alerting.py",
        "    if not in_am:",
        "    if False:",
        VERIFY_CLUSTER,
    ),
    M(
        "verify-escaping-never-fails",
        "observability/verify/checks_scrape.py",
        "    if under and not colon:",
        "    if False:",
        VERIFY_CLUSTER,
    ),
    M(
        "verify-gpu-capacity-ignored",
        "observability/verify/checks_gpu.py",
        "    if no_cap:",
        "    if False:",
        VERIFY_FAILURES,
    ),
    M(
        "verify-vllm-deployment-ignores-available",
        "observability/verify/checks_vllm.py",
        "            if avail < want:",
        "            if False:",
        VERIFY_FAILURES,
    ),
    M(
        "verify-datasource-404-passes",
        "observability/verify/checks_grafana.py",
        '    if resp.status == 404:\n        return Outcome.fail(\n            f"no Grafana datasource',
        '    if False:\n        return Outcome.fail(\n            f"no Grafana datasource',
        VERIFY_CLUSTER,
    ),
    # -- config ----------------------------------------------------------------------------
    M(
        "modelprofile-ignores-unknown-keys",
        "observability/config/models.py",
        "class ModelProfile(ConfigModel):\n",
        'class ModelProfile(ConfigModel):\n    model_config = {"extra": "ignore", "frozen": True}\n',
        CONFIG,
        "ModelProfile ignores unknown keys (max_num_seq: 4 silently dropped)",
    ),
    M(
        "base-model-ignores-unknown-keys",
        "observability/config/types.py",
        'model_config = ConfigDict(extra="forbid", frozen=True, strict=False)',
        'model_config = ConfigDict(extra="ignore", frozen=True, strict=False)',
        CONFIG,
    ),
    M(
        "kv-order-not-validated",
        "observability/config/alerting.py",
        '                ("kv_cache_critical_ratio", "kv_cache_warning_ratio"),\n',
        "",
        CONFIG,
    ),
    M(
        "bucket-edge-not-validated",
        "observability/metrics/buckets.py",
        "    if float(value) in edges:\n        return None",
        "    if True:\n        return None",
        (*CONFIG, "tests/test_alerts_rules.py"),
    ),
    # -- simulator metrics -----------------------------------------------------------------
    M(
        "sim-073-kv-gauge-stuck",
        "observability/sim/metrics.py",
        'self._set("vllm:gpu_cache_usage_perc", usage)',
        'self._set("vllm:gpu_cache_usage_perc", 0)',
        SIM,
        "simulator's 0.7.3 KV gauge (gpu_cache_usage_perc) stuck at 0",
    ),
    M(
        "sim-bucket-edges-doubled",
        "observability/sim/metrics.py",
        'kwargs["buckets"] = list(fam.buckets or ())',
        'kwargs["buckets"] = [b * 2 for b in fam.buckets or ()]',
        SIM,
        "simulator's bucket edges doubled",
    ),
    M(
        "sim-running-stuck",
        "observability/sim/metrics.py",
        'self._set("vllm:num_requests_running", running)',
        'self._set("vllm:num_requests_running", 0)',
        SIM,
    ),
    M(
        "sim-waiting-stuck",
        "observability/sim/metrics.py",
        'self._set("vllm:num_requests_waiting", waiting)',
        'self._set("vllm:num_requests_waiting", 0)',
        SIM,
    ),
    M(
        "sim-generation-tokens-double",
        "observability/sim/metrics.py",
        'self._inc("vllm:generation_tokens_total", s.decode_tokens + len(s.prompt_done))',
        'self._inc("vllm:generation_tokens_total", 2 * s.decode_tokens + len(s.prompt_done))',
        SIM,
    ),
    # -- catalogs and rendered artifacts -----------------------------------------------------
    M(
        "catalog-073-ttft-edge-edited",
        "observability/metrics/data/vllm-0.7.3.json",
        '    7.5,\n    10.0\n   ],\n   "condition": null,\n   "default": true\n  },\n  {\n'
        '   "name": "vllm:time_per_output_token_seconds",',
        '    7.5,\n    20.0\n   ],\n   "condition": null,\n   "default": true\n  },\n  {\n'
        '   "name": "vllm:time_per_output_token_seconds",',
        CATALOG,
        "a bucket edge edited in the 0.7.3 catalog JSON (TTFT 10.0 -> 20.0)",
    ),
    M(
        "servicemonitor-port-renamed",
        "observability/render/servicemonitors.py",
        '"port": VLLM_PORT_NAME,',
        '"port": "metrics",',
        RENDER,
    ),
)


def _run(cmd: list[str], cwd: Path, timeout: float = TIMEOUT_S) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        p = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f}s"
    return p.returncode, (p.stdout + p.stderr)[-3000:]


def _copy() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="obsctl-mutant-"))
    dst = tmp / "repo"
    shutil.copytree(ROOT, dst, ignore=IGNORE, symlinks=True)
    return dst


def _pytest(tests: tuple[str, ...], cwd: Path) -> tuple[int, str]:
    return _run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0", *tests],
        cwd,
    )


def apply(m: Mutation, repo: Path) -> None:
    path = repo / m.file
    text = path.read_text(encoding="utf-8")
    n = text.count(m.old)
    if n != 1:
        raise ValueError(f"{m.id}: old snippet found {n} times in {m.file} (needs exactly 1)")
    path.write_text(text.replace(m.old, m.new), encoding="utf-8")


def run_mutation(m: Mutation) -> dict[str, object]:
    t0 = time.monotonic()
    repo = _copy()
    try:
        try:
            apply(m, repo)
        except ValueError as err:
            return {"id": m.id, "status": "INVALID", "detail": str(err), "seconds": 0.0}
        rc, out = _run(
            [sys.executable, "-m", "observability.cli", "render", "--config", "bundle.yaml"], repo
        )
        if rc != 0:
            status, detail = "KILLED", "render failed: " + out.strip().splitlines()[-1]
        else:
            rc, out = _pytest(m.tests, repo)
            failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
            if rc == 0:
                status, detail = "SURVIVED", ""
            elif rc in (1, 2):
                status, detail = "KILLED", (failed[0] if failed else out.strip()[-200:])
            else:
                status, detail = "KILLED", f"tests exited {rc}"
        return {
            "id": m.id,
            "status": status,
            "detail": detail,
            "seconds": round(time.monotonic() - t0, 1),
        }
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)


def baseline(subsets: set[tuple[str, ...]], jobs: int) -> dict[tuple[str, ...], tuple[int, str]]:
    repo = _copy()
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda s: _pytest(s, repo), sorted(subsets)))
        return dict(zip(sorted(subsets), results, strict=True))
    finally:
        shutil.rmtree(repo.parent, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated mutation ids")
    ap.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    ap.add_argument("--no-baseline", action="store_true", help="skip the clean-tree run")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    chosen = [m for m in MUTATIONS if not args.only or m.id in args.only.split(",")]
    if args.list:
        for m in chosen:
            print(f"{m.id:<45} {m.file}")
        return 0
    if not chosen:
        print("error: no mutation matches --only", file=sys.stderr)
        return 2
    bad_subsets: set[tuple[str, ...]] = set()
    if not args.no_baseline:
        print(f"baseline: {len({m.tests for m in chosen})} test subsets on the clean tree ...")
        for subset, (rc, out) in baseline({m.tests for m in chosen}, args.jobs).items():
            if rc != 0:
                bad_subsets.add(subset)
                print(f"  BASELINE FAILS {' '.join(subset)}: {out.strip().splitlines()[-1]}")
    counted = [m for m in chosen if m.tests not in bad_subsets]
    results: list[dict[str, object]] = []
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for res in pool.map(run_mutation, counted):
                results.append(res)
                print(f"{res['status']:<9} {res['id']:<45} {res['seconds']:>6}s  {res['detail']}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    valid = [r for r in results if r["status"] in ("KILLED", "SURVIVED")]
    killed = sum(r["status"] == "KILLED" for r in valid)
    survivors = [r["id"] for r in valid if r["status"] == "SURVIVED"]
    pct = 100.0 * killed / len(valid) if valid else 0.0
    print(
        f"killed {killed}/{len(valid)} ({pct:.0f}%) in {time.monotonic() - t0:.0f}s"
        + (f"; survivors: {', '.join(survivors)}" if survivors else "")
    )
    if args.json:
        print(json.dumps({"killed": killed, "total": len(valid), "results": results}, indent=1))
    return 0 if pct >= 90 else 1


if __name__ == "__main__":
    sys.exit(main())
