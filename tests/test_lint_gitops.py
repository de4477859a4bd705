"""`obsctl lint`: passes on the committed tree, and names file/object/field for each break."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from observability.cli import app
from observability.config import BundleConfig
from observability.lint.findings import Finding
from observability.lint.runner import run_lint
from observability.render.registry import GENERATED_DIRS

KEY = "deepseek-r1-distill-llama-8b"


@pytest.fixture
def tree(repo_root: Path, tmp_path: Path) -> Path:
    """A copy of the rendered tree (and bundle.yaml) to break."""
    shutil.copy(repo_root / "bundle.yaml", tmp_path / "bundle.yaml")
    for d in GENERATED_DIRS:
        if (repo_root / d).is_dir():
            shutil.copytree(repo_root / d, tmp_path / d)
    return tmp_path


def _edit(root: Path, rel: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = root / rel
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _errors(root: Path, cfg: BundleConfig) -> list[Finding]:
    return run_lint(root, cfg, plugins=()).errors


def _only(findings: list[Finding], **expected: str) -> Finding:
    hits = [f for f in findings if all(getattr(f, k) == v for k, v in expected.items())]
    assert len(hits) == 1, [f.line() for f in findings]
    return hits[0]


def test_lint_passes_on_the_committed_tree(repo_root: Path, bundle: BundleConfig) -> None:
    report = run_lint(repo_root, bundle, plugins=())
    assert report.ok, [f.line() for f in report.findings]
    assert report.objects >= 10
    assert report.checks["kustomize"].startswith("ran")


def test_wrong_type_in_a_core_kind(tree: Path, bundle: BundleConfig) -> None:
    _edit(tree, "deploy/vllm/base/deployment.yaml", lambda d: d["spec"].update(replicas="two"))
    f = _only(_errors(tree, bundle), check="schema", field="spec.replicas")
    assert (f.file, f.obj) == ("deploy/vllm/base/deployment.yaml", "Deployment/vllm")
    assert "integer" in f.message


def test_unknown_field_in_a_service_monitor(tree: Path, bundle: BundleConfig) -> None:
    _edit(
        tree,
        "servicemonitors/vllm.yaml",
        lambda d: d["spec"]["endpoints"][0].update(scrapeIntervall="5s"),
    )
    f = _only(_errors(tree, bundle), check="crd")
    assert (f.file, f.obj, f.field) == (
        "servicemonitors/vllm.yaml",
        "ServiceMonitor/monitoring/vllm",
        "spec.endpoints[0].scrapeIntervall",
    )
    assert "unknown field" in f.message


def test_unknown_field_in_a_core_kind_is_strict(tree: Path, bundle: BundleConfig) -> None:
    _edit(tree, "deploy/vllm/base/service.yaml", lambda d: d["spec"].update(clusterIp="None"))
    f = _only(_errors(tree, bundle), check="schema")
    assert (f.obj, f.field) == ("Service/vllm", "spec.clusterIp")


def test_selector_that_matches_nothing(tree: Path, bundle: BundleConfig) -> None:
    _edit(
        tree,
        "servicemonitors/vllm.yaml",
        lambda d: d["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/name": "vlm"}),
    )
    f = _only(_errors(tree, bundle), check="crossref")
    assert (f.file, f.obj, f.field) == (
        "servicemonitors/vllm.yaml",
        "ServiceMonitor/monitoring/vllm",
        "spec.selector",
    )
    assert "matches no Service" in f.message


def test_selector_in_the_wrong_namespace(tree: Path, bundle: BundleConfig) -> None:
    _edit(
        tree,
        "servicemonitors/dcgm-exporter.yaml",
        lambda d: d["spec"].update(namespaceSelector={"matchNames": ["gpu-operator"]}),
    )
    f = _only(_errors(tree, bundle), check="crossref")
    assert (f.obj, f.field) == ("ServiceMonitor/monitoring/dcgm-exporter", "spec.selector")


def test_port_name_that_does_not_exist(tree: Path, bundle: BundleConfig) -> None:
    _edit(tree, "servicemonitors/vllm.yaml", lambda d: d["spec"]["endpoints"][0].update(port="web"))
    f = _only(_errors(tree, bundle), check="crossref")
    assert (f.file, f.field) == ("servicemonitors/vllm.yaml", "spec.endpoints[0].port")


def test_missing_application_path(tree: Path, bundle: BundleConfig) -> None:
    rel = f"argocd/apps/vllm-{KEY}.yaml"
    _edit(tree, rel, lambda d: d["spec"]["source"].update(path="deploy/vllm/overlays/nope"))
    f = _only(_errors(tree, bundle), check="crossref", field="spec.source.path")
    assert (f.file, f.obj) == (rel, f"Application/argocd/vllm-{KEY}")
    assert "does not exist" in f.message


def test_missing_path_in_a_multi_source_application(tree: Path, bundle: BundleConfig) -> None:
    shutil.rmtree(tree / "servicemonitors")
    errors = _errors(tree, bundle)
    f = _only(errors, check="crossref", field="spec.sources[0].path")
    assert f.obj == "Application/argocd/monitoring-config"


def test_kustomization_that_does_not_build(tree: Path, bundle: BundleConfig) -> None:
    _edit(tree, "servicemonitors/kustomization.yaml", lambda d: d["resources"].append("gone.yaml"))
    f = _only(_errors(tree, bundle), check="kustomize")
    assert f.file == "servicemonitors/kustomization.yaml"
    assert "does not build" in f.message


def test_broken_patch_is_caught_in_the_built_output(tree: Path, bundle: BundleConfig) -> None:
    rel = f"deploy/vllm/overlays/{KEY}/deployment-patch.yaml"
    _edit(tree, rel, lambda d: d["spec"].update(replicas="many"))
    f = _only(_errors(tree, bundle), check="schema")
    assert f.file == f"deploy/vllm/overlays/{KEY}/kustomization.yaml"
    assert (f.obj, f.field) == (f"Deployment/vllm/vllm-{KEY}", "spec.replicas")


def test_custom_kind_without_a_vendored_schema(tree: Path, bundle: BundleConfig) -> None:
    (tree / "servicemonitors/probe.yaml").write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: Probe\nmetadata: {name: x}\nspec: {}\n"
    )
    f = _only(_errors(tree, bundle), check="crd")
    assert (f.file, f.field) == ("servicemonitors/probe.yaml", "apiVersion")
    assert "crd_to_schema.py" in f.message


def test_application_outside_the_argocd_namespace(tree: Path, bundle: BundleConfig) -> None:
    _edit(tree, "argocd/apps/dcgm-exporter.yaml", lambda d: d["metadata"].update(namespace="x"))
    f = _only(_errors(tree, bundle), check="crossref", field="metadata.namespace")
    assert f.file == "argocd/apps/dcgm-exporter.yaml"


def test_cli_json_and_exit_codes(tree: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["lint", "--config", str(tree / "bundle.yaml")])
    assert ok.exit_code == 0, ok.output  # the untouched copy lints clean
    _edit(tree, "deploy/vllm/base/pdb.yaml", lambda d: d["spec"].update(maxUnavailable=[1]))
    res = runner.invoke(app, ["lint", "--json", "--config", str(tree / "bundle.yaml")])
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert data["summary"]["errors"] >= 1
    assert any(
        f["file"] == "deploy/vllm/base/pdb.yaml" and f["field"] == "spec.maxUnavailable"
        for f in data["findings"]
    )
    bad = runner.invoke(app, ["lint", "-k", "0.9", "--config", str(tree / "bundle.yaml")])
    assert bad.exit_code == 2 and "kubernetes-version" in bad.output


def test_dropping_a_series_a_panel_or_rule_reads(tree: Path, bundle: BundleConfig) -> None:
    readers = [p for p in (tree / "dashboards").glob("*.json")] + list(
        (tree / "alerts").glob("*.yaml")
    )
    # The queue alert and the waiting panels read it; without a reader this test proves nothing.
    assert any("vllm:num_requests_waiting" in p.read_text() for p in readers)
    _edit(
        tree,
        "servicemonitors/vllm.yaml",
        lambda d: d["spec"]["endpoints"][0]["metricRelabelings"][0].update(
            regex="vllm:num_requests_waiting|.+_created"
        ),
    )
    errors = [f for f in _errors(tree, bundle) if "drops" in f.message]
    assert errors, "dropping a series in use must fail lint"
    f = errors[0]
    assert (f.file, f.obj, f.field) == (
        "servicemonitors/vllm.yaml",
        "ServiceMonitor/monitoring/vllm",
        "spec.endpoints[0].metricRelabelings[0].regex",
    )
    assert "vllm:num_requests_waiting" in f.message
