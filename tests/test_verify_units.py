"""Runner, selector explanations, report and the rendered RBAC of `obsctl verify`."""

from __future__ import annotations

import io
import time

import pytest

from observability.render import rbac
from observability.verify.model import Check, CheckFailed, Outcome, Result, Status
from observability.verify.report import exit_code, summary_line, to_json
from observability.verify.runner import run_checks, select_checks
from observability.verify.selectors import explain_mismatch


def _sleep(sec: float, status: Status = Status.PASS):
    def run(ctx: object) -> Outcome:
        time.sleep(sec)
        return Outcome(status, f"slept {sec}")

    return run


def test_independent_checks_run_concurrently() -> None:
    checks = [Check(f"c.{i}", "x", "t", _sleep(0.3)) for i in range(6)]
    t0 = time.monotonic()
    res = run_checks(checks, None, workers=6)
    assert time.monotonic() - t0 < 1.0
    assert [r.id for r in res] == [c.id for c in checks]
    t0 = time.monotonic()
    run_checks(checks, None, workers=1)
    assert time.monotonic() - t0 >= 1.7


def test_check_timeout_is_fail_and_bounded() -> None:
    checks = [Check("slow", "x", "t", _sleep(30), timeout=0.3), Check("fast", "x", "t", _sleep(0))]
    t0 = time.monotonic()
    res = {r.id: r for r in run_checks(checks, None)}
    assert time.monotonic() - t0 < 1.5
    assert res["slow"].status is Status.FAIL and "no answer within 0.3s" in res["slow"].evidence
    assert res["fast"].status is Status.PASS


def test_total_bound_stops_the_run() -> None:
    checks = [Check(f"s.{i}", "x", "t", _sleep(30)) for i in range(3)]
    t0 = time.monotonic()
    res = run_checks(checks, None, workers=1, check_timeout=20, total_timeout=0.5)
    assert time.monotonic() - t0 < 1.5
    assert res[0].status is Status.FAIL and "whole run hit its 0.5s bound" in res[0].evidence
    # the cut check is timed from its own start to the bound (generated mutant: `now - t0`
    # -> `now * t0`)
    assert 0.4 <= res[0].seconds < 1.5, res[0].seconds
    assert all(r.status is Status.SKIP for r in res[1:])


def test_total_bound_with_waiting_dependents_reports_every_check() -> None:
    def warns(ctx: object) -> Outcome:
        return Outcome.warn("degraded", "look")

    checks = [
        Check("w", "x", "t", warns),
        Check("after-warn", "x", "t", _sleep(0), needs=("w",)),
        Check("slow", "x", "t", _sleep(30)),
        Check("needs-slow", "x", "t", _sleep(0), needs=("slow",)),
    ]
    t0 = time.monotonic()
    res = {r.id: r for r in run_checks(checks, None, check_timeout=20, total_timeout=0.5)}
    assert time.monotonic() - t0 < 1.5
    assert res["after-warn"].status is Status.PASS  # a WARN dependency does not skip
    assert res["slow"].status is Status.FAIL and "0.5s bound" in res["slow"].evidence
    assert res["needs-slow"].status is Status.SKIP
    assert "not started: the run hit its 0.5s bound" in res["needs-slow"].evidence


def test_failed_dependency_skips_dependents_and_crash_is_reported() -> None:
    def boom(ctx: object) -> Outcome:
        raise KeyError("x")

    def raises(ctx: object) -> Outcome:
        raise CheckFailed("unreachable", "start it")

    checks = [
        Check("a", "x", "t", raises),
        Check("b", "x", "t", _sleep(0), needs=("a",)),
        Check("c", "x", "t", boom),
    ]
    res = {r.id: r for r in run_checks(checks, None)}
    assert res["a"].status is Status.FAIL and res["a"].fix == "start it"
    assert res["b"].status is Status.SKIP and "a did not pass" in res["b"].evidence
    assert res["c"].status is Status.FAIL and "check crashed: KeyError" in res["c"].evidence


def test_select_by_id_layer_and_prefix() -> None:
    checks = [Check("gpu.nodes", "gpu", "t", _sleep(0)), Check("vllm.api", "vllm", "t", _sleep(0))]
    assert [c.id for c in select_checks(checks, only=["gpu"])] == ["gpu.nodes"]
    assert [c.id for c in select_checks(checks, skip=["gpu.nodes"])] == ["vllm.api"]
    assert [c.id for c in select_checks(checks, only=["vllm.*"])] == ["vllm.api"]
    with pytest.raises(ValueError, match="unknown check 'g'"):
        select_checks(checks, only=["g"])
    with pytest.raises(ValueError, match=r"unknown check 'gpu\.typo'"):
        select_checks(checks, only=["gpu.typo"])


def test_selector_mismatch_is_explained() -> None:
    sel = {
        "matchLabels": {"release": "kps"},
        "matchExpressions": [{"key": "team", "operator": "In", "values": ["ml"]}],
    }
    why = explain_mismatch(sel, {"release": "other"})
    assert "label release is 'other', selector wants 'kps'" in why
    assert "label team=None not in ['ml']" in why
    assert explain_mismatch({}, {"any": "thing"}) == []


def test_exit_codes_and_json() -> None:
    ok = Result("a", "x", "t", Status.PASS, "fine")
    warn = Result("b", "x", "t", Status.WARN, "hmm", "do this")
    fail = Result("c", "x", "t", Status.FAIL, "bad", "fix that")
    assert exit_code([ok, warn]) == 0
    assert exit_code([ok, warn], strict=True) == 1
    assert exit_code([ok, fail]) == 1
    assert summary_line([ok, warn, fail], 1.234).startswith("FAIL: 1 PASS, 1 WARN, 1 FAIL")
    data = to_json([fail], 0.5, "cluster")
    assert data["checks"][0] == {
        "id": "c",
        "layer": "x",
        "title": "t",
        "status": "FAIL",
        "evidence": "bad",
        "fix": "fix that",
        "seconds": 0.0,
    }


def test_rendered_rbac_is_read_only(bundle) -> None:
    objs = rbac.rbac(bundle)
    kinds = [o["kind"] for o in objs]
    assert kinds == ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    verbs = {v for o in objs for r in o.get("rules", []) for v in r["verbs"]}
    assert verbs <= {"get", "list"}
    cluster_role = objs[1]
    resources = {res for r in cluster_role["rules"] for res in r.get("resources", [])}
    assert "secrets" not in resources and "services/proxy" in resources
    role = objs[3]
    # by name only: the Grafana admin Secret, and the dashboard ConfigMaps the sidecar
    # delivery check reads (grafana.delivery)
    assert role["rules"][0] == {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": [bundle.secrets.grafana_admin.name],
        "verbs": ["get"],
    }
    for rule in role["rules"][1:]:
        assert rule["resources"] == ["configmaps"] and rule["verbs"] == ["get"], rule
        assert rule["resourceNames"] and all(
            n.startswith("grafana-dashboard-") for n in rule["resourceNames"]
        ), rule
    assert len(role["rules"]) == 2


def test_cronjob_is_opt_in(bundle) -> None:
    arts = rbac.artifacts(bundle)
    assert "components" not in arts["deploy/verify/kustomization.yaml"]
    on = bundle.model_copy(update={"verify": bundle.verify.model_copy(update={"cronjob": True})})
    assert rbac.artifacts(on)["deploy/verify/kustomization.yaml"]["components"] == ["cronjob"]
    job = arts["deploy/verify/cronjob/cronjob.yaml"]["spec"]["jobTemplate"]["spec"]["template"]
    assert job["spec"]["serviceAccountName"] == rbac.NAME
    verify = next(c for c in job["spec"]["containers"] if c["name"] == "verify")
    assert verify["command"] == ["obsctl"]
    assert verify["args"] == [
        "verify",
        "--in-cluster",
        "--json",
        "--config",
        "/workspace/repo/bundle.yaml",
    ]


@pytest.mark.parametrize(
    ("dcgm", "namespace", "fix"),
    [
        ("bundled", "monitoring", "argocd app sync dcgm-exporter"),
        ("gpu-operator", "gpu-operator", "ClusterPolicy spec.dcgmExporter.enabled: true"),
        ("external", "dcgm", "deploy your dcgm-exporter there, or fix gpu.dcgm_service"),
    ],
)
def test_the_dcgm_exporter_is_looked_for_where_each_mode_runs_it(
    bundle, dcgm: str, namespace: str, fix: str
) -> None:
    """gpu.exporters looks for the DaemonSet in the namespace of each gpu.dcgm_exporter mode
    and, when it is missing, names that mode's fix (generated mutants: `== "gpu-operator"`
    -> `<` / `is not` gave external mode the GPU Operator's fix)."""
    from observability.config import parse_config
    from observability.verify import Options
    from observability.verify.checks_gpu import exporter_location
    from observability.verify.context import VerifyContext

    data = bundle.model_dump(mode="json", exclude_unset=True)
    data["gpu"]["dcgm_exporter"] = dcgm
    if dcgm == "external":
        data["gpu"]["dcgm_service"] = {
            "namespace": "dcgm",
            "match_labels": {"app": "dcgm"},
            "port": "metrics",
        }
    ns, _labels, how = exporter_location(VerifyContext(parse_config(data), None, Options()))
    assert (ns, fix in how) == (namespace, True), how


def test_a_check_timeout_is_seen_when_it_passes_not_on_a_tick() -> None:
    """The runner sleeps until the earliest deadline of what runs: a hung check is
    reported at its own bound, not at the next one-second tick."""
    checks = [Check("s.hung", "x", "t", _sleep(30))]
    t0 = time.monotonic()
    res = run_checks(checks, None, workers=1, check_timeout=0.1, total_timeout=20)
    assert res[0].status is Status.FAIL and "(check timeout)" in res[0].evidence
    assert time.monotonic() - t0 < 0.8


def test_config_sections_keeps_only_the_named_top_level_blocks() -> None:
    """What comes before the first top-level key is no block of ours; a list item or an
    indented line at column 0 continues the block it is in (generated mutant: `keep =
    False` -> `True` kept the stray lead)."""
    from observability.verify.checks_remote import config_sections

    text = (
        "  stray: 1\n"
        "global:\n  scrape_interval: 15s\n"
        "scrape_configs:\n- job_name: vllm\n  static_configs: []\n"
        "remote_write:\n- url: http://thanos/api/v1/receive\n"
    )
    assert config_sections(text) == (
        "global:\n  scrape_interval: 15s\nremote_write:\n- url: http://thanos/api/v1/receive\n"
    )


def test_selectors_are_printed_as_kubectl_reads_them() -> None:
    """matchLabels sorted, then each matchExpression with its values; an empty selector
    selects everything, a missing one nothing (generated mutant: `"{" + ...` -> `^`)."""
    from observability.verify.selectors import fmt_selector

    sel = {
        "matchLabels": {"release": "kps", "app": "vllm"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["gpu", "cpu"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    assert fmt_selector(sel) == "{app=vllm, release=kps, tier In (gpu,cpu), canary DoesNotExist}"
    assert fmt_selector({}) == "{} (everything)"
    assert fmt_selector(None) == "null"


def test_the_table_prints_to_the_console_given_or_to_stdout(capsys) -> None:
    """`print_table` writes to the console it is handed (tests, the multi-cluster report),
    else to a console of its own on stdout (generated mutant: `console or Console()` ->
    `and`, which dropped both)."""
    from rich.console import Console

    from observability.verify.report import print_table

    results = [Result("rules.loaded", "rules", "t", Status.PASS, "12 groups", "", 0.1)]
    buf = io.StringIO()
    print_table(results, 0.5, "ctx-a", console=Console(file=buf, width=120))
    text = buf.getvalue()
    assert "ctx-a" in text and "12 groups" in text
    assert capsys.readouterr().out == ""
    print_table(results, 0.5, "ctx-b")
    out = capsys.readouterr().out
    assert "ctx-b" in out and "12 groups" in out
