"""The `job` the alert selectors read is the `job` the operator gives the rendered targets.

VLLMTargetDown once selected `up{job=~"vllm-.+"}` while the ServiceMonitor's `jobLabel`
made every vLLM target `job="vllm"`, so it could never fire. These tests recompute the
operator's job from the rendered ServiceMonitors and the Services they select and check
every `job` matcher of the rendered rules and dashboards against it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from observability.alerting.rules import rule_groups
from observability.alerting.targets import dcgm_up, job_matches, vllm_up
from observability.config import BundleConfig, parse_config
from observability.local.scrapeconfig import KSM_SERVICE_MONITOR
from observability.render.servicemonitors import artifacts as servicemonitor_artifacts
from observability.runtimes.tgi import TgiRuntime

KUBECTL = Path(sys.executable).parent / "kubectl"
_JOB_MATCHER = re.compile(r'\bjob\s*(=~|!~|!=|=)\s*"([^"]*)"')


def _operator_job(monitor: dict[str, Any], service: dict[str, Any]) -> str:
    """prometheus-operator: `job` = the Service's value of `jobLabel`, else its name."""
    job_label = monitor["spec"].get("jobLabel")
    value = service["metadata"].get("labels", {}).get(job_label) if job_label else None
    return value or service["metadata"]["name"]


def _selects(monitor: dict[str, Any], service: dict[str, Any]) -> bool:
    spec = monitor["spec"]
    labels = service["metadata"].get("labels", {})
    ns_ok = service["metadata"].get("namespace") in spec["namespaceSelector"]["matchNames"]
    return ns_ok and spec["selector"]["matchLabels"].items() <= labels.items()


def _monitors(cfg: BundleConfig) -> dict[str, dict[str, Any]]:
    out = servicemonitor_artifacts(cfg)
    return {
        "vllm": out["servicemonitors/vllm.yaml"],
        "dcgm": out["servicemonitors/dcgm-exporter.yaml"],
    }


def _vllm_services(repo_root: Path) -> list[dict[str, Any]]:
    """The Services `kubectl kustomize` builds from every committed model overlay."""
    services = []
    for overlay in sorted((repo_root / "deploy/vllm/overlays").iterdir()):
        out = subprocess.run(
            [str(KUBECTL), "kustomize", str(overlay)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        services += [d for d in yaml.safe_load_all(out) if d and d.get("kind") == "Service"]
    return services


def _alert_exprs(cfg: BundleConfig, name: str, profile: str = "standard") -> list[str]:
    return [
        r["expr"] for g in rule_groups(cfg, profile) for r in g["rules"] if r.get("alert") == name
    ]


@pytest.fixture(scope="module")
def vllm_jobs(repo_root: Path, bundle: BundleConfig) -> set[str]:
    monitor = _monitors(bundle)["vllm"]
    services = _vllm_services(repo_root)
    assert services, "no Service in deploy/vllm/overlays"
    for svc in services:
        assert _selects(monitor, svc), f"the vLLM ServiceMonitor does not select {svc['metadata']}"
    return {_operator_job(monitor, svc) for svc in services}


@pytest.fixture(scope="module")
def dcgm_jobs(bundle: BundleConfig) -> set[str]:
    """The chart's Service is not rendered here, but the monitor selects on its own
    `jobLabel`, so every Service it scrapes carries that value: the job is fixed."""
    spec = _monitors(bundle)["dcgm"]["spec"]
    assert spec.get("jobLabel") in spec["selector"]["matchLabels"], spec
    return {spec["selector"]["matchLabels"][spec["jobLabel"]]}


@pytest.mark.parametrize("profile", ["standard", "fast"])
def test_target_down_selects_the_job_the_operator_assigns(bundle, vllm_jobs, profile):
    assert vllm_jobs == {"vllm"}  # app.kubernetes.io/name of every model's Service
    exprs = _alert_exprs(bundle, "VLLMTargetDown", profile)
    assert exprs
    for expr in exprs:
        selectors = {f'up{{job{op}"{v}"}}' for op, v in _JOB_MATCHER.findall(expr)}
        # the registry's TGI model adds its engine job (runtimes/tgi.py TGI_JOB)
        assert selectors == {'up{job=~"vllm|tgi"}'}, expr
    assert all(job_matches(vllm_up(bundle), job) for job in vllm_jobs | {"tgi"})


def test_dcgm_exporter_down_selects_the_job_the_operator_assigns(bundle, dcgm_jobs):
    assert dcgm_jobs == {"dcgm-exporter"}
    for expr in _alert_exprs(bundle, "DCGMExporterDown"):
        assert 'up{job="dcgm-exporter"}' in expr, expr
    assert all(job_matches(dcgm_up(bundle), job) for job in dcgm_jobs)


def test_every_job_matcher_in_rules_and_dashboards_selects_a_rendered_job(
    repo_root, bundle, vllm_jobs, dcgm_jobs
):
    """Any `job` matcher in a committed rule file or dashboard must select a job the
    bundle's monitors produce (equality or regex), never a name no target has."""
    # TGI's monitor (jobLabel on its Services) and the chart's kube-state-metrics monitor
    tgi_mon = TgiRuntime().demo_monitors(bundle)["tgi.yaml"]["spec"]
    ksm = KSM_SERVICE_MONITOR["spec"]
    jobs = vllm_jobs | dcgm_jobs
    jobs |= {tgi_mon["selector"]["matchLabels"][tgi_mon["jobLabel"]]}
    jobs |= {ksm["selector"]["matchLabels"][ksm["jobLabel"]]}
    assert jobs >= {"tgi", "kube-state-metrics"}
    texts = [p.read_text() for p in (repo_root / "alerts").glob("*.yaml")]
    texts += [p.read_text() for p in (repo_root / "dashboards").rglob("*.json")]
    found = [(op, v) for t in texts for op, v in _JOB_MATCHER.findall(t)]
    assert found, "expected at least the target-down selectors"
    for op, value in found:
        if op == "=~":
            assert any(re.fullmatch(value, j) for j in jobs), (op, value, jobs)
        elif op == "=":
            assert value in jobs, (op, value, jobs)


def test_a_job_override_wins_for_a_custom_scrape_config(bundle):
    data = bundle.model_dump()
    data["alerting"].update(vllm_job_regex="serving-.+", dcgm_job="gpu-metrics")
    cfg = parse_config(data)
    assert all('up{job=~"serving-.+"}' in e for e in _alert_exprs(cfg, "VLLMTargetDown"))
    assert all('up{job="gpu-metrics"}' in e for e in _alert_exprs(cfg, "DCGMExporterDown"))
    assert job_matches(vllm_up(cfg), "serving-llama") and not job_matches(vllm_up(cfg), "vllm")


# Job label values: Kubernetes names, a namespace/ prefix, and dots (a job set by hand in
# alerting.dcgm_job or a scrape config: `node.exporter`).
_JOB_NAME = st.from_regex(r"[a-z0-9][a-z0-9./-]{0,20}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(a=_JOB_NAME, b=_JOB_NAME)
@example(a="dcgm.exporter", b="dcgm-exporter")  # `=` is exact: a dot is no wildcard
def test_an_equality_job_selector_selects_that_job_only(a, b):
    """`up{job="a"}` selects the targets whose job is a, and no other job (generated
    mutants: `value == job` in job_matches became `>` / `is not`; `op == "=~"` became
    `<=`, which read `=` as a regex)."""
    assert job_matches(f'up{{job="{a}"}}', a)
    assert job_matches(f'up{{job="{a}"}}', b) == (a == b)
    assert job_matches(f'up{{job=~"{a}|{b}"}}', b)
