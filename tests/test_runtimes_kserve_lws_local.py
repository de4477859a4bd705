"""KServe and LeaderWorkerSet models locally, for real: one stack serves a KServe
LLMInferenceService model (scraped through a copy of ODH's renaming PodMonitor, so every
series arrives as `kserve_vllm:*` with the `llm_isvc_*` labels and only the bundle's
mapping rules make them `vllm:*`) beside a multi-node LWS model (leaders scraped by the
vLLM ServiceMonitor, workers only in kube-state-metrics). Faults hit both at once and each
must page with plain vLLM's alert names: a KServe pod and an LWS leader crash
(VLLMTargetDown), a KServe pod's KV cache fills (VLLMKVCacheSaturated, through the mapped
gauge), an LWS worker crash-loops (VLLMMultiNodeGroupDegraded for its group only). The
full scenario list per runtime is bench/scenarios.py --runtime."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from observability import runtimes
from observability.config import BundleConfig
from observability.httppool import shared_client
from observability.load.burst import Burst
from observability.local.models import demo_config
from observability.local.stack import LocalStack, StackOptions, with_runtime
from observability.local.webhook import fetch_notifications
from observability.promapi import Prometheus
from observability.runtimes.base import PanelScope
from observability.runtimes.kserve import controller_monitor
from observability.scenarios.catalog import SCENARIOS
from observability.scenarios.run import wait_traffic
from observability.sim.cluster import SimCluster, SimConfig, SimModel, gpu_nodes

KSERVE_KEY = "deepseek-r1-distill-llama-8b"
LWS_KEY = "llama-3-8b-instruct"


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_kserve_and_lws_faults_page_like_vllm(
    bundle: BundleConfig, repo_root: Path, tmp_path: Path
) -> None:
    cfg = with_runtime(with_runtime(bundle, "kserve", KSERVE_KEY), "lws", LWS_KEY)
    # The group alert waits out a pod's load budget from when it was scheduled (the stack's
    # start here): 3m (18 s in the fast profile) is over by the time the worker crashes,
    # as for a group that has served for a while, so it pages after its `for` alone.
    lws = cfg.models[LWS_KEY].model_copy(update={"expected_load_time": "3m"})
    cfg = cfg.model_copy(update={"models": {**cfg.models, LWS_KEY: lws}})
    models = tuple((k, cfg.model_namespace(k)) for k in (KSERVE_KEY, LWS_KEY))
    opts = StackOptions(
        cfg=cfg,
        repo_root=repo_root,
        profile="fast",
        replicas=2,
        models=models,
        state_file=tmp_path / "s.json",
    )
    stack = LocalStack(opts)
    try:
        stack.start()
        reps = {k: [r for r in stack.running.replicas if r.model_key == k] for k in dict(models)}
        kserve_ns = models[0][1]
        ks = [r.pod for r in reps[KSERVE_KEY]]
        leaders = [r.pod for r in reps[LWS_KEY]]
        assert leaders == [f"vllm-{LWS_KEY}-lws-0", f"vllm-{LWS_KEY}-lws-1"]
        worker = f"vllm-{LWS_KEY}-lws-1-1"
        with Prometheus(stack.prometheus_url) as prom:
            jobs = {t["labels"]["pod"]: t["labels"]["job"] for t in stack.targets()}
            assert {jobs[p] for p in ks} == {f"{kserve_ns}/kserve-llm-isvc-vllm-engine"}
            assert {jobs[p] for p in leaders} == {"vllm"}
            assert worker not in jobs  # workers serve no /metrics
            # KServe's pods come in renamed, with KServe's labels, and nothing else
            renamed = prom.query(f'kserve_vllm:num_requests_running{{namespace="{kserve_ns}"}}')
            assert {r["metric"]["pod"] for r in renamed} == set(ks)
            assert {r["metric"]["llm_isvc_name"] for r in renamed} == {KSERVE_KEY}
            assert {r["metric"]["llm_isvc_component"] for r in renamed} == {"workload"}
            # ... and the vllm:* they have are the mapping rules' records, nothing scraped
            recorded = {
                r["name"]
                for g in prom.rule_groups()
                if g["name"] == "vllm.runtimes"
                for r in g["rules"]
                if r["type"] == "recording"
            }
            wait_traffic(stack.running, [*ks, *leaders])
            names = prom.query(
                f'count by (__name__) ({{__name__=~"vllm:.+", job="{jobs[ks[0]]}"}})'
            )
            have = {r["metric"]["__name__"] for r in names}
            assert "vllm:num_requests_running" in have and have <= recorded, have - recorded
            # the LWS row's first panel: each group's size and its ready pods (2 and 2)
            scope = PanelScope(
                matchers=lambda *lbl: ", ".join(f'{x}=~".*"' for x in lbl),
                by=lambda *lbl: ", ".join(lbl),
                rate="1m",
            )
            size, ready = (q for q, _legend in runtimes.get("lws").panels(scope)[0].queries)
            group = "label_leaderworkerset_sigs_k8s_io_group_index"
            for expr in (size, ready):
                got = {r["metric"][group]: r["value"][1] for r in prom.query(expr)}
                assert got == {"0": "2", "1": "2"}, (expr, got)
            mapped = prom.query(
                f'vllm:generation_tokens_total{{namespace="{kserve_ns}", pod=~"{"|".join(ks)}"}}'
            )
            assert {r["metric"]["pod"] for r in mapped} == set(ks)
        kv = SCENARIOS["kv-saturation"]
        faults = [
            ("crash", ks[0], {}),
            ("kv-pressure", ks[1], kv.params),
            ("crash", leaders[0], {}),
            ("crash-loop", worker, {"reason": "Error"}),
        ]
        # what must page, by (alert, pod): the group alert names the worker
        want = {
            ("VLLMTargetDown", ks[0]),
            ("VLLMKVCacheSaturated", ks[1]),
            ("VLLMTargetDown", leaders[0]),
            ("VLLMMultiNodeGroupDegraded", worker),
        }
        t0 = time.time()
        for fault, pod, params in faults:
            shared_client().post(
                f"{stack.admin_url}/faults", json={"fault": fault, "target": pod, "params": params}
            ).raise_for_status()
        seen: dict[tuple[str, str], float] = {}
        groups: set[tuple[str, str]] = set()
        url = next(r.url for r in reps[KSERVE_KEY] if r.pod == ks[1])
        with Burst([(url, reps[KSERVE_KEY][1].model)], kv.burst_users):
            while want - set(seen) and time.time() - t0 < 150:
                time.sleep(1)
                for n in fetch_notifications(stack.running.webhook_url, since=t0):
                    for a in n.alerts:
                        lab = a["labels"]
                        key = (lab["alertname"], lab.get("pod", ""))
                        seen.setdefault(key, n.received_at - t0)
                        if lab["alertname"] == "VLLMMultiNodeGroupDegraded":
                            groups.add((lab.get("group", ""), lab["severity"]))
        for (alert, pod), s in sorted(seen.items(), key=lambda x: x[1]):
            print(f"{alert} {pod}: webhook after {s:.1f}s")
        assert want <= set(seen), f"missing: {want - set(seen)}; seen: {seen}"
        # group 1 only (its worker), a warning: group 0's pods are all ready
        assert groups == {("1", "warning")}
        unexpected = {
            a
            for a, _p in seen
            if a not in {w for w, _ in want} | {"Watchdog", "VLLMRequestPreemptions"}
        }
        assert not unexpected, unexpected
    finally:
        stack.stop()


def _sim(bundle: BundleConfig) -> SimCluster:
    cfg = with_runtime(with_runtime(bundle, "kserve", KSERVE_KEY), "lws", LWS_KEY)
    models = tuple(
        SimModel.from_profile(k, cfg.models[k], cfg.model_namespace(k))
        for k in (KSERVE_KEY, LWS_KEY)
    )
    return SimCluster(SimConfig(models=models, replicas=2, gpus_per_node=4, ksm_port=1))


def test_lws_groups_and_kserve_pods_as_their_controllers_make_them(bundle: BundleConfig) -> None:
    sim = _sim(bundle)
    serving = [(r["pod"], r["container"]) for r in sim.manifest()["replicas"]]
    assert serving[2:] == [
        (f"vllm-{LWS_KEY}-lws-0", "vllm"),
        (f"vllm-{LWS_KEY}-lws-1", "vllm"),
    ]
    assert all(p.startswith(f"{KSERVE_KEY}-kserve-") and c == "main" for p, c in serving[:2])
    # 2 KServe pods + 2 groups of (leader, worker), one GPU each: 6 GPUs on 2 nodes
    assert gpu_nodes(sim.cfg.models, 2, 4) == len(sim.nodes) == 2
    held = {g.pod["pod"]: g.pod["container"] for n in sim.nodes for g in n.gpus if g.pod}
    assert held[f"vllm-{LWS_KEY}-lws-1-1"] == "ray-worker"
    assert len(held) == 6
    labels = {
        s.labels["pod"]: s.labels
        for f in text_string_to_metric_families(sim.ksm.exposition().decode())
        if f.name == "kube_pod_labels"
        for s in f.samples
    }
    assert labels[f"vllm-{LWS_KEY}-lws-1-1"] == {
        "namespace": "vllm-llama",
        "pod": f"vllm-{LWS_KEY}-lws-1-1",
        "uid": labels[f"vllm-{LWS_KEY}-lws-1-1"]["uid"],
        "label_app_kubernetes_io_name": "vllm-ray-worker",
        "label_leaderworkerset_sigs_k8s_io_name": f"vllm-{LWS_KEY}-lws",
        "label_leaderworkerset_sigs_k8s_io_group_index": "1",
        "label_leaderworkerset_sigs_k8s_io_worker_index": "1",
    }
    assert labels[f"vllm-{LWS_KEY}-lws-0"]["label_app_kubernetes_io_instance"] == LWS_KEY
    # KServe sets no app.kubernetes.io/instance (the lifecycle rules find its pods by name)
    kserve = labels[serving[0][0]]
    assert kserve["label_app_kubernetes_io_name"] == KSERVE_KEY
    assert "label_app_kubernetes_io_instance" not in kserve
    # a worker is a fault target (kube-state-metrics' view of it), not a scrape target
    assert f"vllm-{LWS_KEY}-lws-1-1" in sim.faults.replicas


def test_demo_monitor_is_odhs_renaming_monitor_over_http(bundle: BundleConfig) -> None:
    """odh-v3.5 monitoring.go expectedVLLMEngineMonitor with the kserve_$1 relabeling; the
    demo's copy differs only in scheme (the simulator serves no TLS)."""
    mon = controller_monitor("ns", renamed=True)
    ep = mon["spec"]["podMetricsEndpoints"][0]
    assert mon["metadata"]["name"] == "kserve-llm-isvc-vllm-engine"
    assert ep["targetPort"] == 8000 and ep["scheme"] == "https"
    assert ep["tlsConfig"] == {"insecureSkipVerify": True}
    assert ep["metricRelabelings"] == [
        {
            "sourceLabels": ["__name__"],
            "action": "replace",
            "replacement": "kserve_$1",
            "targetLabel": "__name__",
        }
    ]
    assert [r["targetLabel"] for r in ep["relabelings"]] == [
        "llm_isvc_name",
        "llm_isvc_role",
        "llm_isvc_component",
    ]
    assert ep["relabelings"][2]["regex"] == "llminferenceservice-(.*)"
    default = controller_monitor("ns", renamed=False)
    assert default["metadata"]["name"] == "kserve-llm-isvc-vllm-engine-default"
    assert "metricRelabelings" not in default["spec"]["podMetricsEndpoints"][0]
    cfg = demo_config(with_runtime(bundle, "kserve", KSERVE_KEY), ((KSERVE_KEY, "vllm"),))
    assert cfg.runtimes.kserve.controller_monitors is True
    demo = runtimes.get("kserve").demo_monitors(cfg)
    [local] = demo.values()
    local_ep = local["spec"]["podMetricsEndpoints"][0]
    assert local_ep["scheme"] == "http" and "tlsConfig" not in local_ep
    assert {k: v for k, v in local_ep.items() if k != "scheme"} == {
        k: v for k, v in ep.items() if k not in ("scheme", "tlsConfig")
    }
