"""Helm values against the pinned charts' vendored defaults: unknown keys, effective values."""

from __future__ import annotations

import copy

import yaml

from observability.config import parse_config
from observability.lint import helm_values
from observability.render import argocd


def _dcgm_app(cfg) -> dict:
    return argocd.applications(cfg, ())["argocd/apps/dcgm-exporter.yaml"]


def _write(tmp_path, app: dict) -> None:
    apps = tmp_path / "argocd" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    (apps / f"{app['metadata']['name']}.yaml").write_text(yaml.safe_dump(app))


def test_the_vendored_charts_carry_the_defaults_the_issue_names():
    dcgm = helm_values.chart_defaults("dcgm-exporter", "4.8.2")
    assert dcgm["priorityClassName"] == "system-node-critical"
    assert dcgm["resources"]["limits"]["cpu"] == "200m"
    kps = helm_values.chart_defaults("kube-prometheus-stack", "88.5.3")
    # subcharts nested under their values keys
    assert "sidecar" in kps["grafana"]
    assert "resources" in kps["kube-state-metrics"]
    assert "hostNetwork" in kps["prometheus-node-exporter"]


def test_helm_coalesce_null_deletes_and_maps_merge():
    defaults = {"resources": {"limits": {"cpu": "200m", "memory": "1Gi"}}, "a": [1, 2]}
    assert helm_values.coalesce(defaults, {"resources": {"limits": {"cpu": None}}, "a": [3]}) == {
        "resources": {"limits": {"memory": "1Gi"}},
        "a": [3],
    }


def test_committed_bundle_values_are_clean(bundle, tmp_path):
    for app in argocd.applications(bundle, ()).values():
        _write(tmp_path, app)
    assert helm_values.check(tmp_path, bundle) == []


def test_dcgm_defaults_leak_without_the_nulls(bundle, tmp_path):
    app = copy.deepcopy(_dcgm_app(bundle))
    values = yaml.safe_load(app["spec"]["source"]["helm"]["values"])
    del values["resources"]["limits"]["cpu"]  # what the bundle rendered before
    del values["priorityClassName"]
    values["nodeSelectr"] = {"a": "b"}  # a typo Helm would ignore
    app["spec"]["source"]["helm"]["values"] = yaml.safe_dump(values)
    _write(tmp_path, app)
    msgs = sorted(f.message for f in helm_values.check(tmp_path, bundle))
    assert len(msgs) == 3, msgs
    assert msgs[0].startswith(
        "effective priorityClassName: priorityClassName 'system-node-critical'"
    )
    assert msgs[1].startswith("effective resources.limits.cpu: CPU limit 200m (a chart default)")
    assert msgs[2].startswith("values key nodeSelectr does not exist in chart dcgm-exporter 4.8.2")


def test_null_in_values_object_is_flagged_because_argo_cd_drops_it(bundle, tmp_path):
    app = copy.deepcopy(_dcgm_app(bundle))
    helm = app["spec"]["source"]["helm"]
    helm["valuesObject"] = yaml.safe_load(helm.pop("values"))
    _write(tmp_path, app)
    msgs = [f.message for f in helm_values.check(tmp_path, bundle)]
    assert any(m.startswith("valuesObject.resources.limits.cpu is null") for m in msgs), msgs


def test_priority_class_is_configurable(bundle, tmp_path):
    data = bundle.model_dump(mode="json")
    data["resources"]["priority_class_name"] = "monitoring-high"
    cfg = parse_config(data)
    values = yaml.safe_load(_dcgm_app(cfg)["spec"]["source"]["helm"]["values"])
    assert values["priorityClassName"] == "monitoring-high"
    _write(tmp_path, _dcgm_app(cfg))
    assert helm_values.check(tmp_path, cfg) == []


def _kps_app(cfg) -> dict:
    return argocd.applications(cfg, ())["argocd/apps/kube-prometheus-stack.yaml"]


def test_a_priority_class_reaches_every_stack_pod_and_lints_clean(bundle, tmp_path):
    data = bundle.model_dump(mode="json")
    data["resources"]["priority_class_name"] = "monitoring-high"
    cfg = parse_config(data)
    values = _kps_app(cfg)["spec"]["source"]["helm"]["valuesObject"]
    # several of these keys exist only as comments in the charts' values.yaml
    for where in (
        values["prometheusOperator"],
        values["prometheusOperator"]["admissionWebhooks"]["patch"],
        values["prometheus"]["prometheusSpec"],
        values["alertmanager"]["alertmanagerSpec"],
        values["grafana"],
        values["kube-state-metrics"],
        values["prometheus-node-exporter"],
    ):
        assert where["priorityClassName"] == "monitoring-high"
    for app in argocd.applications(cfg, ()).values():
        _write(tmp_path, app)
    assert helm_values.check(tmp_path, cfg) == []
    # the default (no class) renders no key at all: the cluster default priority applies
    assert (
        "priorityClassName"
        not in _kps_app(bundle)["spec"]["source"]["helm"]["valuesObject"]["grafana"]
    )


def test_commented_keys_count_but_a_misspelt_one_still_fails(bundle, tmp_path):
    app = copy.deepcopy(_kps_app(bundle))
    values = app["spec"]["source"]["helm"]["valuesObject"]
    values["grafana"]["priorityClassName"] = "x"  # documented as `# priorityClassName:`
    values["grafana"]["priorityClasName"] = "x"  # a typo Helm would ignore
    values["prometheus-node-exporter"]["limits"] = {"cpu": "1"}  # only a comment's example
    _write(tmp_path, app)
    msgs = sorted(
        f.message for f in helm_values.check(tmp_path, bundle) if "values key" in f.message
    )
    assert [m.split(" does not")[0] for m in msgs] == [
        "values key grafana.priorityClasName",
        "values key prometheus-node-exporter.limits",
    ]


def test_commented_keys_follow_the_mapping_they_are_indented_under():
    text = (
        "a:\n"
        "  b: 1\n"
        "  # c: 2\n"
        "  # NOTE: a remark with words\n"
        "res: {}\n"
        "  # limits:\n"
        "  #   cpu: 100m\n"
        "list:\n"
        "  - name: x\n"
        "    # inner: 1\n"
        "script: |\n"
        "  # notakey: 1\n"
        "# top: ''\n"
    )
    assert helm_values.commented_keys(text) == [("a", "c"), ("top",)]
