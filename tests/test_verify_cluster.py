"""`obsctl verify` against a fake Kubernetes API server serving recorded objects, with the
service proxy forwarding to real Prometheus and Alertmanager processes and a fake Grafana.
One failure per test: each must yield the right status and a fix that names the cause."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner
from verify_fakes.harness import Harness
from verify_fakes.kube import HANG, wait_until

from observability.cli import app
from observability.metrics.names import DCGM
from observability.verify import Options, Status
from observability.verify.model import Result

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def h(bundle) -> Iterator[Harness]:
    harness = Harness(bundle, gpu_nodes=2, gpus_per_node=1).start()
    try:
        harness.wait_healthy()
        yield harness
    finally:
        harness.stop()


@pytest.fixture(autouse=True)
def restore(h: Harness) -> Iterator[None]:
    objects = copy.deepcopy(h.kube.objects)
    backends = dict(h.kube.backends)
    yield
    h.kube.objects = objects
    h.kube.backends = backends
    ex = h.exporter
    dirty = ex.escaped or ex.down_pods or ex.dropped or ex.duplicate or ex.generation != "new"
    ex.escaped, ex.duplicate, ex.generation = False, False, "new"
    ex.down_pods, ex.dropped = set(), set()
    assert h.grafana is not None
    h.grafana.datasource = True
    h.grafana.anonymous = True
    if dirty:  # let Prometheus see the healthy exporter again before the next test
        n = len(h.inst.vllm_pods) + len(h.inst.gpu_nodes)
        h.wait_scraped(f"count(up == 1) >= {n}")
        h.wait_scraped("absent(vllm_num_requests_running) and absent(verify_test_dup)")
        h.wait_scraped(f"count({DCGM.POWER_USAGE}) and count(vllm:kv_cache_usage_perc)")


def by_id(results: list[Result]) -> dict[str, Result]:
    return {r.id: r for r in results}


def run_one(h: Harness, check: str, **kw) -> Result:
    run = h.run(only=[check], **kw)
    return by_id(run.results)[check]


# -- healthy ----------------------------------------------------------------------------


def test_healthy_installation_passes_every_check_with_least_privilege(h: Harness) -> None:
    run = h.run()
    bad = [f"{r.id}: {r.status} {r.evidence}" for r in run.results if r.status is not Status.PASS]
    assert not bad, bad
    assert len(run.results) == 29  # every check but the runtime ones this bundle leaves out
    assert h.kube.denied == [], "verify needed more than the rendered ClusterRole/Role grant"
    # a hang guard only: how fast verify is lives in bench/verify_speed.py (this took 23 s
    # beside a busy suite on 2 cores, against 1-3 s alone)
    assert run.seconds < 60


def test_panels_check_names_at_most_four_panels_not_exposed_here(h: Harness) -> None:
    """The healthy cluster's panels PASS; of the panels this fake's exporters leave empty as
    their notes say, the evidence counts them all and names four."""
    r = run_one(h, "grafana.panels")
    assert r.status is Status.PASS, r
    m = re.search(r"; (\d+) not exposed here, as their panels say: (.*)$", r.evidence)
    assert m, r.evidence
    assert int(m[1]) > 4  # the fake exposes no kube-state-metrics, Karpenter, LoRA, ...
    assert len(re.findall(r"'[^']+' \(", m[2])) == 4, m[2]
    # the panels with data and those not exposed make up every panel (generated mutant:
    # `len(by_panel) - len(expected)` -> `>>`)
    counts = re.match(r"(\d+)/(\d+) panels return data", r.evidence)
    assert counts, r.evidence
    assert int(counts[1]) + int(m[1]) == int(counts[2]), r.evidence


def test_drift_guard_reads_prometheus_when_the_pod_is_unreachable(h: Harness) -> None:
    """The vLLM Service cannot be reached through the API server proxy (a NetworkPolicy):
    the drift guard reads the pods' names from Prometheus instead and passes."""
    del h.kube.backends[("vllm", "vllm-" + h.cfg.vllm.deploy[0])]
    r = run_one(h, "scrape.drift")
    assert r.status is Status.PASS, r
    assert h.cfg.vllm.deploy[0] in r.evidence


def test_cli_json_and_exit_code(h: Harness) -> None:
    res = CliRunner().invoke(
        app, ["verify", "--kubeconfig", str(h.kubeconfig), "--json", "--only", "gpu,crds"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {c["id"] for c in data["checks"]} == {"gpu.nodes", "gpu.exporters", "crds.present"}
    assert all({"id", "layer", "status", "evidence", "fix"} <= set(c) for c in data["checks"])
    assert data["summary"]["PASS"] == 3 and data["ok"] is True


def test_verify_image_command_against_the_fake_cluster(h: Harness) -> None:
    """The CronJob's command line (the verify image's entrypoint) in the venv, with the
    pod's service account swapped for the fake cluster's kubeconfig."""
    import subprocess
    import sys
    from pathlib import Path

    from observability.render.rbac import VERIFY_ARGS, VERIFY_COMMAND

    repo = Path(__file__).resolve().parent.parent
    swap = {"--in-cluster": ["--kubeconfig", str(h.kubeconfig)]}
    args = [
        x
        for a in VERIFY_ARGS
        for x in swap.get(a, [str(repo / "bundle.yaml") if a.endswith("/bundle.yaml") else a])
    ]
    exe = Path(sys.executable).parent / VERIFY_COMMAND[0]
    proc = subprocess.run(
        [str(exe), *args, "--only", "gpu,crds"], capture_output=True, text=True, timeout=120
    )
    data = json.loads(proc.stdout)
    assert proc.returncode == 0, [c for c in data["checks"] if c["status"] != "PASS"]
    assert data["ok"] is True and data["summary"]["PASS"] == 3


def test_cli_table_groups_by_layer_and_fails_with_exit_1(h: Harness) -> None:
    h.kube.remove("CustomResourceDefinition", "podmonitors.monitoring.coreos.com")
    res = CliRunner().invoke(
        app, ["verify", "--kubeconfig", str(h.kubeconfig), "--only", "crds,stack"]
    )
    assert res.exit_code == 1, res.output
    assert "crds.present" in res.output and "FAIL" in res.output
    assert "1 FAIL" in res.output.splitlines()[-1]


def test_unknown_check_is_usage_error(h: Harness) -> None:
    res = CliRunner().invoke(app, ["verify", "--kubeconfig", str(h.kubeconfig), "--skip", "nope"])
    assert res.exit_code == 2
    assert "unknown check 'nope'" in res.output


# -- one failure each ---------------------------------------------------------------------


def test_app_outofsync_and_degraded(h: Harness) -> None:
    app_obj = h.kube.get("Application", "kube-prometheus-stack", "argocd")
    app_obj["status"]["sync"]["status"] = "OutOfSync"
    app_obj["status"]["health"] = {"status": "Degraded", "message": "Deployment has 0/1 ready"}
    app_obj["status"]["conditions"] = [
        {"type": "ComparisonError", "message": "failed to load target state: chart not found"}
    ]
    r = run_one(h, "argocd.apps")
    assert r.status is Status.FAIL
    assert "kube-prometheus-stack: sync=OutOfSync; health=Degraded" in r.evidence
    assert "ComparisonError: failed to load target state" in r.evidence
    assert "argocd app diff kube-prometheus-stack" in r.fix


def test_application_missing(h: Harness) -> None:
    h.kube.remove("Application", "dcgm-exporter", "argocd")
    r = run_one(h, "argocd.apps")
    assert r.status is Status.FAIL and "dcgm-exporter: not found" in r.evidence
    assert "app-of-apps.yaml" in r.fix


def test_crd_missing(h: Harness) -> None:
    h.kube.remove("CustomResourceDefinition", "servicemonitors.monitoring.coreos.com")
    r = run_one(h, "crds.present")
    assert r.status is Status.FAIL
    assert "servicemonitors.monitoring.coreos.com" in r.evidence
    assert "ServerSideApply=true" in r.fix


def test_no_gpu_nodes(h: Harness) -> None:
    for n in h.inst.gpu_nodes:
        h.kube.remove("Node", n)
    run = h.run(only=["gpu"])
    res = by_id(run.results)
    assert res["gpu.nodes"].status is Status.FAIL
    assert (
        "nvidia.com/gpu capacity or labels nvidia.com/gpu.present=true" in res["gpu.nodes"].evidence
    )
    assert "GPU Operator" in res["gpu.nodes"].fix
    assert res["gpu.exporters"].status is Status.SKIP


def test_exporter_not_on_gpu_node(h: Harness) -> None:
    pod = h.kube.get("Pod", "dcgm-exporter-00001", "monitoring")
    pod["spec"]["nodeName"] = h.inst.cpu_nodes[0]
    r = run_one(h, "gpu.exporters")
    assert r.status is Status.FAIL
    assert f"no exporter pod on GPU nodes {h.inst.gpu_nodes[1]}" in r.evidence
    assert f"non-GPU nodes {h.inst.cpu_nodes[0]}" in r.evidence
    assert "nodeSelector" in r.fix and "toleration" in r.fix


def test_exporter_running_but_not_ready(h: Harness) -> None:
    """A Running exporter pod whose Ready condition is False (other conditions True) is not
    ready (generated mutant: `type == "Ready"` -> `is not` took any True condition)."""
    pod = h.kube.get("Pod", "dcgm-exporter-00001", "monitoring")
    node = pod["spec"]["nodeName"]
    pod["status"]["phase"] = "Running"
    pod["status"]["conditions"] = [
        {"type": "Initialized", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "False"},
    ]
    r = run_one(h, "gpu.exporters")
    assert r.status is Status.FAIL
    assert f"exporter not ready on {node}" in r.evidence
    assert "DCGM needs the NVIDIA driver" in r.fix


def test_gpu_node_without_the_bundles_labels_warns(h: Harness) -> None:
    """A node with GPU capacity but without gpu.node_selector's labels is a GPU node that
    vLLM and dcgm-exporter will not schedule on (generated mutant: capacity `> 0` -> `< 0`
    counted labelled nodes only)."""
    name = h.inst.gpu_nodes[0]
    labels = h.kube.get("Node", name)["metadata"]["labels"]
    for key in h.cfg.gpu.node_selector:
        labels.pop(key, None)
    r = run_one(h, "gpu.nodes")
    assert r.status is Status.WARN
    assert "GPUs but without labels" in r.evidence and name in r.evidence
    assert "label those nodes" in r.fix


def test_servicemonitor_not_selected(h: Harness) -> None:
    prom = h.kube.get("Prometheus", "kube-prometheus-stack-prometheus", "monitoring")
    prom["spec"]["serviceMonitorSelector"] = {"matchLabels": {"release": "kube-prometheus-stack"}}
    r = run_one(h, "scrape.selected")
    assert r.status is Status.FAIL
    assert "ServiceMonitor monitoring/vllm not selected" in r.evidence
    assert "label release=kube-prometheus-stack is missing" in r.evidence
    assert "serviceMonitorSelectorNilUsesHelmValues: false" in r.fix


def test_servicemonitor_namespace_not_selected(h: Harness) -> None:
    prom = h.kube.get("Prometheus", "kube-prometheus-stack-prometheus", "monitoring")
    prom["spec"]["serviceMonitorNamespaceSelector"] = {"matchLabels": {"team": "ml"}}
    r = run_one(h, "scrape.selected")
    assert r.status is Status.FAIL
    assert "namespace monitoring not selected by serviceMonitorNamespaceSelector" in r.evidence
    assert "label team=ml is missing" in r.evidence


def test_target_down(h: Harness) -> None:
    pod = h.inst.vllm_pods[0][1]
    h.exporter.down_pods.add(pod)
    h.wait_scraped(f'up{{pod="{pod}"}} == 0')
    r = run_one(h, "scrape.targets")
    assert r.status is Status.FAIL
    assert "1 targets down" in r.evidence and "500" in r.evidence
    assert "pod is Ready" in r.fix


def test_escaped_vllm_names(h: Harness) -> None:
    h.exporter.escaped = True
    h.wait_scraped("count(vllm_num_requests_running) and on() absent(vllm:num_requests_running)")
    r = run_one(h, "scrape.escaping")
    assert r.status is Status.FAIL
    assert "vllm_" in r.evidence and "no vllm:* names" in r.evidence
    assert "prometheus-client>=0.23" in r.fix and "Prometheus 2.x" in r.fix


def test_drift_guard_names_the_alerts_escaped_names_leave_blind(h: Harness) -> None:
    """The pod behind vllm-<key> is read through the API server proxy: with escaped
    names every engine alert reads a family nothing provides."""
    assert run_one(h, "scrape.drift").status is Status.PASS
    h.exporter.escaped = True
    r = run_one(h, "scrape.drift")
    assert r.status is Status.FAIL, r
    assert "VLLMKVCacheSaturated (vllm:kv_cache_usage_perc)" in r.evidence
    assert "read from vllm/vllm-" in r.evidence and "an unknown exporter" in r.evidence
    assert "vllm.image_tag" in r.fix


def test_old_generation_is_named(h: Harness) -> None:
    h.exporter.generation = "old"
    h.wait_scraped("count(vllm:gpu_cache_usage_perc) and on() absent(vllm:kv_cache_usage_perc)")
    r = run_one(h, "scrape.generation")
    assert r.status is Status.PASS
    assert "old metric generation" in r.evidence and "gpu_cache_usage_perc" in r.evidence


def test_rule_group_error(h: Harness) -> None:
    h.exporter.duplicate = True

    def errored() -> bool:
        return "same labelset" in json.dumps(h.prom_rules())

    wait_until(errored, 15, "rule evaluation error")
    r = run_one(h, "rules.errors")
    assert r.status is Status.FAIL
    assert "verify-test.rules/verify_test:dup" in r.evidence and "same labelset" in r.evidence
    assert "fix its expression" in r.fix


def test_watchdog_not_in_alertmanager(h: Harness) -> None:
    h.kube.backends[("monitoring", "kube-prometheus-stack-alertmanager")] = (
        h.prom.start_second_alertmanager()
    )
    r = run_one(h, "alerting.watchdog")
    assert r.status is Status.FAIL
    assert "fires in Prometheus but is not in Alertmanager" in r.evidence
    assert h.prom.am_url in r.evidence  # where Prometheus actually sends
    assert "does not deliver alerts to this Alertmanager" in r.fix


def test_datasource_missing(h: Harness) -> None:
    assert h.grafana is not None
    h.grafana.datasource = False
    r = run_one(h, "grafana.datasource")
    assert r.status is Status.FAIL
    assert "no Grafana datasource with uid 'prometheus'" in r.evidence
    assert "uid: prometheus" in r.fix


def test_empty_panel(h: Harness) -> None:
    h.exporter.dropped.add(DCGM.POWER_USAGE)
    h.wait_scraped(f"absent({DCGM.POWER_USAGE})")
    r = run_one(h, "grafana.panels")
    assert r.status is Status.WARN
    assert f"no series for {DCGM.POWER_USAGE}" in r.evidence
    assert "panels empty: '" in r.evidence  # names the panel title
    assert "disabled DCGM field" in r.fix


def test_served_model_mismatch(h: Harness) -> None:
    real = h.exporter.served_name
    h.exporter.served_name = "some-other-model"
    try:
        r = run_one(h, "vllm.api")
    finally:
        h.exporter.served_name = real
    assert r.status is Status.FAIL
    assert f"expects {real!r}" in r.evidence and "--served-model-name" in r.fix


def test_vllm_unreachable_through_proxy_is_a_warning_naming_the_networkpolicy(h: Harness) -> None:
    del h.kube.backends[("vllm", "vllm-" + h.cfg.vllm.deploy[0])]
    r = run_one(h, "vllm.api")
    assert r.status is Status.WARN
    assert "no endpoints available" in r.evidence
    assert "NetworkPolicy" in r.fix and "port-forward" in r.fix


def test_local_mode_finds_the_running_demo_stack(h: Harness, tmp_path, repo_root) -> None:
    import os
    import shutil
    import time

    from observability.local.state import StackState

    shutil.copy(repo_root / "bundle.yaml", tmp_path / "bundle.yaml")
    (tmp_path / ".obsctl").mkdir()
    state = StackState(
        pid=os.getpid(),
        started_at=time.time(),
        profile="standard",
        vllm_version="0.7.3",
        prometheus_url=h.prom.prom_url,
        alertmanager_url=h.prom.am_url,
        webhook_url="http://127.0.0.1:1",
        sim_admin_url="http://127.0.0.1:1",
        scrape_interval="15s",
        evaluation_interval="15s",
        group_wait_s=30.0,
        replicas=(),
        nodes=(),
    )
    state.write(tmp_path / ".obsctl" / "demo-state.json")
    res = CliRunner().invoke(
        app, ["verify", "--local", "-c", str(tmp_path / "bundle.yaml"), "--only", "alerting"]
    )
    assert res.exit_code == 0, res.output
    assert "alerting.watchdog" in res.output and h.prom.prom_url in res.output


def test_grafana_auth_through_proxy_explains_port_forward(h: Harness) -> None:
    assert h.grafana is not None
    h.grafana.anonymous = False
    r = run_one(h, "grafana.datasource")
    assert r.status is Status.SKIP and "port-forward" in r.fix
    # Direct URL: credentials from the bundle's grafana-admin Secret work.
    r = run_one(h, "grafana.datasource", options=Options(grafana_url=h.grafana.url))
    assert r.status is Status.PASS, r.evidence


def test_rbac_denial_names_the_fix(h: Harness) -> None:
    h.kube.rbac = [o for o in (h.kube.rbac or []) if o["kind"] == "Role"]
    try:
        r = run_one(h, "gpu.nodes")
    finally:
        h.kube.rbac = None
    assert r.status is Status.FAIL
    assert "not allowed to read nodes (HTTP 403)" in r.evidence and "deploy/verify" in r.fix


# -- bounded in time ----------------------------------------------------------------------


def test_component_that_hangs_fails_by_timeout(h: Harness) -> None:
    h.kube.backends[("monitoring", "kube-prometheus-stack-prometheus")] = HANG
    t0 = time.monotonic()
    run = h.run(only=["stack", "scrape.targets", "rules"], check_timeout=1.5, total_timeout=6)
    took = time.monotonic() - t0
    res = by_id(run.results)
    assert res["prometheus.ready"].status is Status.FAIL
    assert "did not answer within" in res["prometheus.ready"].evidence or "no answer within" in (
        res["prometheus.ready"].evidence
    )
    assert res["rules.loaded"].status is Status.SKIP
    assert res["operator.ready"].status is Status.PASS
    assert took < 5


def test_api_unreachable_exits_2_fast(tmp_path) -> None:
    from verify_fakes.backends import free_port
    from verify_fakes.cluster import write_kubeconfig

    kc = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{free_port()}")
    t0 = time.monotonic()
    res = CliRunner().invoke(app, ["verify", "--kubeconfig", str(kc)])
    assert res.exit_code == 2
    assert "unreachable" in res.output
    assert time.monotonic() - t0 < 5


def test_local_mode_prometheus_unreachable_exits_2() -> None:
    from verify_fakes.backends import free_port

    t0 = time.monotonic()
    url = f"http://127.0.0.1:{free_port()}"
    res = CliRunner().invoke(app, ["verify", "--local", "--prometheus-url", url])
    assert res.exit_code == 2 and "unreachable" in res.output and "obsctl demo" in res.output
    assert time.monotonic() - t0 < 5


def test_local_mode_checks_prometheus_and_alertmanager_only(h: Harness) -> None:
    res = CliRunner().invoke(
        app,
        [
            "verify",
            "--local",
            "--prometheus-url",
            h.prom.prom_url,
            "--alertmanager-url",
            h.prom.am_url,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    ids = {c["id"] for c in json.loads(res.stdout)["checks"]}
    assert "alerting.watchdog" in ids and "scrape.escaping" in ids
    # every check that needs only Prometheus and Alertmanager runs (generated mutant: a
    # local=True turned False took scrape.targets out of local mode unnoticed)
    assert {
        "prometheus.ready",
        "alertmanager.ready",
        "rules.loaded",
        "rules.errors",
        "alerts.firing",
        "scrape.targets",
        "scrape.series",
        "scrape.escaping",
        "scrape.generation",
    } <= ids
    assert not ids & {"argocd.apps", "gpu.nodes", "scrape.selected", "grafana.ready"}


def test_drift_guard_waits_for_a_first_request(h: Harness) -> None:
    """A pod that has served nothing has not created vLLM's lazily made families yet: the
    guard says so (WARN, send a request) instead of calling them missing."""
    h.exporter.dropped = {"vllm:request_success_total", "vllm:e2e_request_latency_seconds"}
    r = run_one(h, "scrape.drift")
    assert r.status is Status.WARN, r
    assert "no request served yet" in r.evidence
    assert "send one request to each model" in r.fix


def test_gpu_exporters_names_at_most_five_not_ready_nodes(bundle, tmp_path) -> None:
    """A fleet-wide DCGM outage is one readable line: five node names, not a hundred."""
    from verify_fakes.cluster import build_cluster, write_kubeconfig
    from verify_fakes.kube import FakeKube

    from observability.render.rbac import rbac
    from observability.verify.checks_gpu import CHECKS as GPU_CHECKS
    from observability.verify.context import VerifyContext
    from observability.verify.k8s import Cluster

    cfg = bundle
    inst = build_cluster(cfg, gpu_nodes=7)
    fake = FakeKube(rbac=rbac(cfg)).start()
    try:
        for obj in inst.objects:
            if obj["kind"] == "Pod" and obj["metadata"]["name"].startswith("dcgm-exporter-"):
                obj["status"]["phase"] = "Running"
                obj["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
        fake.add(*inst.objects)
        kc = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
        ctx = VerifyContext(cfg, Cluster.connect(str(kc)), Options())
        out = {c.id: c.run for c in GPU_CHECKS}["gpu.exporters"](ctx)
    finally:
        fake.stop()
    assert out.status == Status.FAIL, out
    named = out.evidence.split("exporter not ready on ", 1)[1].split(";")[0].split(", ")
    assert len(named) == 5 and set(named) <= set(inst.gpu_nodes), out.evidence
