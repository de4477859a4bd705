"""Every verify check driven to FAIL (and to WARN where it has one) by a fake API server
fixture: recorded objects edited, a backend swapped, an exporter knob turned. Each test
asserts the check id, the status and the fix text. Checks already driven to FAIL/WARN in
tests/test_verify_cluster.py are listed in COVERED_THERE; test_every_check_is_driven
keeps the two lists complete (24 checks)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import httpx
import pytest
from verify_fakes.backends import BrokenPrometheus
from verify_fakes.cluster import rule_groups
from verify_fakes.harness import Harness

from observability.config import parse_config
from observability.dashboards.exprs import panel_queries, substitute
from observability.dashboards.queries import Queries
from observability.verify import Options, Status, run_verify
from observability.verify import bundle as bundle_facts
from observability.verify.checks import check_ids
from observability.verify.model import Result

pytestmark = pytest.mark.e2e

# check id -> statuses driven in tests/test_verify_cluster.py (named there per test).
COVERED_THERE = {
    "argocd.apps": {"FAIL"},
    "crds.present": {"FAIL"},
    "gpu.nodes": {"FAIL"},
    "gpu.exporters": {"FAIL"},
    "scrape.selected": {"FAIL"},
    "scrape.targets": {"FAIL"},
    "scrape.escaping": {"FAIL"},
    "scrape.drift": {"FAIL"},
    "rules.errors": {"FAIL"},
    "alerting.watchdog": {"FAIL"},
    "grafana.datasource": {"FAIL"},
    "grafana.panels": {"WARN"},
    "vllm.api": {"FAIL", "WARN"},
    "prometheus.ready": {"FAIL"},
}
# check id -> statuses driven here (the test names say which).
COVERED_HERE = {
    "operator.ready": {"FAIL"},
    "ksm.ready": {"FAIL"},
    "alertmanager.ready": {"FAIL"},
    "grafana.ready": {"FAIL"},
    "vllm.deployment": {"FAIL"},
    "scrape.series": {"FAIL"},
    "scrape.generation": {"WARN"},
    "scrape.escaping": {"WARN"},
    "rules.loaded": {"FAIL"},
    "alerts.firing": {"WARN"},
    "alerting.config": {"FAIL", "WARN"},
    "grafana.dashboards": {"FAIL"},
    "grafana.panels": {"FAIL"},
    "argocd.apps": {"WARN"},
    "gpu.nodes": {"WARN"},
    "prometheus.ready": {"FAIL"},
    "scrape.dcgm_duplicates": {"WARN"},
}
# check id -> statuses driven in tests/test_verify_runtimes.py (fake API server) and
# tests/test_runtimes_local.py (runtime.aibrix against the demo's Prometheus).
COVERED_RUNTIMES = {
    "runtime.rayservice": {"FAIL"},
    "autoscaling.keda": {"FAIL"},
    "runtime.aibrix": {"FAIL"},
    # driven in tests/test_verify_remote.py (remote write, external labels)
    "prometheus.external_labels": {"FAIL"},
    "prometheus.remote_write": {"FAIL"},
    # driven in tests/test_verify_delivery.py (sidecar ConfigMaps, GrafanaDashboards)
    "grafana.delivery": {"FAIL"},
    # driven in tests/test_router_verify.py (fake API server; a 401 endpoint and Prometheus)
    "router.inferencepool": {"FAIL"},
    "router.epp_scrape": {"FAIL"},
    # driven in tests/test_verify_kserve_lws.py (fake API server)
    "runtime.kserve": {"FAIL"},
    "runtime.lws": {"FAIL"},
}
# The only outcomes not driven, and why: they need a bundle that renders nothing.
NOT_DRIVEN = {
    ("rules.loaded", "WARN"): "bundle renders no rule groups",
    ("scrape.selected", "WARN"): "bundle renders no monitors",
    ("grafana.dashboards", "WARN"): "bundle renders no dashboards",
    ("alerting.watchdog", "WARN"): "Watchdog younger than the 90 s resend grace (timing)",
    ("runtime.aibrix", "WARN"): "gateway scraped but no request routed yet (demo load skips it)",
}


def test_every_check_is_driven_to_fail_or_its_only_non_pass_status():
    ids = check_ids()
    # Literal: the 36 checks of `obsctl verify` (docs/verify.md). A new check adds a test.
    assert len(ids) == 36, ids
    driven = {i for i in ids if i in COVERED_THERE or i in COVERED_HERE or i in COVERED_RUNTIMES}
    assert driven == set(ids)
    no_fail = {
        "scrape.generation",
        "alerts.firing",
        "scrape.dcgm_duplicates",
    }  # these checks have no FAIL outcome
    for i in ids:
        statuses = (
            COVERED_THERE.get(i, set())
            | COVERED_HERE.get(i, set())
            | COVERED_RUNTIMES.get(i, set())
        )
        assert "FAIL" in statuses or i in no_fail, i


@pytest.fixture(scope="module")
def h(bundle) -> Iterator[Harness]:
    harness = Harness(bundle, gpu_nodes=2, gpus_per_node=1, pods_per_model=2).start()
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
    dirty = bool(ex.dropped or ex.escaped_pods or ex.old_pods or ex.xid)
    ex.dropped, ex.escaped_pods, ex.old_pods, ex.xid = set(), set(), set(), 0
    assert h.grafana is not None
    h.grafana.database = "ok"
    if dirty:
        n = len(h.inst.vllm_pods) + len(h.inst.gpu_nodes)
        h.wait_scraped(f"count(up == 1) >= {n}")
        h.wait_scraped("count(vllm:num_requests_running) and absent(vllm_num_requests_running)")
        h.wait_scraped(f"count(vllm:kv_cache_usage_perc) >= {len(h.inst.vllm_pods)}")
        h.wait_scraped("absent(vllm:gpu_cache_usage_perc)")


def run_one(h: Harness, check: str) -> Result:
    run = h.run(only=[check])
    return {r.id: r for r in run.results}[check]


def _deployment(h: Harness, namespace: str, name_part: str) -> dict:
    deps = h.kube.objects[("apps", "deployments")]
    return next(
        d
        for d in deps
        if d["metadata"].get("namespace") == namespace and name_part in d["metadata"]["name"]
    )


# -- stack --------------------------------------------------------------------------------


def test_operator_not_ready_fails(h: Harness) -> None:
    dep = _deployment(h, "monitoring", "operator")
    dep["status"]["readyReplicas"] = 0
    dep["status"]["conditions"] = [
        {
            "type": "Available",
            "status": "False",
            "message": "Deployment does not have minimum availability.",
        }
    ]
    r = run_one(h, "operator.ready")
    assert r.status is Status.FAIL
    assert (
        "prometheus-operator Deployment monitoring/kube-prometheus-stack-operator: 0/1 ready"
        in (r.evidence)
    )
    assert "Deployment does not have minimum availability" in r.evidence
    assert "kubectl -n monitoring describe deployment kube-prometheus-stack-operator" in r.fix


def test_kube_state_metrics_missing_fails(h: Harness) -> None:
    h.kube.remove("Deployment", "kube-prometheus-stack-kube-state-metrics", "monitoring")
    r = run_one(h, "ksm.ready")
    assert r.status is Status.FAIL
    assert "no kube-state-metrics Deployment in monitoring" in r.evidence
    assert "enable kube-state-metrics in the kube-prometheus-stack values" in r.fix


def test_alertmanager_cr_unavailable_fails(h: Harness) -> None:
    am = h.kube.get("Alertmanager", "kube-prometheus-stack-alertmanager", "monitoring")
    am.setdefault("status", {})["conditions"] = [
        {"type": "Available", "status": "False", "message": "0/1 pods ready: PVC pending"}
    ]
    r = run_one(h, "alertmanager.ready")
    assert r.status is Status.FAIL
    assert (
        "Alertmanager monitoring/kube-prometheus-stack-alertmanager Available=False" in r.evidence
    )
    assert "PVC pending" in r.evidence
    assert "kubectl -n monitoring get pods -l alertmanager=kube-prometheus-stack-alertmanager" in (
        r.fix
    )


def test_prometheus_cr_unavailable_fails(h: Harness) -> None:
    prom = h.kube.get("Prometheus", "kube-prometheus-stack-prometheus", "monitoring")
    prom.setdefault("status", {})["conditions"] = [
        {"type": "Available", "status": "False", "message": "StatefulSet not ready"}
    ]
    r = run_one(h, "prometheus.ready")
    assert r.status is Status.FAIL
    assert "Prometheus monitoring/kube-prometheus-stack-prometheus Available=False" in r.evidence
    assert "kubectl -n monitoring get pods -l prometheus=kube-prometheus-stack-prometheus" in r.fix


def test_grafana_database_not_ok_fails(h: Harness) -> None:
    assert h.grafana is not None
    h.grafana.database = "database is locked"
    r = run_one(h, "grafana.ready")
    assert r.status is Status.FAIL
    assert r.evidence == "Grafana database: database is locked"
    assert r.fix == "check Grafana's storage (PVC, SQLite lock)"


# -- argocd, gpu, vllm ----------------------------------------------------------------------


def test_application_progressing_after_sync_warns(h: Harness) -> None:
    app = h.kube.get("Application", "kube-prometheus-stack", "argocd")
    app["status"]["health"] = {"status": "Progressing", "message": "Waiting for rollout"}
    r = run_one(h, "argocd.apps")
    assert r.status is Status.WARN
    assert "kube-prometheus-stack: health=Progressing (Waiting for rollout)" in r.evidence
    assert (
        r.fix
        == "wait for kube-prometheus-stack to finish rolling out (argocd app wait kube-prometheus-stack)"
    )


def test_application_degraded_fails_and_points_at_its_destination_namespace(h: Harness) -> None:
    app = h.kube.get("Application", "kube-prometheus-stack", "argocd")
    dest = app["spec"]["destination"]["namespace"]
    assert dest != "argocd"  # the pods to look at are not in Argo CD's namespace
    app["status"]["health"] = {"status": "Degraded", "message": "Deployment has 0 ready"}
    r = run_one(h, "argocd.apps")
    assert r.status is Status.FAIL
    assert "kube-prometheus-stack: health=Degraded (Deployment has 0 ready)" in r.evidence
    assert (
        f"kubectl get pods,events -n {dest} for kube-prometheus-stack's failing resources" in r.fix
    )


def test_gpu_node_without_device_plugin_capacity_warns(h: Harness) -> None:
    node = h.kube.get("Node", h.inst.gpu_nodes[0])
    node["status"]["capacity"]["nvidia.com/gpu"] = "0"
    node["status"]["allocatable"]["nvidia.com/gpu"] = "0"
    r = run_one(h, "gpu.nodes")
    assert r.status is Status.WARN
    assert f"labelled but no nvidia.com/gpu capacity: {h.inst.gpu_nodes[0]}" in r.evidence
    assert "the NVIDIA device plugin is not running there" in r.fix


def test_vllm_deployment_unavailable_fails(h: Harness) -> None:
    key = h.cfg.vllm.deploy[0]
    dep = _deployment(h, h.cfg.namespaces.vllm, key)
    dep["status"]["availableReplicas"] = 0
    dep["status"]["conditions"] = [
        {"type": "Available", "status": "False", "message": "0/1 nodes have free nvidia.com/gpu"}
    ]
    r = run_one(h, "vllm.deployment")
    assert r.status is Status.FAIL
    assert f"vllm/{dep['metadata']['name']} 0/" in r.evidence
    assert "0/1 nodes have free nvidia.com/gpu" in r.evidence
    assert f"kubectl -n vllm describe pods -l app.kubernetes.io/instance={key}" in r.fix
    assert "Pending = no free GPU or missing toleration" in r.fix


# -- scrape ---------------------------------------------------------------------------------


def test_no_vllm_series_fails(h: Harness) -> None:
    h.exporter.dropped.add("vllm:num_requests_running")
    h.wait_scraped("absent(vllm:num_requests_running)")
    r = run_one(h, "scrape.series")
    assert r.status is Status.FAIL
    assert "no vllm:num_requests_running series at all" in r.evidence
    assert "vLLM is not scraped: see scrape.targets" in r.fix


def test_a_running_pod_without_series_fails_and_a_pending_one_is_not_named(h: Harness) -> None:
    """A Running vLLM pod Prometheus has no series for is named; a Pending one (not yet
    serving) is not (generated mutant: `phase == "Running"` -> `>` named nothing)."""
    pods = h.kube.objects[("", "pods")]
    vllm = next(
        p for p in pods if p["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "vllm"
    )
    running, pending = copy.deepcopy(vllm), copy.deepcopy(vllm)
    running["metadata"]["name"] = "vllm-unscraped-running"
    pending["metadata"]["name"] = "vllm-unscraped-pending"
    pending["status"] = {**pending.get("status", {}), "phase": "Pending"}
    h.kube.add(running, pending)
    r = run_one(h, "scrape.series")
    assert r.status is Status.FAIL, r
    assert "no vllm:num_requests_running for vLLM pods " in r.evidence, r.evidence
    assert "vllm-unscraped-running" in r.evidence, r.evidence
    assert "pending" not in r.evidence, r.evidence
    assert "check their targets in scrape.targets" in r.fix


def test_mixed_generation_fleet_warns(h: Harness) -> None:
    pod = h.inst.vllm_pods[0][1]
    h.exporter.old_pods.add(pod)
    h.wait_scraped(f'count(vllm:gpu_cache_usage_perc{{pod="{pod}"}})')
    h.wait_scraped(f'absent(vllm:kv_cache_usage_perc{{pod="{pod}"}})')
    r = run_one(h, "scrape.generation")
    assert r.status is Status.WARN
    assert f"mixed fleet: pods {pod} expose only old names" in r.evidence
    assert r.fix == "upgrade the old replicas so all pods run one vLLM version"


def test_some_pods_escaped_warns(h: Harness) -> None:
    pod = h.inst.vllm_pods[0][1]
    h.exporter.escaped_pods.add(pod)
    h.wait_scraped(f'count(vllm_num_requests_running{{pod="{pod}"}})')
    r = run_one(h, "scrape.escaping")
    assert r.status is Status.WARN
    assert "some vLLM pods are scraped with escaped names" in r.evidence
    assert "prometheus-client>=0.23" in r.fix


# -- rules ----------------------------------------------------------------------------------


def test_missing_rule_group_fails_and_names_the_prometheusrule(h: Harness) -> None:
    groups = rule_groups(h.cfg)
    h.prom.set_rule_groups([g for g in groups if g["name"] != "vllm.saturation"])
    try:
        r = run_one(h, "rules.loaded")
        assert r.status is Status.FAIL
        assert "bundle rule groups not loaded: vllm.saturation" in r.evidence
        assert "PrometheusRule monitoring/vllm-saturation exists: check the operator logs" in r.fix
        h.kube.remove("PrometheusRule", "vllm-saturation", "monitoring")
        r = run_one(h, "rules.loaded")
        assert r.status is Status.FAIL
        assert (
            "PrometheusRule monitoring/vllm-saturation does not exist (sync the "
            "monitoring-config Application)"
        ) in r.fix
    finally:
        h.prom.set_rule_groups(groups)


def test_bundle_alert_firing_warns(h: Harness) -> None:
    h.exporter.xid = 79  # GPUXidErrors has no `for`: a new non-zero XID fires at once
    h.wait_scraped('ALERTS{alertname="GPUXidErrors", alertstate="firing"}')
    r = run_one(h, "alerts.firing")
    assert r.status is Status.WARN
    assert "GPUXidErrors[critical]" in r.evidence
    assert r.fix == "follow each alert's runbook_url (docs/runbooks/<alert>.md)"


# -- alerting -------------------------------------------------------------------------------


def test_alertmanager_without_integrations_fails(h: Harness) -> None:
    url = h.prom.start_alertmanager(
        {"route": {"receiver": "chat"}, "receivers": [{"name": "chat"}]}
    )
    h.kube.backends[("monitoring", "kube-prometheus-stack-alertmanager")] = url
    r = run_one(h, "alerting.config")
    assert r.status is Status.FAIL
    assert "none of its receivers ['chat'] has an integration" in r.evidence
    assert "every alert is dropped" in r.evidence
    assert "create the alertmanager-receivers Secret in monitoring" in r.fix


def test_routed_receiver_without_integration_warns(h: Harness) -> None:
    url = h.prom.start_alertmanager(
        {
            "route": {
                "receiver": "chat",
                "routes": [{"receiver": "pager", "matchers": ['severity="critical"']}],
            },
            "receivers": [
                {"name": "chat", "webhook_configs": [{"url": "http://127.0.0.1:9/chat"}]},
                {"name": "pager"},
            ],
        }
    )
    h.kube.backends[("monitoring", "kube-prometheus-stack-alertmanager")] = url
    r = run_one(h, "alerting.config")
    assert r.status is Status.WARN
    assert "routed receivers without integrations: pager" in r.evidence
    assert r.fix == "alerts routed there are dropped: give them a *_configs entry"


# -- grafana --------------------------------------------------------------------------------


def test_dashboard_not_loaded_fails(h: Harness) -> None:
    assert h.grafana is not None
    uid = h.cfg.dashboards.uid
    model = h.grafana.dashboards.pop(uid)
    try:
        r = run_one(h, "grafana.dashboards")
    finally:
        h.grafana.dashboards[uid] = model
    assert r.status is Status.FAIL
    assert f"dashboards not in Grafana: {model['title']} (uid {uid})" in r.evidence
    assert "grafana_dashboard=1" in r.fix and "searchNamespace: ALL" in r.fix


def test_every_panel_query_failing_fails(h: Harness) -> None:
    broken = BrokenPrometheus()
    try:
        h.kube.backends[("monitoring", "kube-prometheus-stack-prometheus")] = broken.url
        r = run_one(h, "grafana.panels")
    finally:
        broken.stop()
    assert r.status is Status.FAIL
    # names the first panel of the first dashboard, where a reader starts (generated
    # mutant: errors[0] -> errors[-1] named the last)
    first = next(iter(bundle_facts.dashboards(h.cfg).values()))
    title = panel_queries(first)[0].title
    assert r.evidence.startswith(f"every panel query failed: {title}: "), r.evidence
    assert r.fix == "see prometheus.ready"


# -- two exporters on the same GPUs -----------------------------------------------------------


def test_one_exporter_per_gpu_passes(h: Harness) -> None:
    r = run_one(h, "scrape.dcgm_duplicates")
    assert r.status is Status.PASS
    assert r.evidence == "each of 2 GPUs is reported by one exporter"


def test_second_exporter_on_the_same_gpus_warns_and_names_the_one_to_turn_off(bundle) -> None:
    twin = Harness(bundle, gpu_nodes=2, second_dcgm_job="nvidia-dcgm-exporter").start()
    try:
        twin.wait_healthy()
        twin.wait_scraped('count(DCGM_FI_DEV_GPU_UTIL{job="nvidia-dcgm-exporter"}) >= 2')
        r = run_one(twin, "scrape.dcgm_duplicates")
        assert r.status is Status.WARN
        assert r.evidence.startswith(
            "2 of 2 GPUs are reported by 2 exporters (job=dcgm-exporter, "
            "job=nvidia-dcgm-exporter), e.g. GPU-"
        )
        assert "set gpu.dcgm_exporter: gpu-operator in bundle.yaml" in r.fix
        assert "(job=nvidia-dcgm-exporter)" in r.fix
        # GPUs are counted once each (by UUID) where the series count doubles.
        n = twin.prom.query("count(DCGM_FI_DEV_GPU_UTIL)")
        assert n[0]["value"][1] == "4"
        # The cost panel's query prices 2 GPUs, not 4 series (bundle: NVIDIA A10G 1.01 USD/h).
        cost = substitute(Queries(bundle).gpu_cost_per_hour(), {"namespace": ".*", "pod": ".*"})
        assert float(twin.prom.query(cost)[0]["value"][1]) == pytest.approx(2 * 1.01)
        series = run_one(twin, "scrape.series")
        assert "DCGM_FI_DEV_GPU_UTIL for 2 GPUs on 2 nodes" in series.evidence
        # Already on the operator's exporter: the operator's own ServiceMonitor is the extra.
        data = bundle.model_dump(mode="json")
        data["gpu"]["dcgm_exporter"] = "gpu-operator"
        op = run_verify(
            parse_config(data),
            Options(http_timeout=4.0),
            kubeconfig=str(twin.kubeconfig),
            only=["scrape.dcgm_duplicates"],
            check_timeout=8.0,
            total_timeout=25.0,
        ).results[0]
        assert op.status is Status.WARN
        assert "dcgmExporter.serviceMonitor.enabled=false" in op.fix
    finally:
        twin.stop()


def test_watchdog_routed_to_a_receiver_without_integration_fails(h: Harness) -> None:
    url = h.prom.start_alertmanager(
        {
            "route": {
                "receiver": "chat",
                "routes": [{"receiver": "heartbeat", "matchers": ['alertname="Watchdog"']}],
            },
            "receivers": [
                {"name": "chat", "webhook_configs": [{"url": "http://127.0.0.1:9/chat"}]},
                {"name": "heartbeat"},
            ],
        }
    )
    # The Watchdog as Prometheus would deliver it (this Alertmanager is not Prometheus').
    alert = [{"labels": {"alertname": "Watchdog", "severity": "none"}}]
    httpx.post(f"{url}/api/v2/alerts", json=alert, timeout=5).raise_for_status()
    h.kube.backends[("monitoring", "kube-prometheus-stack-alertmanager")] = url
    r = run_one(h, "alerting.watchdog")
    assert r.status is Status.FAIL
    assert r.evidence.startswith(
        "Watchdog reaches nobody: Alertmanager routes it to heartbeat, which has no integration"
    )
    assert r.fix.startswith("set alerting.receivers.heartbeat_webhook_url in bundle.yaml")


def test_the_null_receiver_is_a_deliberate_drop_not_a_quiet_one(h: Harness) -> None:
    """Routing alerts to a receiver named `null` drops them on purpose (the bundle sends
    severity=none there): it is not reported as a routed receiver without integrations."""
    url = h.prom.start_alertmanager(
        {
            "route": {
                "receiver": "chat",
                "routes": [{"receiver": "null", "matchers": ['severity="none"']}],
            },
            "receivers": [
                {"name": "chat", "webhook_configs": [{"url": "http://127.0.0.1:9/chat"}]},
                {"name": "null"},
            ],
        }
    )
    h.kube.backends[("monitoring", "kube-prometheus-stack-alertmanager")] = url
    r = run_one(h, "alerting.config")
    assert r.status is Status.PASS, r
    assert "receivers with integrations: chat" in r.evidence
    assert "without integrations" not in r.evidence


def test_watchdog_not_firing_in_prometheus_fails_while_other_alerts_fire(h: Harness) -> None:
    """Prometheus fires other alerts but no Watchdog (its rule dropped): alerting.watchdog
    fails on the Watchdog itself, not on any alert firing."""
    groups = rule_groups(h.cfg)
    without = [
        {**g, "rules": [r for r in g["rules"] if r.get("alert") != "Watchdog"]} for g in groups
    ]
    without.append({"name": "other", "rules": [{"alert": "VLLMAlwaysFiring", "expr": "vector(1)"}]})
    h.prom.set_rule_groups([g for g in without if g["rules"]])
    try:
        h.wait_scraped('ALERTS{alertname="VLLMAlwaysFiring", alertstate="firing"}')
        h.wait_scraped('absent(ALERTS{alertname="Watchdog"})')
        r = run_one(h, "alerting.watchdog")
        assert r.status is Status.FAIL, r
        assert r.evidence.startswith("Watchdog is not firing in Prometheus"), r.evidence
    finally:
        h.prom.set_rule_groups(groups)
        h.wait_scraped('ALERTS{alertname="Watchdog", alertstate="firing"}')


def test_operator_with_more_ready_replicas_than_wanted_passes(h: Harness) -> None:
    """During a rollout (maxSurge) or a scale-down a Deployment can count more ready
    replicas than it wants: that is ready, not a failure."""
    dep = _deployment(h, "monitoring", "operator")
    dep["status"]["readyReplicas"] = dep["spec"]["replicas"] + 1
    r = run_one(h, "operator.ready")
    assert r.status is Status.PASS, r
    assert "monitoring/kube-prometheus-stack-operator 2/1 ready" in r.evidence


def test_many_unhealthy_bundle_rules_are_counted_and_five_named(h: Harness) -> None:
    """Seven rules of a bundle group failing to evaluate: rules.loaded fails naming five
    of them with their error, so the line stays readable."""
    import json

    from verify_fakes.kube import wait_until

    groups = rule_groups(h.cfg)
    # two series on the right, one match group: fails at every evaluation, whatever is scraped
    dup = 'vector(1) + on() group_left() (vector(1) or label_replace(vector(1), "a", "b", "", ""))'
    ERR = "found duplicate series for the match group"
    bad = {
        "name": groups[0]["name"],
        "rules": [{"record": f"verify_test:dup{i}", "expr": dup} for i in range(7)],
    }
    h.prom.set_rule_groups([bad, *groups[1:]])
    try:
        wait_until(lambda: json.dumps(h.prom_rules()).count(ERR) >= 7, 20, "7 rule errors")
        r = run_one(h, "rules.loaded")
        assert r.status is Status.FAIL, r
        assert r.evidence.startswith(f"rules unhealthy: {bad['name']}/verify_test:dup"), r
        assert r.evidence.count(ERR) == 5, r.evidence
    finally:
        h.prom.set_rule_groups(groups)
