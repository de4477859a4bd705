"""Alert rules: promtool tests and lint, naming/annotation contract, bucket edges, labels."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from observability.alerting import router
from observability.alerting.links import repo_web_url
from observability.alerting.rules import alert_names, prometheus_rules, rule_groups
from observability.config import ConfigError, load_config, parse_config
from observability.lint.rules import (
    REFERENCE_BUNDLE,
    TESTS_DIR,
    check,
    contract_findings,
    duplicate_rules,
    promtool_check,
    run_promtool_tests,
)
from observability.metrics.promql_ast import metric_names

DESIGN_ALERTS = {
    "VLLMHighTimeToFirstToken", "VLLMHighInterTokenLatency", "VLLMHighRequestLatency",
    "VLLMLatencySLOBurnRate", "VLLMKVCacheSaturated", "VLLMRequestPreemptions",
    "VLLMQueueBacklog", "VLLMHighErrorRate", "VLLMEngineStalled", "VLLMTargetDown",
    "VLLMMetricsAbsent", "GPUHighTemperature", "GPUXidErrors", "GPUUnderutilized",
    "DCGMExporterDown", "Watchdog",
}  # fmt: skip


def _alerts(groups):
    return [r for g in groups for r in g["rules"] if "alert" in r]


def _with(bundle, **alerting):
    data = bundle.model_dump()
    data["alerting"].update(alerting)
    return parse_config(data)


def test_promtool_unit_tests_pass(repo_root: Path) -> None:
    rc, out = run_promtool_tests(repo_root)
    assert rc == 0, out


def test_committed_bundle_renders_the_rules_the_tests_were_written_for(repo_root, bundle):
    reference = load_config(repo_root / REFERENCE_BUNDLE)
    # The reference also turns on what bundle.yaml leaves off (the inference pool's group),
    # so those rules are tested as well; every other group must be bundle.yaml's.
    opt_in = {router.GROUP}
    assert not bundle.pool.enabled and reference.pool.enabled
    ref_groups = [g for g in rule_groups(reference) if g["name"] not in opt_in]
    assert rule_groups(bundle) == ref_groups, (
        f"bundle.yaml's alerting differs from {REFERENCE_BUNDLE}: update both and the tests"
    )


@pytest.mark.parametrize("profile", ["standard", "fast"])
def test_promtool_check_rules_lint_all_fatal(bundle, tmp_path, profile):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups(bundle, profile)}))
    proc = subprocess.run(
        ["promtool", "check", "rules", "--lint=all", "--lint-fatal", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_design_alerts_exist_in_vllm_and_gpu_groups(bundle):
    assert set(alert_names(bundle)) >= DESIGN_ALERTS
    for g in rule_groups(bundle):
        assert re.match(r"^(vllm|gpu)\.[a-z.]+$", g["name"]), g["name"]


def test_every_alert_carries_severity_annotations_and_existing_runbook(repo_root, bundle):
    web = repo_web_url(bundle.git.repo_url)
    for rule in _alerts(rule_groups(bundle)):
        name, labels, ann = rule["alert"], rule["labels"], rule["annotations"]
        assert labels["severity"] in {"critical", "warning", "info", "none"}, name
        assert not any("$value" in v or "{{" in v for v in labels.values()), name
        assert set(ann) == {"summary", "description", "runbook_url", "dashboard_url"}, name
        assert "{{" not in ann["summary"] and ann["summary"].endswith("."), name
        prefix = f"{web}/blob/{bundle.git.revision}/"
        assert ann["runbook_url"].startswith(prefix), ann["runbook_url"]
        assert (repo_root / ann["runbook_url"].removeprefix(prefix)).is_file(), name
        assert f"/d/{bundle.dashboards.uid}" in ann["dashboard_url"], name


def test_gpu_underutilized_never_pages(bundle):
    sev = {r["labels"]["severity"] for r in _alerts(rule_groups(bundle))
           if r["alert"] == "GPUUnderutilized"}  # fmt: skip
    assert sev == {"info"}


def test_every_alert_is_tested_before_and_at_for(repo_root, bundle):
    fired, quiet = set(), set()
    for path in (repo_root / TESTS_DIR).glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        for test in doc.get("tests", []) if isinstance(doc, dict) else []:
            for art in test.get("alert_rule_test", []):
                (fired if art.get("exp_alerts") else quiet).add(art["alertname"])
    names = set(alert_names(bundle))
    assert names <= fired, f"never asserted firing: {names - fired}"
    assert names - {"Watchdog"} <= quiet, f"never asserted quiet: {names - quiet}"


def test_every_recording_rule_has_a_promql_expr_test(repo_root, bundle):
    recorded = {r["record"] for g in rule_groups(bundle) for r in g["rules"] if "record" in r}
    tested: set[str] = set()
    for path in (repo_root / TESTS_DIR).glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        for test in doc.get("tests", []) if isinstance(doc, dict) else []:
            for t in test.get("promql_expr_test", []):
                tested.update(metric_names(t["expr"]))
    assert recorded <= tested, f"recording rules without promql_expr_test: {recorded - tested}"


def test_cluster_label_is_kept_by_every_aggregation(bundle):
    data = bundle.model_dump()
    data["prometheus"].update(cluster_label="cluster", cluster_name="test")
    cfg = parse_config(data)
    for g in rule_groups(cfg):
        for r in g["rules"]:
            for clause in re.findall(r"\b(?:by|on) \(([^)]*)\)", r["expr"]):
                assert clause.startswith("cluster"), (r.get("alert") or r["record"], clause)
    am = prometheus_rules(cfg)
    assert am and all(o["kind"] == "PrometheusRule" for o in am)


@pytest.mark.parametrize(
    ("key", "value", "nearest"),
    [
        ("ttft_p99_warning_seconds", 1.2, "nearest valid: 1 or 2.5"),  # between edges
        # the top edge in 0.7.3: p99 could never exceed it
        ("e2e_p99_warning_seconds", 60.0, "nearest valid: 50"),
        ("itl_p99_warning_seconds", 0.25, "nearest valid: 0.2 or 0.3"),
    ],
)
def test_threshold_off_a_common_bucket_edge_is_a_config_error(bundle, key, value, nearest):
    with pytest.raises(ConfigError) as err:
        _with(bundle, **{key: value})
    assert f"'alerting.{key}'" in str(err.value)
    assert nearest in str(err.value)


def test_slo_threshold_off_edge_is_a_config_error(bundle):
    data = bundle.model_dump()
    data["alerting"]["ttft_slo"]["threshold_seconds"] = 3.0
    with pytest.raises(ConfigError, match=r"ttft_slo\.threshold_seconds.*nearest valid: 2.5 or 5"):
        parse_config(data)


def test_thresholds_follow_the_config(bundle):
    cfg = _with(bundle, waiting_requests_warning=123, kv_cache_warning_ratio=0.8)
    exprs = " ".join(r["expr"] for r in _alerts(rule_groups(cfg)))
    assert "> 123" in exprs and "> 0.8" in exprs


def test_fast_profile_same_alerts_shorter_for(bundle):
    std, fast = _alerts(rule_groups(bundle)), _alerts(rule_groups(bundle, "fast"))
    assert [r["alert"] for r in std] == [r["alert"] for r in fast]
    assert any(a.get("for") != b.get("for") for a, b in zip(std, fast, strict=True))


def test_metric_name_extraction_ignores_functions_labels_and_keywords():
    expr = (
        'sum by (namespace, le) (rate(vllm:x_bucket{le="1.0"}[5m])) or '
        'label_replace(up, "a", "b", "", "") / on (pod) group_left (model_name) '
        "DCGM_FI_DEV_GPU_TEMP offset 10m > 1e3"
    )
    assert metric_names(expr) == ["vllm:x_bucket", "up", "DCGM_FI_DEV_GPU_TEMP"]


def test_metric_contract_rejects_removed_only_and_misspelled_names():
    bad = [
        ("Old", "max by (pod) (vllm:gpu_cache_usage_perc) > 0.9"),
        ("New", "max by (pod) (vllm:kv_cache_usage_perc) > 0.9"),
        ("Typo", "rate(vllm:num_preemptions[5m]) > 1"),
    ]
    found = contract_findings(bad, set(), "x")
    assert {f.obj for f in found} == {"Old", "New", "Typo"}
    ok = [("Both", "max(vllm:kv_cache_usage_perc) or max(vllm:gpu_cache_usage_perc)")]
    assert contract_findings(ok, set(), "x") == []


def test_version_limited_recordings_are_for_dashboards_only():
    from observability.alerting import recording as rec

    tpot = rec.BUCKET_RATE1M["request_tpot"]
    rule = (tpot, "sum by (le) (rate(vllm:request_time_per_output_token_seconds_bucket[1m]))")
    assert contract_findings([rule], {tpot}, "x") == []  # the recording itself: allowed
    alert = ("SlowTPOT", f"histogram_quantile(0.99, sum by (le) ({tpot})) > 0.2")
    found = contract_findings([alert], {tpot}, "x")
    assert [f.obj for f in found] == ["SlowTPOT"]
    assert "some supported vLLM versions leave empty" in found[0].message
    # without the exception the raw family would be a contract breach on 0.7.3 and 0.10.1
    raw = ("Raw", "sum(rate(vllm:request_time_per_output_token_seconds_count[5m])) > 1")
    assert len(contract_findings([raw], set(), "x")) == 2


def test_lint_plugin_is_clean_on_the_committed_bundle(repo_root, bundle):
    assert [f.line() for f in check(repo_root, bundle)] == []


def test_two_models_give_one_metrics_absent_rule_each_and_no_duplicates(bundle):
    data = bundle.model_dump()
    data["vllm"]["deploy"] = ["deepseek-r1-distill-llama-8b", "llama-3-8b-instruct"]
    cfg = parse_config(data)
    absent = [r for r in _alerts(rule_groups(cfg)) if r["alert"] == "VLLMMetricsAbsent"]
    assert [r["labels"] for r in absent] == [
        {
            "namespace": "vllm",
            "model_name": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
            "severity": "critical",
        },
        {
            "namespace": "vllm-llama",
            "model_name": "meta-llama/Meta-Llama-3-8B-Instruct",
            "severity": "critical",
        },
    ]
    assert duplicate_rules(rule_groups(cfg)) == []
    for profile in ("standard", "fast"):
        assert duplicate_rules(rule_groups(cfg, profile)) == []


def test_lint_names_rule_and_group_of_a_duplicate_and_keeps_promtool_whole(tmp_path):
    rule = {"alert": "VLLMMetricsAbsent", "expr": "absent(up)", "labels": {"severity": "critical"}}
    findings = promtool_check(
        [{"name": "vllm.availability", "rules": [rule, rule]}], tmp_path, "fast"
    )
    dup = [f for f in findings if f.check == "rules"]
    assert len(dup) == 1
    assert dup[0].obj == "VLLMMetricsAbsent"
    assert dup[0].message.startswith(
        "fast profile: rule VLLMMetricsAbsent in group vllm.availability has the same name and "
        "labels (severity=critical) as one in group vllm.availability"
    )
    tool = [f for f in findings if f.check == "promtool"]
    assert len(tool) == 1
    # The whole report: the last three lines alone lack the rule's name.
    assert "Metric: VLLMMetricsAbsent" in tool[0].message, tool[0].message
    assert "Might cause inconsistency" in tool[0].message


def test_lint_shows_promtool_parse_errors_with_group_and_rule(tmp_path):
    groups = [{"name": "vllm.other", "rules": [{"alert": "Broken", "expr": "sum(up"}]}]
    (finding,) = promtool_check(groups, tmp_path, "standard")
    assert finding.check == "promtool"
    assert 'group "vllm.other", rule 1, "Broken": could not parse expression' in finding.message


def test_slo_budget_exhaustion_is_said_in_the_largest_whole_unit(bundle):
    """Each burn-rate alert says when the whole budget is gone at its burn (window / burn), in
    the largest unit of which it is at least one: a 3-day SLO burnt at 3x is spent in 1d, not 24h."""
    data = bundle.model_dump()
    data["alerting"]["ttft_slo"]["window"] = "3d"
    burn = [
        r
        for r in _alerts(rule_groups(parse_config(data)))
        if r["alert"] == "VLLMLatencySLOBurnRate"
    ]
    spent = [re.search(r"spent in (\S+)\.$", r["annotations"]["description"])[1] for r in burn]
    # 3d / 14.4, / 6, / 3, / 1
    assert spent == ["5h", "12h", "1d", "3d"]
