"""The threshold of each alert severity agrees in three places: the comparison in the
committed rule expression, the "(threshold ...)" of its description, and the key in
bundle.yaml. Read from the committed files (what Argo CD syncs) and bundle.yaml as plain
YAML, so neither side is computed by the generators under test. The brackets in
alerts/tests/brackets/ then prove each threshold in promtool, just below and just above.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

# (alert, static labels that pick the rule) -> (bundle.yaml `alerting:` key, unit of the
# description's number, factor from the bundle value to the expression's number).
TABLE: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, str, float]] = {
    ("VLLMHighTimeToFirstToken", (("severity", "warning"),)): ("ttft_p99_warning_seconds", "s", 1),
    ("VLLMHighTimeToFirstToken", (("severity", "critical"),)): (
        "ttft_p99_critical_seconds",
        "s",
        1,
    ),
    ("VLLMHighInterTokenLatency", (("severity", "warning"),)): ("itl_p99_warning_seconds", "s", 1),
    ("VLLMHighRequestLatency", (("severity", "warning"),)): ("e2e_p99_warning_seconds", "s", 1),
    ("VLLMKVCacheSaturated", (("severity", "warning"),)): ("kv_cache_warning_ratio", "%", 1),
    ("VLLMKVCacheSaturated", (("severity", "critical"),)): ("kv_cache_critical_ratio", "%", 1),
    ("VLLMRequestPreemptions", (("severity", "warning"),)): ("preemption_ratio_warning", "%", 1),
    ("VLLMQueueBacklog", (("reason", "waiting_requests"), ("severity", "warning"))): (
        "waiting_requests_warning",
        "",
        1,
    ),
    ("VLLMQueueBacklog", (("reason", "queue_time"), ("severity", "warning"))): (
        "queue_time_p99_warning_seconds",
        "s",
        1,
    ),
    ("VLLMHighErrorRate", (("severity", "warning"),)): ("error_ratio_warning", "%", 1),
    ("VLLMHighErrorRate", (("severity", "critical"),)): ("error_ratio_critical", "%", 1),
    ("GPUHighTemperature", (("severity", "warning"),)): (
        "gpu_temperature_warning_celsius",
        "°C",
        1,
    ),
    ("GPUHighTemperature", (("severity", "critical"),)): (
        "gpu_temperature_critical_celsius",
        "°C",
        1,
    ),
    ("VLLMNixlKVExpired", (("severity", "warning"),)): ("nixl_kv_expired_per_second", "/s", 1),
    ("VLLMKVOffloadAllocationFailures", (("severity", "warning"),)): (
        "kv_offload_allocation_failure_ratio_warning",
        "%",
        1,
    ),
    ("VLLMProcessMemoryNearLimit", (("severity", "warning"),)): (
        "process_memory_limit_ratio_warning",
        "%",
        1,
    ),
    # DCGM reports utilization in percent (0-100), the bundle as a ratio.
    ("GPUUnderutilized", (("severity", "info"),)): ("gpu_utilization_low_ratio", "%", 100),
}
# Alerts with no numeric threshold of their own: a state (down/absent/stalled), a code
# list (XID) or the dead man's switch. The SLO burn rates are checked separately below.
NO_THRESHOLD = {
    "VLLMEngineStalled",
    # a state (waiting requests while asleep) and a duration (engine_operation_stuck_for),
    # bracketed in alerts/tests/brackets/vllm-operations.yaml
    "VLLMEngineStuckAsleep",
    "VLLMEngineOperationStuck",
    "VLLMTargetDown",
    "VLLMMetricsAbsent",
    "GPUXidErrors",
    "DCGMExporterDown",
    "Watchdog",
    "VLLMLatencySLOBurnRate",
    # kube-state-metrics states (alerts/tests/brackets/vllm-lifecycle.yaml `exempt`)
    "VLLMPodUnschedulable",
    "VLLMPodCrashLooping",
    "VLLMPodCannotStart",
    "VLLMPodOOMKilled",
    "VLLMPodNotReady",
    "VLLMReplicasUnavailable",
    "VLLMModelPodStarting",
    # compared with Karpenter's own spec.limits / error counter, not a bundle key
    "GPUNodePoolLimitReached",
    "GPUNodeLaunchFailing",
}

_COMPARISON = re.compile(r"\s(>|<|>=|<=)\s*([0-9.]+)\s*$")
_DESC = re.compile(r"\(.*threshold ([0-9.]+)(%|s|°C|x|/s)?\)")


def _rules(repo_root: Path) -> list[dict]:
    out = []
    for path in sorted((repo_root / "alerts").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc.get("kind") != "PrometheusRule":
            continue
        out += [r for g in doc["spec"]["groups"] for r in g["rules"] if "alert" in r]
    return out


@pytest.fixture(scope="module")
def rules(repo_root):
    return _rules(repo_root)


@pytest.fixture(scope="module")
def alerting(repo_root):
    return yaml.safe_load((repo_root / "bundle.yaml").read_text())["alerting"]


def _key(rule: dict) -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {k: v for k, v in rule.get("labels", {}).items() if k in ("severity", "reason")}
    return rule["alert"], tuple(sorted(labels.items()))


def test_every_alert_severity_is_in_the_table(rules):
    unknown = sorted(
        {f"{a} {dict(lbl)}" for a, lbl in map(_key, rules) if a not in NO_THRESHOLD}
        - {f"{a} {dict(lbl)}" for a, lbl in TABLE}
    )
    assert unknown == [], "add these to TABLE (bundle key, unit) or NO_THRESHOLD"


def test_expression_description_and_bundle_agree(rules, alerting):
    checked = 0
    for rule in rules:
        key = _key(rule)
        if key not in TABLE:
            continue
        bundle_key, unit, factor = TABLE[key]
        assert bundle_key in alerting, f"bundle.yaml must set alerting.{bundle_key} explicitly"
        want = float(alerting[bundle_key])
        m = _COMPARISON.search(rule["expr"])
        assert m, f"{key}: no trailing comparison in {rule['expr']!r}"
        assert float(m.group(2)) == pytest.approx(want * factor), (key, m.group(0), want)
        assert m.group(1) in (">", "<"), f"{key}: thresholds are strict (`>`/`<`)"
        d = _DESC.search(rule["annotations"]["description"])
        assert d, f"{key}: description names no threshold"
        shown = float(d.group(1)) / (100 if d.group(2) == "%" else 1)
        assert shown * (factor if d.group(2) == "%" else 1) == pytest.approx(want * factor), (
            key,
            d.group(0),
            want,
        )
        assert (d.group(2) or "") == unit, (key, d.group(0))
        checked += 1
    assert checked == len(TABLE)


def test_slo_burn_rules_agree_with_the_slo_in_bundle_yaml(rules, alerting):
    slo = alerting["ttft_slo"]
    budget = round(1 - float(slo["objective"]), 10)
    burns = []
    for rule in (r for r in rules if r["alert"] == "VLLMLatencySLOBurnRate"):
        expr, desc = rule["expr"], rule["annotations"]["description"]
        found = re.findall(r"/ ([0-9.]+) > ([0-9.]+)", expr)
        assert len(found) == 2 and found[0] == found[1], expr  # long and short window
        assert float(found[0][0]) == pytest.approx(budget)
        burn = float(found[0][1])
        assert f"(threshold {found[0][1]}x)" in desc
        assert (
            f"({float(slo['objective']):.0%} of requests within {float(slo['threshold_seconds']):g}s "
            f"over {slo['window']})"
        ) in desc
        burns.append((rule["labels"]["long"], rule["labels"]["short"], burn))
    # Literal: the multiwindow, multi-burn-rate table of the SRE workbook (30d objective).
    assert sorted(burns) == [
        ("1d", "2h", 3.0),
        ("1h", "5m", 14.4),
        ("3d", "6h", 1.0),
        ("6h", "30m", 6.0),
    ]


def _fires(block: dict, point: dict, labels: dict[str, str]) -> bool:
    for item in point.get("fires") or []:
        got = {
            **(block.get("labels") or {}),
            **({"severity": item} if isinstance(item, str) else item),
        }
        if all(got.get(k) == v for k, v in labels.items()):
            return True
    return False


def test_bracket_points_sit_next_to_each_bundle_threshold(repo_root, alerting):
    """For each threshold, alerts/tests/brackets/ has a point on the quiet side within 1.1%
    of it that leaves the severity quiet, and one on the firing side within 1.1% that fires
    it (the bracket input `v` is the compared value: gauge, rate, ratio or quantile)."""
    blocks = [
        b
        for path in sorted((repo_root / "alerts/tests/brackets").glob("*.yaml"))
        for b in yaml.safe_load(path.read_text())["alerts"]
    ]
    for (alert, labels), (bundle_key, _unit, factor) in TABLE.items():
        want = dict(labels)
        t = float(alerting[bundle_key]) * factor
        below_fires = alert == "GPUUnderutilized"  # `<`: low values fire
        quiet, firing = False, False
        for block in (b for b in blocks if b["alert"] == alert):
            if any(k in want and want[k] != v for k, v in (block.get("labels") or {}).items()):
                continue
            for point in block["points"]:
                v = point["v"]
                if not isinstance(v, int | float) or abs(v - t) > 0.011 * t:
                    continue
                firing_side = (v < t) if below_fires else (v > t)
                fires = _fires(block, point, want)
                assert fires == firing_side, (alert, want, v, point["fires"])
                quiet |= not firing_side
                firing |= firing_side
        assert quiet and firing, f"{alert} {want}: no bracket points within 1.1% of {t:g}"


def test_histogram_shapes_put_the_p99_where_asked():
    from observability.lint.brackets import histogram_rates

    # v=0.99 in (0.75, 1.0]: r=0.96 < 0.99, so 75% sit at or below 0.75 and the rest in
    # (0.75, 1.0]: 0.75 + 0.25 * (0.99 - 0.75) / 0.25 = 0.99.
    assert histogram_rates([0.5, 0.75, 1.0, 1.5], 0.99, 0.99) == pytest.approx(
        {0.5: 0.75, 0.75: 0.75, 1.0: 1.0, 1.5: 1.0, float("inf"): 1.0}
    )
    # v=1.49 in (1.0, 1.5]: r=0.98 < 0.99 -> a=(0.99-0.98)/0.02=0.5.
    assert histogram_rates([1.0, 1.5, 2.5], 0.99, 1.49)[1.0] == pytest.approx(0.5)
    # v=2.49 in (1.0, 2.5]: r=0.993 >= 0.99 -> a 0.3% tail above 2.5.
    cum = histogram_rates([1.0, 2.5, 5.0], 0.99, 2.49)
    assert cum[1.0] == 0.0 and cum[2.5] == pytest.approx(1 - (1 - 0.99 / (1.49 / 1.5)))


def test_bracket_spec_errors_name_the_problem(tmp_path):
    from observability.lint.brackets import BracketError, histogram_rates

    with pytest.raises(BracketError, match="is a bucket edge"):
        histogram_rates([0.5, 1.0, 2.5], 0.99, 1.0)
    with pytest.raises(BracketError, match="above the top finite edge"):
        histogram_rates([0.5, 1.0], 0.99, 3.0)


def test_lint_names_an_alert_severity_without_brackets(repo_root, tmp_path):
    import shutil

    from observability.alerting.rules import rule_groups
    from observability.config import load_config
    from observability.lint.brackets import coverage_problems

    groups = rule_groups(load_config(repo_root / "alerts/tests/bundle.yaml"))
    assert coverage_problems(repo_root, groups) == []
    shutil.copytree(repo_root / "alerts/tests/brackets", tmp_path / "alerts/tests/brackets")
    spec = tmp_path / "alerts/tests/brackets/gpu-dcgm.yaml"
    doc = yaml.safe_load(spec.read_text())
    temp = next(b for b in doc["alerts"] if b["alert"] == "GPUHighTemperature")
    temp["points"] = [p for p in temp["points"] if "critical" not in p["fires"]]
    spec.write_text(yaml.safe_dump(doc))
    assert coverage_problems(tmp_path, groups) == [
        "GPUHighTemperature{severity=critical}: no bracket point fires it"
    ]
