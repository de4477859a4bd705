"""models.<key>.runtime: config, the RayService workload, its PodMonitor and the mapping
of Ray's exported names onto the normalised vLLM names every rule reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from runtimes_helpers import (
    AIBRIX_KEY,
    RAY_KEY,
    VLLM_KEY,
    keda_data,
    render_tree,
    runtimes_data,
)
from typer.testing import CliRunner

from observability.alerting.rules import rule_groups
from observability.alerting.targets import job_matches, vllm_up
from observability.cli import app
from observability.config import ConfigError, load_config, parse_config
from observability.lint.runner import run_lint
from observability.metrics.catalog import runtime_catalog
from observability.render.registry import check, render_all


@pytest.fixture(scope="module")
def rendered(repo_root: Path, tmp_path_factory: pytest.TempPathFactory):
    return render_tree(repo_root, tmp_path_factory.mktemp("runtimes"), keda_data(repo_root))


def _load(tree: Path, rel: str) -> dict:
    return yaml.safe_load((tree / rel).read_text(encoding="utf-8"))


def test_runtime_defaults_to_vllm(bundle) -> None:
    # every model but the registry's TGI example runs on the default runtime
    assert {k: m.runtime for k, m in bundle.models.items() if m.runtime != "vllm"} == {
        "mistral-7b-instruct-tgi": "tgi"
    }
    assert bundle.runtimes_in_use == ["vllm", "tgi"]


def test_unknown_runtime_is_one_line_naming_the_key(repo_root: Path) -> None:
    data = runtimes_data(repo_root)
    data["models"][RAY_KEY]["runtime"] = "triton"
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"models.{RAY_KEY}.runtime" in msg and "'rayservice'" in msg


def test_render_cli_exit_2_on_unknown_runtime(repo_root: Path, tmp_path: Path) -> None:
    data = runtimes_data(repo_root)
    data["models"][RAY_KEY]["runtime"] = "triton"
    (tmp_path / "bundle.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    res = CliRunner().invoke(app, ["render", "--config", str(tmp_path / "bundle.yaml")])
    assert res.exit_code == 2
    assert "runtime" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "argocd").exists()


def test_rayservice_workload(rendered) -> None:
    tree, _cfg = rendered
    rs = _load(tree, f"deploy/rayservice/{RAY_KEY}/rayservice.yaml")
    kust = _load(tree, f"deploy/rayservice/{RAY_KEY}/kustomization.yaml")
    assert (rs["apiVersion"], rs["kind"]) == ("ray.io/v1", "RayService")
    assert kust["namespace"] == "vllm-llama"
    ray = rs["spec"]["rayClusterConfig"]
    head = ray["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    # KubeRay submits serveConfigV2 to the dashboard through the head's port named
    # `dashboard`; Ray listens on its default 8265 unless rayStartParams set dashboard-port.
    head_ports = {
        p["name"]: p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]
    }
    assert "dashboard-port" not in head["rayStartParams"]
    assert head_ports["dashboard"] == 8265
    assert "nvidia.com/gpu" not in head["template"]["spec"]["containers"][0]["resources"]["limits"]
    (workers,) = ray["workerGroupSpecs"]
    pod = workers["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"] == "rayproject/ray-llm:2.58.0-py312-cu130"
    assert container["env"][0] == {
        "name": "HF_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}},
    }
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert (workers["minReplicas"], workers["maxReplicas"]) == (1, 4)
    serve = yaml.safe_load(rs["spec"]["serveConfigV2"])
    (application,) = serve["applications"]
    # named after the served model: Serve's proxy counters carry it as `application`,
    # and the error ratio reads it as model_name
    assert application["name"] == "meta-llama/Meta-Llama-3-8B-Instruct"
    (llm,) = application["args"]["llm_configs"]
    assert llm["model_loading_config"] == {
        "model_id": "meta-llama/Meta-Llama-3-8B-Instruct",
        "model_source": "meta-llama/Meta-Llama-3-8B-Instruct",
    }
    assert llm["log_engine_metrics"] is True  # without it Ray exports no ray_vllm:* series
    assert llm["engine_kwargs"]["max_model_len"] == 8192
    app_ = _load(tree, f"argocd/apps/vllm-{RAY_KEY}.yaml")
    assert app_["spec"]["source"]["path"] == f"deploy/rayservice/{RAY_KEY}"
    assert "SkipDryRunOnMissingResource=true" in app_["spec"]["syncPolicy"]["syncOptions"]
    op = _load(tree, "argocd/apps/kuberay-operator.yaml")
    assert (op["spec"]["source"]["chart"], op["spec"]["source"]["targetRevision"]) == (
        "kuberay-operator",
        "1.4.2",
    )
    # The plain vLLM overlay is not rendered for a RayService model.
    assert not (tree / f"deploy/vllm/overlays/{RAY_KEY}").exists()
    assert (tree / f"deploy/vllm/overlays/{VLLM_KEY}/kustomization.yaml").is_file()


def test_pod_monitor_scrapes_head_and_workers_on_8080(rendered) -> None:
    tree, _cfg = rendered
    pm = _load(tree, "servicemonitors/ray-vllm.yaml")
    assert pm["kind"] == "PodMonitor"
    assert pm["spec"]["namespaceSelector"] == {"matchNames": ["vllm-llama"]}
    assert pm["spec"]["selector"]["matchLabels"]["ray.io/is-ray-node"] == "yes"
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert "ray-vllm.yaml" in _load(tree, "servicemonitors/kustomization.yaml")["resources"]


def test_mapping_records_every_signal_ray_forwards(rendered) -> None:
    _tree, cfg = rendered
    (group,) = [g for g in rule_groups(cfg) if g["name"] == "vllm.runtimes"]
    # Ray's sources of each recorded name: where the TGI model maps onto the same name the
    # rule is `(ray_... or ray_...) or (tgi ...)`; Ray's alternatives come first.
    rules = {
        r["record"]: [s.strip("()") for s in re.split(r"\s+or\s+", r["expr"]) if "ray_" in s]
        for r in group["rules"]
        if "record" in r and r["expr"].lstrip("(").startswith("ray_")
    }
    # Both naming generations, newest first (Ray >= 2.50 with vLLM >= 0.11, then 2.49/0.10).
    assert rules["vllm:num_requests_waiting"] == [
        "ray_vllm_num_requests_waiting",
        "ray_vllm:num_requests_waiting",
    ]
    # A counter: OpenTelemetry's `_total`, Ray issue #59072's bare gauge, 2.49's `_total`
    # (not 2.49's deprecated bare twin: its `_total` is always there).
    assert rules["vllm:num_preemptions_total"] == [
        "ray_vllm_num_preemptions_total",
        "ray_vllm_num_preemptions",
        "ray_vllm:num_preemptions_total",
    ]
    for suffix in ("_bucket", "_sum", "_count"):
        name = "vllm:time_to_first_token_seconds" + suffix
        assert rules[name] == ["ray_vllm_time_to_first_token_seconds" + suffix, "ray_" + name]
    # ITL: vLLM 0.26.0 (ray-llm 2.58.0) has the new name, 0.10.1 (2.49.2) only the old one.
    assert rules["vllm:inter_token_latency_seconds_bucket"] == [
        "ray_vllm_inter_token_latency_seconds_bucket"
    ]
    assert rules["vllm:time_per_output_token_seconds_bucket"] == [
        "ray_vllm:time_per_output_token_seconds_bucket"
    ]
    # HTTP metrics are vLLM API-server metrics: Ray Serve answers HTTP, nothing to map.
    assert "http_requests_total" not in rules
    ray = runtime_catalog("ray-2.49.2.json").series_names()
    ray |= runtime_catalog("ray-2.58.0.json").series_names()
    assert all(src in ray for srcs in rules.values() for src in srcs)


def test_target_down_covers_the_pod_monitor_job(rendered) -> None:
    _tree, cfg = rendered
    sel = vllm_up(cfg)
    # The operator's job for a PodMonitor without jobLabel: <namespace>/<name>.
    assert job_matches(sel, "monitoring/ray-vllm") and job_matches(sel, "vllm")
    assert not job_matches(sel, "monitoring/ray-vll")


def test_default_bundle_renders_only_the_tgi_mapping(bundle) -> None:
    (group,) = [g for g in rule_groups(bundle) if g["name"] == "vllm.runtimes"]
    assert all("tgi_" in r["expr"] and "ray_" not in r["expr"] for r in group["rules"])
    assert vllm_up(bundle) == 'up{job=~"vllm|tgi"}'


def test_runtimes_bundle_lints_clean_and_passes_render_check(rendered) -> None:
    tree, cfg = rendered
    report = run_lint(tree, cfg, plugins=())
    assert report.ok, [f.line() for f in report.findings]
    assert check(render_all(load_config(tree / "bundle.yaml")), tree).clean


def test_lint_finds_a_pod_monitor_that_selects_no_ray_pod(rendered, tmp_path: Path) -> None:
    tree, cfg = rendered
    broken = tmp_path / "broken"
    import shutil

    shutil.copytree(tree, broken)
    path = broken / "servicemonitors/ray-vllm.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["spec"]["selector"]["matchLabels"]["ray.io/is-ray-node"] = "true"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    errors = run_lint(broken, cfg, plugins=()).errors
    hits = [f for f in errors if f.check == "crossref" and f.field == "spec.selector"]
    assert len(hits) == 1 and "matches no pod" in hits[0].message, [f.line() for f in errors]


def test_keda_scaled_object_app_and_alerts(rendered) -> None:
    tree, cfg = rendered
    d = f"deploy/vllm/overlays/{VLLM_KEY}"
    so = _load(tree, f"{d}/scaledobject.yaml")
    assert so["kind"] == "ScaledObject"
    assert "scaledobject.yaml" in _load(tree, f"{d}/kustomization.yaml")["resources"]
    assert so["spec"]["cooldownPeriod"] == 300
    # No ScaledObject for the RayService model: its CRD has no scale subresource.
    assert not list(tree.glob(f"deploy/rayservice/{RAY_KEY}/scaledobject.yaml"))
    keda = _load(tree, "argocd/apps/keda.yaml")
    assert (keda["spec"]["source"]["chart"], keda["spec"]["source"]["targetRevision"]) == (
        "keda",
        "2.17.2",
    )
    app_ = _load(tree, f"argocd/apps/vllm-{VLLM_KEY}.yaml")
    assert app_["spec"]["ignoreDifferences"][0]["jsonPointers"] == ["/spec/replicas"]
    (group,) = [g for g in rule_groups(cfg) if g["name"] == "vllm.autoscaling"]
    alerts = [r for r in group["rules"] if "alert" in r]
    assert {r["alert"] for r in alerts} == {"VLLMAutoscalerAtMax", "KEDAScalerErrors"}
    at_max = next(r for r in alerts if r["alert"] == "VLLMAutoscalerAtMax")
    assert 'horizontalpodautoscaler="keda-hpa-vllm-deepseek-r1-distill-llama-8b"' in at_max["expr"]
    assert "> 32" in at_max["expr"]  # max_replicas 4 x waiting_per_replica 8
    assert at_max["labels"]["model_name"] == "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"


def test_aibrix_labels_service_and_monitors(rendered) -> None:
    tree, cfg = rendered
    kust = _load(tree, f"deploy/vllm/overlays/{AIBRIX_KEY}/kustomization.yaml")
    pairs = kust["labels"][1]["pairs"]
    assert pairs == {
        "model.aibrix.ai/name": AIBRIX_KEY,
        "model.aibrix.ai/port": "8000",
        "model.aibrix.ai/engine": "vllm",
        "model.aibrix.ai/metric-port": "8000",
    }
    assert kust["labels"][1].get("includeSelectors") is not True  # selectors are immutable
    svc = _load(tree, f"deploy/aibrix/{AIBRIX_KEY}/service.yaml")
    assert svc["metadata"]["name"] == AIBRIX_KEY  # AIBrix routes to the Service of that name
    app_ = _load(tree, f"argocd/apps/vllm-{AIBRIX_KEY}.yaml")
    assert app_["spec"]["source"]["path"] == f"deploy/aibrix/{AIBRIX_KEY}"
    gw = _load(tree, "servicemonitors/aibrix-gateway-plugins.yaml")
    assert gw["spec"]["selector"]["matchLabels"] == {"app": "gateway-plugins"}
    assert gw["spec"]["namespaceSelector"] == {"matchNames": ["aibrix-system"]}
    assert gw["spec"]["endpoints"][0]["port"] == "metrics"
    ctl = _load(tree, "servicemonitors/aibrix-controller-manager.yaml")
    assert ctl["spec"]["endpoints"][0]["port"] == "http"
    (group,) = [g for g in rule_groups(cfg) if g["name"] == "vllm.runtimes"]
    down = [r for r in group["rules"] if r.get("alert") == "AIBrixComponentDown"]
    assert {r["labels"]["component"] for r in down} == {"gateway-plugins", "controller-manager"}
    assert any('up{job="aibrix-gateway-plugins"} == 0' in r["expr"] for r in down)


def test_aibrix_needs_a_served_name_that_is_a_service_name(repo_root: Path) -> None:
    data = runtimes_data(repo_root)
    data["models"][AIBRIX_KEY]["served_name"] = "Qwen/Qwen2.5-7B-Instruct"
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert "model.aibrix.ai/name" in str(err.value) and "\n" not in str(err.value)


def test_runtime_rows_only_where_used(rendered, bundle) -> None:
    from observability.dashboards.single_pane import rows

    _tree, cfg = rendered
    titles = [t for t, _ in rows(cfg)]
    assert titles[-3:] == ["Ray Serve", "AIBrix gateway", "Autoscaling (KEDA)"]
    assert not {"Ray Serve", "AIBrix gateway", "Autoscaling (KEDA)"} & {t for t, _ in rows(bundle)}
    keda = dict(rows(cfg))["Autoscaling (KEDA)"][0]
    exprs = " ".join(q.expr for q in keda.queries)
    assert "kube_horizontalpodautoscaler_status_current_replicas" in exprs
    assert "kube_horizontalpodautoscaler_status_desired_replicas" in exprs
