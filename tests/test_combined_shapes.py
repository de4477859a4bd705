"""Shapes together, running: a fault on a RayService model and one on an AIBrix model, each
in a bundle with a cluster label and KEDA on, page for that model only, and the page
carries the cluster label (Prometheus' external label, as a central Alertmanager sees it).

Lint proves every pair of options renders clean (tests/test_config_pairs.py); this proves
the rendered rules and routing still page through the runtime's own scrape path when the
cluster label and the autoscaler's rules are in the same bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from scenario_helpers import run_side_by_side, scenario_cmd, scenario_results

pytestmark = pytest.mark.e2e

CLUSTER_LABEL, CLUSTER = "k8s_cluster", "prod-eu-1"
SCENARIO = "error-storm"  # model-level: names its victim, pages in about a minute


def _bundle(repo_root: Path, tmp_path: Path) -> Path:
    data = yaml.safe_load((repo_root / "bundle.yaml").read_text(encoding="utf-8"))
    data["prometheus"].update(cluster_label=CLUSTER_LABEL, cluster_name=CLUSTER)
    data["autoscaling"] = {"keda": {"enabled": True}}
    path = tmp_path / "bundle.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.timeout(420)
def test_runtime_models_page_alone_with_the_cluster_label(repo_root: Path, tmp_path: Path) -> None:
    config = _bundle(repo_root, tmp_path)
    cmds = {}
    for runtime in ("rayservice", "aibrix"):
        cmd = scenario_cmd(repo_root, (SCENARIO,), models="2")
        cmd[cmd.index("--config") + 1] = str(config)
        cmds[runtime] = [*cmd, "--runtime", runtime, "--replicas", "1"]
    failures = []
    for runtime, (_rc, out, err) in run_side_by_side(cmds, timeout=400).items():
        try:
            (res,) = scenario_results(out, err)
        except (AssertionError, ValueError) as no_result:
            failures.append(f"{runtime}: {no_result}")
            continue
        if not res["ok"]:
            failures.append(f"{runtime}: {json.dumps(res)}")
            continue
        (page,) = [a for a in res["alerts"] if a["expected"]]
        victim = res["target_model"]
        assert page["models"] == [victim], (runtime, page)  # that model only
        assert page["delivered"], (runtime, page)
        for labels in page["delivered"]:
            assert labels.get(CLUSTER_LABEL) == CLUSTER, (runtime, labels)
            assert f"{labels['namespace']}/{labels['model_name']}" == victim, (runtime, labels)
        print(f"{runtime}: {page['alert']} for {victim} after {page['webhook_s']:.1f}s")
    assert not failures, "\n".join(failures)
