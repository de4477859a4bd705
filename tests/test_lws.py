"""runtime: lws: a multi-node model on a LeaderWorkerSet renders, lints clean (the vendored
LWS v0.10.0 CRD schema, Pod Security on both templates, the vLLM ServiceMonitor selecting the
leader Service), and its alerts reason per group (promtool: a worker down pages
VLLMMultiNodeGroupDegraded naming the group, a leader down pages VLLMTargetDown, the
lifecycle ready-pod count ignores workers)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from runtimes_helpers import promtool_rules, render_tree

from observability.alerting.rules import rule_groups
from observability.config import ConfigError, parse_config
from observability.lint.runner import run_lint
from observability.runtimes import lws

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load((ROOT / "bundle.yaml").read_text(encoding="utf-8"))
KEY = "llama-3-70b-lws"
MODEL = "meta-llama/Meta-Llama-3-70B-Instruct"
NS = "vllm"
SET = f"vllm-{KEY}-lws"


def lws_data(cluster_label: str = "", keda: bool = False) -> dict:
    data = copy.deepcopy(RAW)
    data["models"][KEY] = {
        "hf_id": MODEL,
        "served_name": MODEL,
        "gpus": 8,
        "nodes": 2,
        "runtime": "lws",
        "expected_load_time": "20m",
        "cost": {"input_per_1k": 0.001, "output_per_1k": 0.002},
    }
    data["vllm"]["deploy"] = [*data["vllm"]["deploy"], KEY]
    if cluster_label:
        data.setdefault("prometheus", {})["cluster_label"] = cluster_label
        data["prometheus"]["cluster_name"] = "gpu-east"
    if keda:
        data["autoscaling"] = {"keda": {"enabled": True}}
    return data


def test_nodes_above_one_needs_runtime_lws() -> None:
    data = lws_data()
    data["models"][KEY]["runtime"] = "vllm"
    with pytest.raises((ConfigError, ValueError), match="nodes: 2 needs runtime lws"):
        parse_config(data)


def test_leaderworkerset_shape_and_schema() -> None:
    cfg = parse_config(lws_data())
    files = lws.LwsRuntime().workload(cfg, KEY)
    obj = files[f"deploy/lws/{KEY}/leaderworkerset.yaml"]
    assert obj["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and obj["kind"] == "LeaderWorkerSet"
    lwt = obj["spec"]["leaderWorkerTemplate"]
    assert lwt["size"] == 2 and obj["spec"]["replicas"] == cfg.vllm.replicas
    (leader,) = lwt["leaderTemplate"]["spec"]["containers"]
    cmd = leader["command"][2]
    assert cmd.startswith("ray start --head --port=6379")
    for flag in (
        "--tensor-parallel-size 8",
        "--pipeline-parallel-size 2",
        "--distributed-executor-backend ray",
    ):
        assert flag in cmd
    (worker,) = lwt["workerTemplate"]["spec"]["containers"]
    assert "ray start --address=$(LWS_LEADER_ADDRESS):6379" in worker["command"][2]
    assert "--block" in worker["command"][2]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 8
    svc = files[f"deploy/lws/{KEY}/service.yaml"]
    assert svc["metadata"]["name"] == f"vllm-{KEY}"
    assert svc["spec"]["selector"][lws.WORKER_INDEX] == "0"
    # the leader template carries the Service's selector once LWS adds its labels; workers not
    (lead, work) = lws.pod_templates(obj)
    sel = svc["spec"]["selector"].items()
    assert sel <= lead[1].items() and not sel <= work[1].items()
    assert "app.kubernetes.io/instance" not in work[1]  # not a model pod to the lifecycle rules


def test_ksm_allowlist_has_the_lws_labels_only_with_an_lws_model() -> None:
    from observability.render.kps_values import ksm_label_allowlist

    plain = ksm_label_allowlist(parse_config(copy.deepcopy(RAW)))
    with_lws = ksm_label_allowlist(parse_config(lws_data()))
    assert not any("leaderworkerset" in e for e in plain)
    pods = next(e for e in with_lws if e.startswith("pods="))
    for label in (lws.SET_NAME, lws.GROUP_INDEX, lws.WORKER_INDEX):
        assert label in pods


@pytest.mark.parametrize(("cluster", "keda"), [("", False), ("cluster", True)])
def test_renders_and_lints_clean(tmp_path: Path, cluster: str, keda: bool) -> None:
    tree, cfg = render_tree(ROOT, tmp_path, lws_data(cluster, keda))
    assert (tree / f"deploy/lws/{KEY}/leaderworkerset.yaml").exists()
    # the LeaderWorkerSet is the model's only workload: no vLLM Deployment overlay beside it
    # (generated mutant: `uses_vllm_deployment = True` rendered both)
    assert not (tree / f"deploy/vllm/overlays/{KEY}").exists()
    synced = "".join(p.read_text() for p in (tree / "argocd/apps").glob("*.yaml"))
    assert f"deploy/vllm/overlays/{KEY}" not in synced and f"deploy/lws/{KEY}" in synced
    apps = (tree / "argocd/apps").glob("*.yaml")
    controller = [p for p in apps if "name: lws\n" in p.read_text()]
    assert controller, "the LWS controller Application"
    text = controller[0].read_text()
    assert "repoURL: registry.k8s.io/lws/charts" in text and "targetRevision: 0.10.0" in text
    report = run_lint(tree, cfg, plugins=())
    assert report.ok, [f.line() for f in report.findings if f.severity == "error"]


def test_lint_rejects_a_misspelt_leaderworkerset_field(tmp_path: Path) -> None:
    tree, cfg = render_tree(ROOT, tmp_path, lws_data())
    path = tree / f"deploy/lws/{KEY}/leaderworkerset.yaml"
    obj = yaml.safe_load(path.read_text())
    obj["spec"]["leaderWorkerTemplate"]["sizes"] = obj["spec"]["leaderWorkerTemplate"].pop("size")
    path.write_text(yaml.safe_dump(obj))
    errors = run_lint(tree, cfg, plugins=()).errors
    assert any("sizes" in f.line() for f in errors), [f.line() for f in errors]


# -- promtool ------------------------------------------------------------------------


def _ksm_pod(pod: str, group: str, worker: str, ready: str, sched: str = "0") -> list[dict]:
    """kube-state-metrics series of one pod of the set (values over 15 s steps)."""
    labels = (
        f'job="kube-state-metrics", namespace="{NS}", pod="{pod}", '
        f'label_leaderworkerset_sigs_k8s_io_name="{SET}", '
        f'label_leaderworkerset_sigs_k8s_io_group_index="{group}", '
        f'label_leaderworkerset_sigs_k8s_io_worker_index="{worker}"'
    )
    extra = ', label_app_kubernetes_io_instance="' + KEY + '"' if worker == "0" else ""
    base = f'job="kube-state-metrics", namespace="{NS}", pod="{pod}"'
    return [
        {"series": f"kube_pod_labels{{{labels}{extra}}}", "values": "1x80"},
        {"series": f'kube_pod_status_ready{{{base}, condition="true"}}', "values": ready},
        {"series": f"kube_pod_status_scheduled_time{{{base}}}", "values": f"{sched}x80"},
    ]


def _promtool(tmp: Path, tests: list[dict]) -> str:
    res = promtool_rules(tmp, rule_groups(parse_config(lws_data())), tests)
    return res.stdout + res.stderr if res.returncode else ""


def _alerts(tmp: Path, series: list[dict], at: str, name: str) -> str:
    """promtool's failure text for 'no alert' (it prints the alerts that did fire)."""
    return _promtool(
        tmp,
        [
            {
                "interval": "15s",
                "input_series": series,
                "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": []}],
            }
        ],
    )


def test_worker_down_pages_the_group_and_only_it(tmp_path: Path) -> None:
    # group 0 healthy; group 1's worker goes unready at 2m, long after its budget
    series = (
        _ksm_pod(f"{SET}-0", "0", "0", "1x80")
        + _ksm_pod(f"{SET}-0-1", "0", "1", "1x80")
        + _ksm_pod(f"{SET}-1", "1", "0", "1x80")
        + _ksm_pod(f"{SET}-1-1", "1", "1", "1x8 0x72", sched="-3600")
    )
    out = _alerts(tmp_path, series, "12m", lws.GROUP_DEGRADED)
    assert 'group="1"' in out and 'reason="worker_not_ready"' in out, out
    assert 'severity="warning"' in out and f'pod="{SET}-1-1"' in out, out  # group 0 serves
    assert 'group="0"' not in out
    # one step before: quiet
    assert _alerts(tmp_path, series, "2m", lws.GROUP_DEGRADED) == ""


def test_worker_down_with_no_other_group_is_critical_and_missing_pod_counts(tmp_path: Path) -> None:
    series = _ksm_pod(f"{SET}-0", "0", "0", "1x80") + _ksm_pod(
        f"{SET}-0-1", "0", "1", "0x80", sched="-3600"
    )
    out = _alerts(tmp_path, series, "12m", lws.GROUP_DEGRADED)
    assert 'severity="critical"' in out and 'group="0"' in out, out
    # a group with its worker gone entirely (only the leader's series)
    out = _alerts(tmp_path, _ksm_pod(f"{SET}-0", "0", "0", "1x80"), "12m", lws.GROUP_DEGRADED)
    assert 'reason="pods_missing"' in out and 'severity="critical"' in out, out


def _pending(pod: str, group: str, worker: str) -> list[dict]:
    """A pod the scheduler never placed: kube-state-metrics shows its labels but no
    kube_pod_status_ready (no Ready condition yet) and no scheduled time."""
    return [s for s in _ksm_pod(pod, group, worker, "1x80") if "kube_pod_labels" in s["series"]]


def test_pending_worker_breaks_its_group(tmp_path: Path) -> None:
    """A worker that cannot be scheduled (no free GPU) has no Ready series at all: the group
    is degraded (a warning while group 0 is whole), and a group can never count as whole
    with it (critical when it is the only group)."""
    whole = _ksm_pod(f"{SET}-0", "0", "0", "1x80") + _ksm_pod(f"{SET}-0-1", "0", "1", "1x80")
    series = whole + _ksm_pod(f"{SET}-1", "1", "0", "1x80") + _pending(f"{SET}-1-1", "1", "1")
    out = _alerts(tmp_path, series, "12m", lws.GROUP_DEGRADED)
    assert 'group="1"' in out and f'pod="{SET}-1-1"' in out, out
    assert 'severity="warning"' in out and 'group="0"' not in out, out
    alone = _ksm_pod(f"{SET}-0", "0", "0", "1x80") + _pending(f"{SET}-0-1", "0", "1")
    out = _alerts(tmp_path, alone, "12m", lws.GROUP_DEGRADED)
    assert 'severity="critical"' in out and 'reason="worker_not_ready"' in out, out
    assert 'severity="warning"' not in out, out


def test_worker_inside_its_load_budget_is_quiet(tmp_path: Path) -> None:
    # scheduled at t=0 with a 20m budget: not ready at 12m is still starting
    series = _ksm_pod(f"{SET}-0", "0", "0", "0x80") + _ksm_pod(f"{SET}-0-1", "0", "1", "0x80")
    assert _alerts(tmp_path, series, "12m", lws.GROUP_DEGRADED) == ""


def test_leader_down_pages_target_down_and_workers_are_not_model_pods(tmp_path: Path) -> None:
    up = f'up{{job="vllm", namespace="{NS}", pod="{SET}-0", service="vllm-{KEY}"}}'
    series = [{"series": up, "values": "1x4 0x76"}]
    out = _alerts(tmp_path, series, "12m", "VLLMTargetDown")
    assert f'pod="{SET}-0"' in out, out
    # ready workers never count as ready pods of the model: with the leader unready, the
    # lifecycle's ready-pod count stays empty (no "other replicas still serve")
    series = _ksm_pod(f"{SET}-0", "0", "0", "0x80") + _ksm_pod(f"{SET}-0-1", "0", "1", "1x80")
    tests = [
        {
            "interval": "15s",
            "input_series": series,
            "promql_expr_test": [
                {
                    "expr": "namespace_model_name:kube_pod_status_ready:sum",
                    "eval_time": "5m",
                    "exp_samples": [
                        {
                            "labels": "namespace_model_name:kube_pod_status_ready:sum"
                            f'{{namespace="{NS}", model_name="{MODEL}"}}',
                            "value": 0,
                        }
                    ],
                }
            ],
        }
    ]
    assert _promtool(tmp_path, tests) == ""


def test_engine_pods_get_the_deployments_grace_period() -> None:
    """Leader and worker pods get the vLLM Deployment's terminationGracePeriodSeconds (the
    time in-flight requests get to drain on a rollout; generated mutant: 60 -> 59 in the
    LWS pod spec)."""
    cfg = parse_config(lws_data())
    obj = lws.LwsRuntime().workload(cfg, KEY)[f"deploy/lws/{KEY}/leaderworkerset.yaml"]
    base = yaml.safe_load((ROOT / "deploy/vllm/base/deployment.yaml").read_text(encoding="utf-8"))
    want = base["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    lwt = obj["spec"]["leaderWorkerTemplate"]
    for template in ("leaderTemplate", "workerTemplate"):
        assert lwt[template]["spec"]["terminationGracePeriodSeconds"] == want, template
