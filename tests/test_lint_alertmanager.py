"""`obsctl lint` catches what only pytest caught: a route's group_by losing model_name and an
inhibition pointing from symptom to cause (observability/lint/alertmanager.py), in every
rendered Alertmanager config (alerts/alertmanager.yaml and kube-prometheus-stack's values)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from observability.alerting.alertmanager import alertmanager_config
from observability.config import parse_config
from observability.lint import alertmanager as am_lint
from observability.lint.runner import run_lint
from observability.render import apply, render_all
from testkit.configspace import BASE

AM_FILE = "alerts/alertmanager.yaml"


def _cfg(cluster: bool = False):
    data = copy.deepcopy(BASE)
    if cluster:
        data["prometheus"].update(cluster_label="cluster", cluster_name="eu-1")
    return parse_config(data)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("am")
    apply(render_all(_cfg()), root)
    return root


def _errors(conf: dict, cluster_label: str = "") -> list[str]:
    return [f.message for f in am_lint.check_config(AM_FILE, conf, cluster_label)]


def test_every_rendered_config_passes_and_both_are_read(tree, repo_root, bundle):
    assert am_lint.check(repo_root, bundle) == []
    assert am_lint.check(tree, _cfg()) == []
    found = [
        (p.relative_to(tree).as_posix(), where)
        for p in sorted((tree / "alerts").glob("*.yaml")) + sorted(tree.rglob("argocd/**/*.yaml"))
        for doc in yaml.safe_load_all(p.read_text())
        for where, _conf in am_lint._configs(doc)
    ]
    assert [f for f, _w in found] == [AM_FILE, "argocd/apps/kube-prometheus-stack.yaml"]


def test_with_a_cluster_label_it_passes():
    cfg = _cfg(cluster=True)
    assert _errors(alertmanager_config(cfg), "cluster") == []


@pytest.mark.parametrize("label", ["model_name", "namespace", "alertname"])
def test_group_by_losing_a_label_is_an_error(bundle, label):
    conf = alertmanager_config(bundle)
    conf["route"]["group_by"].remove(label)
    assert any(f"group_by drops ['{label}']" in e for e in _errors(conf))


def test_a_child_route_grouping_without_model_name_is_an_error(bundle):
    conf = alertmanager_config(bundle)
    conf["route"]["routes"][1]["group_by"] = ["alertname", "namespace"]
    assert any("group_by drops ['model_name']" in e for e in _errors(conf))


def test_group_by_losing_the_cluster_label_is_an_error():
    conf = alertmanager_config(_cfg(cluster=True))
    conf["route"]["group_by"].remove("cluster")
    assert any("group_by drops ['cluster']" in e for e in _errors(conf, "cluster"))


def test_every_inhibition_swapped_is_an_error(bundle):
    rules = alertmanager_config(bundle)["inhibit_rules"]
    assert len(rules) >= 5
    for i in range(len(rules)):
        conf = alertmanager_config(bundle)
        r = conf["inhibit_rules"][i]
        r["source_matchers"], r["target_matchers"] = r["target_matchers"], r["source_matchers"]
        assert _errors(conf), (i, r)


def test_targetdown_swapped_names_the_fix(bundle):
    conf = alertmanager_config(bundle)
    r = next(
        r for r in conf["inhibit_rules"] if r["source_matchers"] == ['alertname="VLLMTargetDown"']
    )
    r["source_matchers"], r["target_matchers"] = r["target_matchers"], r["source_matchers"]
    assert any(
        "VLLMHighTimeToFirstToken mutes VLLMTargetDown" in e and "swap source and target" in e
        for e in _errors(conf)
    )


def test_severity_inhibition_without_alertname_in_equal_is_an_error(bundle):
    conf = alertmanager_config(bundle)
    conf["inhibit_rules"][0]["equal"].remove("alertname")
    assert any("keep `alertname`" in e for e in _errors(conf))


def test_inhibition_without_the_cluster_label_is_an_error():
    conf = alertmanager_config(_cfg(cluster=True))
    conf["inhibit_rules"][1]["equal"].remove("cluster")
    assert any("equal lacks 'cluster'" in e for e in _errors(conf, "cluster"))


def test_obsctl_lint_reports_a_mutated_rendered_file(tree, tmp_path):
    """The user's path: edit (or mis-render) the file, run lint, get the error."""
    work = tmp_path / "tree"
    work.mkdir()
    for p in tree.rglob("*"):
        if p.is_file():
            (work / p.relative_to(tree)).parent.mkdir(parents=True, exist_ok=True)
            (work / p.relative_to(tree)).write_bytes(p.read_bytes())
    path = work / AM_FILE
    conf = yaml.safe_load(path.read_text())
    conf["route"]["group_by"].remove("model_name")
    path.write_text(yaml.safe_dump(conf))
    report = run_lint(work, _cfg(), plugins=("alertmanager",))
    lines = [f.line() for f in report.errors]
    assert any("[alertmanager] alerts/alertmanager.yaml:route.group_by" in line for line in lines)
