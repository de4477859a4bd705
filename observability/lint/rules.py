"""Lint for the alert rules and Alertmanager config: `check(root, cfg) -> list[Finding]`.

1. `promtool check rules --lint=all --lint-fatal` on the groups generated from `cfg`
   (standard and fast profiles).
2. `promtool test rules` on the hand-written tests in `alerts/tests/`. They pin exact
   thresholds, labels and URLs, so they run against rules generated from the reference
   config `alerts/tests/bundle.yaml` (a copy of the default bundle; a test in tests/
   keeps it rendering the same rules as the committed bundle.yaml). A fork that edits its
   thresholds still gets the rules' behaviour tested, and steps 1, 3, 4 check its own rules.
3. `amtool check-config` on `alertmanager_config(cfg)`.
4. The metric contract: every series a rule reads exists in a supported vLLM catalog, the
   DCGM default counters, the recording rules, or is `up`/`ALERTS`; and a vLLM name that
   some supported version lacks must be paired (same signal) with a name that version has.
   The exception is `recording.VERSION_LIMITED`: dashboard recordings of families only
   newer versions expose (their panels say so); no other rule may read them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from observability import runtimes, tmpdirs
from observability.alerting.alertmanager import alertmanager_config
from observability.alerting.recording import VERSION_LIMITED
from observability.alerting.rules import component_groups, rule_groups
from observability.alerting.timing import PROFILES
from observability.config import BundleConfig, ConfigError, load_config
from observability.lint.brackets import BRACKETS_DIR, BracketError, bracket_tests, coverage_problems
from observability.lint.findings import Finding
from observability.metrics.catalog import (
    available_vllm_versions,
    dcgm_catalog,
    karpenter_catalog,
    ksm_catalog,
    process_catalog,
    runtime_catalog,
    vllm_catalog,
    vllm_main_catalog,
)
from observability.metrics.names import SIGNALS, VLLM
from observability.metrics.promql_ast import PromQLError, metric_names
from observability.metrics.router import catalogs as router_catalogs

__all__ = [
    "REFERENCE_BUNDLE",
    "TESTS_DIR",
    "check",
    "contract_findings",
    "duplicate_rules",
    "prepare_test_tree",
    "promtool_check",
    "run_promtool_tests",
]

TESTS_DIR = "alerts/tests"
REFERENCE_BUNDLE = f"{TESTS_DIR}/bundle.yaml"
TIMEOUT_S = 120

# Series alerts read only on the right of `unless` (to spare what they describe): where a
# vLLM version lacks one nothing is spared, so no fallback is needed. Sleep mode exists
# from vLLM 0.11 (alerting/vllm_availability.py `asleep`).
EXCLUSION_ONLY = {VLLM.ENGINE_SLEEP_STATE.v1}

# Series that are not exporter metrics but always exist in Prometheus.
BUILTIN_SERIES = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_samples_scraped"}


def _known_series() -> tuple[dict[str, set[str]], set[str]]:
    """(vLLM series per version, every other exporter's series: DCGM, kube-state-metrics,
    Karpenter, and every serving runtime's catalog)."""

    per_version = {v: vllm_catalog(v).series_names() for v in available_vllm_versions()}
    others = dcgm_catalog().series_names()
    others |= ksm_catalog().series_names() | karpenter_catalog().series_names()
    for cat in runtimes.catalogs():
        others |= cat.series_names()
    others |= runtime_catalog("keda-2.17.2.json").series_names()
    for cat in router_catalogs():  # the inference pool's EPP generations, vLLM's NIXL
        others |= cat.series_names()
    # families read from vLLM main (KV connectors, sleep and weight-update operations) and
    # the API server's process collector: none in every version, so no fallback is asked
    others |= vllm_main_catalog().series_names() | process_catalog().series_names()
    return per_version, others


def _signal_names(series: str) -> tuple[str, ...]:
    """Every exposed series name of the signal `series` belongs to (with its suffix)."""
    for sig in SIGNALS.values():
        for n in sig.names:
            for suffix in ("", "_bucket", "_sum", "_count"):
                if series == n + suffix:
                    return tuple(m + suffix for m in sig.names)
    return (series,)


def contract_findings(rules: list[tuple[str, str]], recorded: set[str], file: str) -> list[Finding]:
    """`rules` is [(rule name, expr)]. See the module docstring, step 4."""
    per_version, dcgm = _known_series()
    any_vllm = set().union(*per_version.values()) if per_version else set()
    # HTTP metrics come from the API server's instrumentator, which some catalogs carry.
    known = any_vllm | dcgm | recorded | BUILTIN_SERIES
    out: list[Finding] = []
    for name, expr in rules:
        try:
            used = metric_names(expr)
        except PromQLError as err:
            out.append(Finding("metric-contract", file, str(err), obj=name, field="expr"))
            continue
        if name in VERSION_LIMITED:
            continue  # dashboard-only; its panel says where vLLM does not expose it
        for series in sorted(set(used) & VERSION_LIMITED):
            out.append(
                Finding(
                    "metric-contract",
                    file,
                    f"reads {series}, a dashboard recording that some supported vLLM "
                    "versions leave empty: alert on a signal every version has",
                    obj=name,
                    field="expr",
                )
            )
        for series in used:
            if series not in known:
                out.append(
                    Finding(
                        "metric-contract",
                        file,
                        f"reads {series}, which no supported vLLM version "
                        f"({', '.join(per_version)}), the DCGM default counters, kube-state-metrics, Karpenter or a "
                        "rule exposes: fix the name (counters end in _total)",
                        obj=name,
                        field="expr",
                    )
                )
                continue
            if series not in any_vllm or series in {VLLM.HTTP_REQUESTS.v1, *EXCLUSION_ONLY}:
                continue
            alternatives = set(_signal_names(series)) & set(used)
            for version, names in per_version.items():
                if not alternatives & names:
                    out.append(
                        Finding(
                            "metric-contract",
                            file,
                            f"reads {series}, which vLLM {version} does not expose, with no "
                            "fallback for it: add the other generation's name with `or` "
                            "(see observability/metrics/names.py)",
                            obj=name,
                            field="expr",
                        )
                    )
    return out


def _run(cmd: list[str], cwd: Path | None = None) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        return 127, f"{cmd[0]} not found: install the Debian package prometheus/alertmanager"
    except subprocess.TimeoutExpired:
        return 124, f"{cmd[0]} timed out after {TIMEOUT_S}s"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")


def prepare_test_tree(root: Path, work: Path, cfg: BundleConfig | None = None) -> list[Path]:
    """Write `work/rules/<component>.yaml` from the reference config (or `cfg`) and copy
    the hand-written tests to `work/tests/`, where `rule_files: [../rules/x.yaml]` resolve.
    Returns the copied test files."""
    ref = cfg or load_config(root / REFERENCE_BUNDLE)
    for stem, groups in component_groups(ref).items():
        _dump(work / "rules" / f"{stem}.yaml", {"groups": groups})
    tests = bracket_tests(root, work / "tests")
    for src in sorted((root / TESTS_DIR).glob("*.yaml")):
        if src.name == Path(REFERENCE_BUNDLE).name:
            continue
        dst = work / "tests" / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        tests.append(dst)
    return tests


def run_promtool_tests(root: Path, cfg: BundleConfig | None = None) -> tuple[int, str]:
    with tmpdirs.temporary_directory(prefix="obsctl-rules-") as tmp:
        try:
            tests = prepare_test_tree(root, Path(tmp), cfg)
        except BracketError as err:
            return 1, f"bad threshold bracket spec: {err}"
        if not tests:
            return 1, f"no promtool tests in {TESTS_DIR}/"
        # One promtool per file, in parallel: the files are independent and the SLO
        # brackets alone take seconds.
        cwd = Path(tmp) / "tests"
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            runs = list(pool.map(lambda t: _run(["promtool", "test", "rules", t.name], cwd), tests))
        rc = max(r for r, _ in runs)
        return rc, "\n".join(text for _, text in runs)


def duplicate_rules(groups: list[dict[str, Any]]) -> list[Finding]:
    """Rules sharing name and static labels (across all groups): Prometheus would mix
    their series, and promtool reports them without naming the group."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    out: list[Finding] = []
    for g in groups:
        for r in g["rules"]:
            name = r.get("alert") or r["record"]
            key = (name, tuple(sorted((r.get("labels") or {}).items())))
            labels = ", ".join(f"{k}={v}" for k, v in key[1]) or "none"
            if key in seen:
                out.append(
                    Finding(
                        "rules",
                        "alerts/",
                        f"rule {name} in group {g['name']} has the same name and labels "
                        f"({labels}) as one in group {seen[key]}: give each a distinguishing "
                        "label (e.g. the model's namespace and model_name)",
                        obj=name,
                    )
                )
            else:
                seen[key] = g["name"]
    return out


def _promtool_message(text: str, path: Path, profile: str) -> str:
    """promtool's whole report (after the file name), on one line."""
    lines = [ln.strip() for ln in text.replace(str(path), f"<{profile} rules>").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("Checking ")]
    return " | ".join(lines)


def promtool_check(groups: list[dict[str, Any]], work: Path, profile: str) -> list[Finding]:
    """Our duplicate check (names rule and group) and `promtool check rules` (whole report)."""
    out = [
        Finding(f.check, f.file, f"{profile} profile: {f.message}", obj=f.obj)
        for f in duplicate_rules(groups)
    ]
    path = work / f"rules-{profile}.yaml"
    _dump(path, {"groups": groups})
    rc, text = _run(["promtool", "check", "rules", "--lint=all", "--lint-fatal", str(path)])
    if rc != 0:
        msg = _promtool_message(text, path, profile)
        out.append(Finding("promtool", "alerts/", f"{profile} profile: {msg}"))
    return out


def _check_rules(cfg: BundleConfig, work: Path) -> list[Finding]:
    return [f for p in PROFILES for f in promtool_check(rule_groups(cfg, p), work, p)]


def _check_alertmanager(cfg: BundleConfig, work: Path) -> list[Finding]:
    path = work / "alertmanager.yaml"
    _dump(path, alertmanager_config(cfg))
    rc, text = _run(["amtool", "check-config", str(path)])
    if rc != 0:
        return [Finding("amtool", "alerts/alertmanager.yaml", text.splitlines()[-1])]
    return []


def _check_bracket_coverage(root: Path) -> list[Finding]:
    """Every alert severity of the reference rules has a quiet and a firing bracket point."""
    try:
        groups = rule_groups(load_config(root / REFERENCE_BUNDLE))
        problems = coverage_problems(root, groups)
    except (BracketError, ConfigError) as err:
        return [Finding("brackets", BRACKETS_DIR, str(err))]
    return [
        Finding(
            "brackets",
            BRACKETS_DIR,
            f"{p}: add points just below and just above its threshold "
            "(see docs/alerting.md, Threshold brackets)",
        )
        for p in problems
    ]


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    try:
        groups = rule_groups(cfg)
    except ConfigError as err:
        return [Finding("rules", "bundle.yaml", str(err))]
    findings: list[Finding] = []
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    recorded |= {r["record"] for g in rule_groups(cfg, "fast") for r in g["rules"] if "record" in r}
    pairs = [(r.get("alert") or r["record"], r["expr"]) for g in groups for r in g["rules"]]
    findings += contract_findings(pairs, recorded, "alerts/")
    with tmpdirs.temporary_directory(prefix="obsctl-lint-") as tmp:
        findings += _check_rules(cfg, Path(tmp))
        findings += _check_alertmanager(cfg, Path(tmp))
    if (root / REFERENCE_BUNDLE).is_file():
        findings += _check_bracket_coverage(root)
        rc, text = run_promtool_tests(root)
        if rc != 0:
            failed = [ln.strip() for ln in text.splitlines() if "FAILED" in ln or "alertname" in ln]
            msg = " | ".join(failed[:4]) or text.splitlines()[-1]
            findings.append(
                Finding(
                    "promtool-test",
                    TESTS_DIR,
                    f"{msg} (run `promtool test rules` on a tree from "
                    "observability.lint.rules.prepare_test_tree for the full diff)",
                )
            )
    else:
        findings.append(Finding("promtool-test", REFERENCE_BUNDLE, "missing: restore it from git"))
    return findings
