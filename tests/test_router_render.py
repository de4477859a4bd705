"""gateway.inference_pool renders a ServiceMonitor for the endpoint picker with bearer-token
auth (and, for a ServiceAccount token, the Secret and the RBAC the EPP's authz checks), the
vllm.router rules and the pool's inhibitions; every token source lints clean beside other
options; off, it renders nothing of it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from runtimes_helpers import render_tree

from observability.alerting import router
from observability.alerting.alertmanager import alertmanager_config
from observability.alerting.rules import rule_groups
from observability.config import ConfigError, parse_config
from observability.lint.runner import run_lint
from observability.render.registry import render_objects
from observability.render.router import MONITOR, READER_FILE
from observability.render.router_chart import POOL_POD_LABEL, ROUTER_APP

ROOT = Path(__file__).resolve().parent.parent
RAW = yaml.safe_load((ROOT / "bundle.yaml").read_text(encoding="utf-8"))
KEY = next(iter(RAW["vllm"]["deploy"]))


def pool_data(source: str = "service-account", cluster: str = "", **pool) -> dict:
    data = copy.deepcopy(RAW)
    data["gateway"] = {"inference_pool": {"enabled": True, "auth": {"source": source}, **pool}}
    data["models"][KEY]["inference_pool"] = "vllm-pool"
    data["models"][KEY].pop("namespace", None)
    if cluster:
        data["prometheus"]["cluster_label"] = cluster
        data["prometheus"]["cluster_name"] = "gpu-east"
    return data


def test_off_renders_nothing_of_the_router() -> None:
    cfg = parse_config(copy.deepcopy(RAW))
    out = render_objects(cfg)
    assert not [p for p in out if "epp" in p or "router" in p]
    assert router.GROUP not in {g["name"] for g in rule_groups(cfg)}


def test_monitor_sends_the_token_and_labels_the_pool() -> None:
    cfg = parse_config(pool_data(epp={"namespace": "llm-d", "name": "router-epp"}))
    out = render_objects(cfg)
    mon = out[f"servicemonitors/{MONITOR}.yaml"]
    spec = mon["spec"]
    assert spec["namespaceSelector"] == {"matchNames": ["llm-d"]}
    assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "router-epp"}}
    (ep,) = spec["endpoints"]
    assert ep["port"] == "http-metrics" and ep["path"] == "/metrics"
    assert ep["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "epp-metrics-reader-token", "key": "token"},
    }
    relabel = {r["targetLabel"]: r.get("replacement") for r in ep["relabelings"]}
    assert relabel["job"] == "inference-pool-epp" and relabel["inference_pool"] == "vllm-pool"
    # the token's identity, allowed exactly `get /metrics` (what the EPP's SubjectAccessReview asks)
    objs = {o["kind"]: o for o in out[f"servicemonitors/{READER_FILE}"]}
    assert objs["Secret"]["type"] == "kubernetes.io/service-account-token"
    assert objs["Secret"]["metadata"]["namespace"] == cfg.namespaces.monitoring
    sa = objs["Secret"]["metadata"]["annotations"]["kubernetes.io/service-account.name"]
    assert sa == objs["ServiceAccount"]["metadata"]["name"] == "epp-metrics-reader"
    assert objs["ClusterRole"]["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]
    binding = objs["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == objs["ClusterRole"]["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa, "namespace": cfg.namespaces.monitoring}
    ]
    kust = out["servicemonitors/kustomization.yaml"]["resources"]
    assert f"{MONITOR}.yaml" in kust and READER_FILE in kust


@pytest.mark.parametrize(
    ("source", "auth", "reader"), [("secret", True, False), ("none", False, False)]
)
def test_other_token_sources(source: str, auth: bool, reader: bool) -> None:
    out = render_objects(parse_config(pool_data(source)))
    (ep,) = out[f"servicemonitors/{MONITOR}.yaml"]["spec"]["endpoints"]
    assert ("authorization" in ep) is auth
    assert (f"servicemonitors/{READER_FILE}" in out) is reader


def test_inhibitions_and_grouping_by_pool() -> None:
    am = alertmanager_config(parse_config(pool_data()))
    assert "inference_pool" in am["route"]["group_by"]
    by_source = {r["source_matchers"][0]: r for r in am["inhibit_rules"]}
    down = by_source[f'alertname="{router.EPP_DOWN}"']
    assert down["equal"] == ["namespace", "inference_pool"]
    muted = down["target_matchers"][0]
    assert router.NO_READY in muted and router.EPP_DOWN not in muted
    no_ready = by_source[f'alertname="{router.NO_READY}"']["target_matchers"][0]
    assert router.ERRORS in no_ready and router.TTFT in no_ready
    off = alertmanager_config(parse_config(copy.deepcopy(RAW)))
    assert "inference_pool" not in off["route"]["group_by"]


def test_disaggregation_alerts_only_for_a_pd_pool() -> None:
    def names(data: dict) -> set[str]:
        groups = rule_groups(parse_config(data))
        return {r.get("alert") for g in groups if g["name"] == router.GROUP for r in g["rules"]}

    assert router.DISAGG not in names(pool_data())
    assert {router.DISAGG, router.NIXL} <= names(pool_data(disaggregation=True))


@pytest.mark.parametrize(
    ("source", "cluster", "pd"),
    [("service-account", "", True), ("secret", "cluster", False), ("none", "", False)],
)
def test_renders_and_lints_clean(tmp_path: Path, source: str, cluster: str, pd: bool) -> None:
    tree, cfg = render_tree(ROOT, tmp_path, pool_data(source, cluster, disaggregation=pd))
    assert (tree / "alerts/vllm-router.yaml").is_file()
    # every plugin (promtool, dashboards) once; the manifest checks for the other sources
    report = run_lint(tree, cfg) if pd else run_lint(tree, cfg, plugins=())
    assert report.ok, [f.line() for f in report.findings if f.severity == "error"]


# -- the router chart (gateway.inference_pool.install: chart) ------------------------------
def _router_app(out: dict) -> dict:
    return out[f"argocd/apps/{ROUTER_APP}.yaml"]


def test_existing_installation_renders_no_router_application() -> None:
    out = render_objects(parse_config(pool_data()))
    assert f"argocd/apps/{ROUTER_APP}.yaml" not in out
    assert parse_config(pool_data()).pool.install == "existing"


@pytest.mark.parametrize(("source", "auth"), [("service-account", True), ("none", False)])
def test_chart_application_pins_the_chart_and_matches_the_monitor(source: str, auth: bool) -> None:
    cfg = parse_config(pool_data(source, install="chart"))
    out = render_objects(cfg)
    app = _router_app(out)
    src = app["spec"]["source"]
    assert (src["repoURL"], src["chart"], src["targetRevision"]) == (
        "ghcr.io/llm-d/charts",
        "llm-d-router-gateway",
        "v0.10.0",
    )
    # release = the pool's name: the chart's InferencePool `vllm-pool`, Service `vllm-pool-epp`
    assert src["helm"]["releaseName"] == cfg.pool.name
    assert cfg.epp_service == f"{cfg.pool.name}-epp"
    ns = cfg.pool_namespace
    assert app["spec"]["destination"]["namespace"] == ns == cfg.epp_namespace
    router_values = src["helm"]["valuesObject"]["router"]
    # the chart's own monitor off (the bundle's scrapes once); its auth as the monitor's
    assert router_values["monitoring"]["prometheus"] == {
        "enabled": False,
        "auth": {"enabled": auth},
    }
    mon = out[f"servicemonitors/{MONITOR}.yaml"]["spec"]
    (ep,) = mon["endpoints"]
    assert ("authorization" in ep) is auth
    assert ep["port"] == "http-metrics" and mon["namespaceSelector"]["matchNames"] == [ns]
    # the pool selects its member models' pods, which carry its label, on the vLLM port
    assert router_values["modelServers"] == {
        "matchLabels": {POOL_POD_LABEL: "vllm-pool"},
        "targetPorts": [{"number": cfg.vllm.port}],
    }
    kust = out[f"deploy/vllm/overlays/{KEY}/kustomization.yaml"]
    assert {"pairs": {POOL_POD_LABEL: "vllm-pool"}, "includeTemplates": True} in kust["labels"]
    others = [
        k for k in cfg.models if k != KEY and f"deploy/vllm/overlays/{k}/kustomization.yaml" in out
    ]
    for k in others:
        text = yaml.safe_dump(out[f"deploy/vllm/overlays/{k}/kustomization.yaml"])
        assert POOL_POD_LABEL not in text, k
    # the EPP polls its endpoints' /metrics: the vLLM NetworkPolicy lets its namespace in
    froms = out["deploy/vllm/base/networkpolicy.yaml"]["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} in froms


def test_chart_install_lints_clean_and_its_values_are_checked(tmp_path: Path) -> None:
    """Against the vendored v0.10.0 values (gateway chart + routerlib as `router`): clean,
    not even the no-vendored-defaults warning; a misspelt key is an error."""
    tree, cfg = render_tree(ROOT, tmp_path, pool_data("secret", install="chart"))
    report = run_lint(tree, cfg, plugins=("helm-values",))
    assert report.ok, [f.line() for f in report.findings if f.severity == "error"]
    assert not [f.line() for f in report.findings if f.check == "helm-values"]
    path = tree / "argocd" / "apps" / f"{ROUTER_APP}.yaml"
    app = yaml.safe_load(path.read_text(encoding="utf-8"))
    app["spec"]["source"]["helm"]["valuesObject"]["router"]["monitoring"]["prometheus"]["authn"] = {
        "enabled": True
    }
    path.write_text(yaml.safe_dump(app), encoding="utf-8")
    bad = run_lint(tree, cfg, plugins=("helm-values",))
    assert any(
        f.check == "helm-values" and "router.monitoring.prometheus.authn" in f.message
        for f in bad.findings
    ), [f.line() for f in bad.findings]


@pytest.mark.parametrize(
    "epp",
    [{"name": "router-epp"}, {"namespace": "llm-d"}, {"port_name": "metrics"}, {"port": 9091}],
)
def test_chart_install_refuses_an_epp_the_chart_does_not_name(epp: dict) -> None:
    with pytest.raises(ConfigError, match="install: chart renders llm-d-router's chart"):
        parse_config(pool_data(install="chart", epp=epp))
    parse_config(pool_data(epp=epp))  # an existing installation may name it anything
