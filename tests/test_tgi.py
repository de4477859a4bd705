"""runtime: tgi: the reference workload, the monitor, and the simulator's TGI exposition
checked against the catalog read from TGI 3.3.7's source (names, types, buckets)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import sim_config

from observability.config import parse_config
from observability.httppool import shared_client
from observability.local.stack import demo_models, with_runtime, with_runtime_monitors
from observability.metrics.catalog import runtime_catalog
from observability.runtimes import tgi
from observability.sim import SimModel
from observability.sim.cluster import SimThread

RAW = yaml.safe_load((Path(__file__).resolve().parent.parent / "bundle.yaml").read_text())
KEY = "mistral-7b-instruct-tgi"


def test_workload_is_a_pinned_tgi_deployment_and_service(bundle):
    files = tgi.TgiRuntime().workload(bundle, KEY)
    dep = files[f"deploy/tgi/{KEY}/deployment.yaml"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "ghcr.io/huggingface/text-generation-inference:3.3.7"
    assert c["args"][:4] == ["--model-id", "mistralai/Mistral-7B-Instruct-v0.3", "--port", "8080"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    labels = {
        "app.kubernetes.io/name": "tgi",
        "app.kubernetes.io/instance": KEY,
        "app.kubernetes.io/part-of": "vllm-observability",
    }
    assert dep["spec"]["template"]["metadata"]["labels"] == labels
    svc = files[f"deploy/tgi/{KEY}/service.yaml"]
    assert svc["metadata"]["name"] == f"tgi-{KEY}" and svc["spec"]["selector"] == labels


def test_monitor_rendered_once_a_deployed_model_runs_on_tgi(bundle):
    rt = tgi.TgiRuntime()
    assert rt.monitors(bundle) == {}  # registered only: nothing would be selected
    data = copy.deepcopy(RAW)
    data["vllm"]["deploy"].append(KEY)
    mon = rt.monitors(parse_config(data))["tgi.yaml"]
    assert mon["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "tgi",
        "app.kubernetes.io/part-of": "vllm-observability",
    }
    assert mon["spec"]["endpoints"][0]["port"] == "http"
    assert rt.demo_monitors(bundle)["tgi.yaml"] == mon
    # only the TGI models' namespaces: a RayService model elsewhere is not selected by it
    # (generated mutant: `m.runtime == "tgi"` -> `<=` selected "rayservice" < "tgi" too)
    data["models"]["deepseek-r1-distill-llama-8b"].update(namespace="team-b", runtime="rayservice")
    mon = rt.monitors(parse_config(data))["tgi.yaml"]
    assert mon["spec"]["namespaceSelector"] == {"matchNames": ["vllm"]}


def test_demo_runtime_tgi_serves_the_first_model_on_tgi_and_scrapes_it(bundle):
    cfg = with_runtime(bundle, "tgi")  # obsctl demo --runtime tgi
    first = demo_models(bundle)[0][0]
    assert cfg.models[first].runtime == "tgi"
    assert SimModel.from_profile(first, cfg.models[first], "vllm").workload == "tgi"
    names = {m["metadata"]["name"] for m in with_runtime_monitors(cfg, [])}
    assert "tgi" in names


@pytest.fixture(scope="module")
def exposition() -> str:
    cfg = sim_config((SimModel(KEY, KEY, runtime="tgi", max_model_len=4096),), time_scale=0.02)
    with SimThread(cfg) as sim:
        url = f"http://127.0.0.1:{sim.manifest['replicas'][0]['port']}"
        for _ in range(3):
            r = shared_client().post(
                f"{url}/v1/completions",
                json={"model": KEY, "prompt": "hello " * 20, "max_tokens": 16},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        return shared_client().get(f"{url}/metrics", timeout=10).text


def test_sim_serves_tgi_names_types_and_buckets_from_the_catalog(exposition):
    cat = runtime_catalog(tgi.CATALOG_FILE)
    fams = {f.name: f for f in text_string_to_metric_families(exposition)}
    # counters keep their names (no _total), as metrics-exporter-prometheus writes them
    assert "tgi_request_count " in exposition and "_total" not in exposition
    assert not [line for line in exposition.splitlines() if line.startswith("vllm:")]
    for name in ("tgi_request_success", "tgi_queue_size", "tgi_batch_current_size"):
        assert name in fams, name
    assert fams["tgi_request_success"].samples[0].value == 3
    for name in ("tgi_request_duration", "tgi_request_mean_time_per_token_duration"):
        fam = fams[name]
        assert fam.type == cat.families[name].type == "histogram"
        bounds = [float(s.labels["le"]) for s in fam.samples if s.name.endswith("_bucket")]
        assert bounds[:-1] == list(cat.families[name].buckets or ())
        assert bounds[-1] == float("inf") and len(bounds) == 36
    lengths = [
        float(s.labels["le"])
        for s in fams["tgi_request_input_length"].samples
        if s.name.endswith("_bucket")
    ]
    assert lengths[0] == 4095 / 100 and lengths[99] == pytest.approx(4095)


def test_catalog_duration_buckets_are_tgi_geometric_series():
    b = runtime_catalog(tgi.CATALOG_FILE).families["tgi_request_duration"].buckets or ()
    assert len(b) == 35
    assert b[0] == 0.00015000000000000001 and b[14 - 1] == 0.029192926025390625
