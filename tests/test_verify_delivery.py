"""`dashboards.delivery`: what each path renders, that lint validates GrafanaDashboards
against the vendored Grafana Operator CRD, and verify's `grafana.delivery` check against
the fake API server with the rendered least-privilege RBAC enforced: the healthy objects
pass, and each break (ConfigMap missing or unlabelled, CRD missing, GrafanaDashboard
missing, unmatched or failing to sync) is a FAIL naming the cause."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from verify_fakes.cluster import dashboard_objects, write_kubeconfig
from verify_fakes.kube import FakeKube

from observability.config import BundleConfig, parse_config
from observability.lint.manifests import Manifest
from observability.lint.schemas import validate_custom
from observability.render import dashboards as files
from observability.render.rbac import rbac
from observability.verify import Options, Status
from observability.verify.checks_delivery import CHECKS
from observability.verify.context import VerifyContext
from observability.verify.k8s import Cluster

RUN = {c.id: c.run for c in CHECKS}
PANE = "vllm-single-pane"
NAMES = ["vllm-instance", "vllm-kv-cache-disaggregation", PANE]  # sorted, as rendered
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "grafanadashboards.grafana.integreatly.org"},
    "spec": {
        "group": "grafana.integreatly.org",
        "names": {"kind": "GrafanaDashboard", "plural": "grafanadashboards"},
        "scope": "Namespaced",
        "versions": [{"name": "v1beta1", "served": True, "storage": True}],
    },
    "status": {"conditions": [{"type": "Established", "status": "True"}]},
}


@pytest.fixture(scope="module")
def operator_cfg(repo_root: Path) -> BundleConfig:
    data = yaml.safe_load((repo_root / "bundle.yaml").read_text(encoding="utf-8"))
    data["dashboards"]["delivery"] = "grafana-operator"
    data["dashboards"]["grafana_operator"] = {"instance_selector": {"dashboards": "team-a"}}
    return parse_config(data)


def _start(cfg: BundleConfig, *objs: dict[str, Any]) -> FakeKube:
    fake = FakeKube(rbac=[o for o in rbac(cfg) if o["kind"] in ("ClusterRole", "Role")])
    fake.start()
    fake.add(*objs)
    return fake


@pytest.fixture
def sidecar(bundle: BundleConfig) -> Iterator[FakeKube]:
    fake = _start(bundle, *dashboard_objects(bundle))
    yield fake
    fake.stop()


@pytest.fixture
def operator(operator_cfg: BundleConfig) -> Iterator[FakeKube]:
    fake = _start(operator_cfg, copy.deepcopy(CRD), *dashboard_objects(operator_cfg))
    yield fake
    fake.stop()


def _run(cfg: BundleConfig, kube: FakeKube, tmp_path: Path):
    kc = write_kubeconfig(tmp_path / "kubeconfig", kube.url)
    return RUN["grafana.delivery"](VerifyContext(cfg, Cluster.connect(str(kc)), Options()))


# -- render and lint ------------------------------------------------------------------


def test_sidecar_is_the_default_and_renders_no_grafana_dashboard(bundle) -> None:
    assert bundle.dashboards.delivery == "sidecar"
    out = files.artifacts(bundle)
    kz = out["dashboards/kustomization.yaml"]
    assert kz["generatorOptions"]["labels"]["grafana_dashboard"] == "1"
    assert kz["generatorOptions"]["annotations"] == {"grafana_folder": "vLLM"}
    assert "resources" not in kz and f"dashboards/{files.OPERATOR_FILE}" not in out


def test_operator_renders_one_grafana_dashboard_per_configmap(operator_cfg) -> None:
    out = files.artifacts(operator_cfg)
    kz = out["dashboards/kustomization.yaml"]
    # no sidecar label: a sidecar left running must not import the dashboards twice
    assert "grafana_dashboard" not in kz["generatorOptions"]["labels"]
    assert kz["resources"] == ["grafanadashboards.yaml"]
    gds = out["dashboards/grafanadashboards.yaml"]
    assert [g["metadata"]["name"] for g in gds] == NAMES
    assert gds[2]["apiVersion"] == "grafana.integreatly.org/v1beta1"
    assert gds[2]["spec"] == {
        "instanceSelector": {"matchLabels": {"dashboards": "team-a"}},
        "folder": "vLLM",
        "resyncPeriod": "10m",
        "configMapRef": {"name": "grafana-dashboard-vllm-single-pane", "key": f"{PANE}.json"},
    }
    names = {g["name"] for g in kz["configMapGenerator"]}
    assert {g["spec"]["configMapRef"]["name"] for g in gds} <= names


def test_lint_validates_grafana_dashboards_against_the_vendored_crd(operator_cfg) -> None:
    gd = files.artifacts(operator_cfg)["dashboards/grafanadashboards.yaml"][0]
    assert validate_custom(Manifest("dashboards/grafanadashboards.yaml", 0, gd)) == []
    bad = copy.deepcopy(gd)
    bad["spec"]["folderTitle"] = bad["spec"].pop("folder")  # not the CRD's field name
    del bad["spec"]["instanceSelector"]
    found = validate_custom(Manifest("dashboards/grafanadashboards.yaml", 0, bad))
    msgs = sorted(f"{f.field}: {f.message}" for f in found)
    assert msgs[0].startswith("spec.folderTitle: unknown field 'folderTitle'"), msgs
    assert "Grafana Operator v5.24.0" in msgs[0]
    assert msgs[1].startswith("spec.instanceSelector: required field"), msgs


# -- verify: sidecar ---------------------------------------------------------------------


def test_sidecar_configmaps_pass(bundle, sidecar, tmp_path) -> None:
    out = _run(bundle, sidecar, tmp_path)
    assert out.status == Status.PASS, out
    assert "grafana-dashboard-vllm-single-pane" in out.evidence
    assert sidecar.denied == []  # the rendered Role grants exactly this get


def test_sidecar_configmap_missing_fails(bundle, sidecar, tmp_path) -> None:
    sidecar.remove("ConfigMap", "grafana-dashboard-vllm-single-pane", "monitoring")
    out = _run(bundle, sidecar, tmp_path)
    assert out.status == Status.FAIL
    assert "ConfigMaps missing in monitoring: grafana-dashboard-vllm-single-pane" in out.evidence
    assert "monitoring-config" in out.fix


def test_sidecar_configmap_without_the_label_fails(bundle, sidecar, tmp_path) -> None:
    cm = sidecar.get("ConfigMap", "grafana-dashboard-vllm-single-pane", "monitoring")
    cm["metadata"]["labels"] = {"app.kubernetes.io/part-of": "vllm-observability"}
    out = _run(bundle, sidecar, tmp_path)
    assert out.status == Status.FAIL and "lacks label grafana_dashboard=1" in out.evidence


# -- verify: grafana-operator ------------------------------------------------------------


def test_synchronized_grafana_dashboards_pass(operator_cfg, operator, tmp_path) -> None:
    out = _run(operator_cfg, operator, tmp_path)
    assert out.status == Status.PASS, out
    assert out.evidence == "3 GrafanaDashboards synchronized to Grafana (dashboards=team-a)"
    assert operator.denied == []


def test_operator_not_installed_fails(operator_cfg, operator, tmp_path) -> None:
    operator.remove("CustomResourceDefinition", "grafanadashboards.grafana.integreatly.org")
    out = _run(operator_cfg, operator, tmp_path)
    assert out.status == Status.FAIL
    assert "the Grafana Operator is not installed" in out.evidence
    assert "dashboards.delivery: sidecar" in out.fix


def test_grafana_dashboard_missing_fails(operator_cfg, operator, tmp_path) -> None:
    operator.remove("GrafanaDashboard", PANE, "monitoring")
    out = _run(operator_cfg, operator, tmp_path)
    assert out.status == Status.FAIL
    assert out.evidence == f"GrafanaDashboards missing in monitoring: {PANE}"


def test_no_matching_grafana_instance_fails(operator_cfg, operator, tmp_path) -> None:
    gd = operator.get("GrafanaDashboard", PANE, "monitoring")
    gd["status"] = {
        "NoMatchingInstances": True,
        "conditions": [{"type": "NoMatchingInstance", "status": "True", "reason": "EmptyAPIReply"}],
    }
    out = _run(operator_cfg, operator, tmp_path)
    assert out.status == Status.FAIL
    assert "no Grafana instance matches its instanceSelector" in out.evidence
    assert "dashboards=team-a" in out.fix


def test_sync_failure_quotes_the_operator(operator_cfg, operator, tmp_path) -> None:
    gd = operator.get("GrafanaDashboard", PANE, "monitoring")
    gd["status"]["conditions"][0].update(
        status="False", reason="ApplyFailed", message="grafana-a: 412 version-mismatch"
    )
    out = _run(operator_cfg, operator, tmp_path)
    assert out.status == Status.FAIL
    assert "DashboardSynchronized False: grafana-a: 412 version-mismatch" in out.evidence


def test_not_reconciled_yet_fails(operator_cfg, operator, tmp_path) -> None:
    del operator.get("GrafanaDashboard", PANE, "monitoring")["status"]
    out = _run(operator_cfg, operator, tmp_path)
    assert out.status == Status.FAIL and "not reconciled" in out.evidence


def test_operator_rbac_reads_grafana_dashboards_not_configmaps(operator_cfg) -> None:
    role = next(o for o in rbac(operator_cfg) if o["kind"] == "Role")
    assert role["rules"][1] == {
        "apiGroups": ["grafana.integreatly.org"],
        "resources": ["grafanadashboards"],
        "resourceNames": NAMES,
        "verbs": ["get"],
    }
