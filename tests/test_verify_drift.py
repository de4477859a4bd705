"""The drift guard's judgement on real expositions: the simulator's, which follow the
vendored catalogs of each vLLM version and each Ray naming generation."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import MODEL, running_sim, scrape

from observability import runtimes
from observability.config import BundleConfig
from observability.httppool import shared_client
from observability.metrics.catalog import available_vllm_versions, vllm_catalog
from observability.sim.metrics import ReplicaMetrics
from observability.sim.ray import RayServeStats, ray_worker_exposition
from observability.verify.drift import blind_readers, exposed, from_names, summary

RAY = {"2.58.0": "0.26.0", "2.49.2": "0.10.1"}


def _vllm_text(version: str) -> str:
    m = ReplicaMetrics(vllm_catalog(version), "m", {})
    m.gauges_from(1, 0, 0.5)
    return m.exposition().decode()


def _ray_text(ray: str, vllm_text: str) -> str:
    stats = RayServeStats("r1", {"200": 3}, errors=0, ray_version=ray)
    return ray_worker_exposition(vllm_text, "worker-pod", stats).decode()


@pytest.mark.parametrize("version", available_vllm_versions())
def test_every_cataloged_vllm_is_no_drift(bundle: BundleConfig, version: str) -> None:
    seen = exposed(_vllm_text(version))
    assert version in seen.version
    assert blind_readers(bundle, runtimes.get("vllm"), seen) == []


@pytest.mark.parametrize("ray", sorted(RAY))
def test_both_ray_naming_generations_are_no_drift(bundle: BundleConfig, ray: str) -> None:
    seen = exposed(_ray_text(ray, _vllm_text(RAY[ray])))
    assert seen.version == ray  # Ray's Version label
    assert blind_readers(bundle, runtimes.get("rayservice"), seen) == []


def test_ray_without_vllm_families_names_every_blind_engine_alert(bundle: BundleConfig) -> None:
    """Ray >= 2.50 with vLLM < 0.11 exports no vLLM families at all (Ray PR #57201)."""
    seen = exposed(_ray_text("2.58.0", ""))
    blind = blind_readers(bundle, runtimes.get("rayservice"), seen)
    alerts = {b.name: b.missing for b in blind if b.kind == "alert"}
    assert {"VLLMQueueBacklog", "VLLMKVCacheSaturated", "VLLMEngineStalled"} <= set(alerts)
    assert "vllm:num_requests_waiting" in alerts["VLLMQueueBacklog"]
    assert any(b.kind == "panel" for b in blind)


def test_tgi_is_judged_against_what_tgi_exports(bundle: BundleConfig) -> None:
    """TGI has no KV-cache gauge: its KV alerts are not drift; its own names missing are."""
    rt = runtimes.get("tgi")
    full = from_names({"__name__": n} for c in rt.catalogs() for n in c.families)
    assert blind_readers(bundle, rt, full) == []
    assert blind_readers(bundle, rt, from_names([{"__name__": "tgi_batch_current_size"}]))


def test_an_idle_pod_is_told_apart_from_a_serving_one() -> None:
    assert not exposed(_vllm_text("0.33.0")).served
    m = ReplicaMetrics(vllm_catalog("0.33.0"), "m", {})
    m._inc("vllm:request_success_total", 1, finished_reason="stop")
    assert exposed(m.exposition().decode()).served


def test_the_summary_names_up_to_twelve_blind_alerts_and_counts_the_rest(
    bundle: BundleConfig,
) -> None:
    """A vLLM pod exposing none of vLLM's families (every engine alert blind): the FAIL line
    names up to twelve alerts, each with the family it misses first, and counts the others
    as `+N`; the bundle's twelve engine alerts are all named."""
    seen = from_names([{"__name__": "process_cpu_seconds_total"}])
    blind = blind_readers(bundle, runtimes.get("vllm"), seen)
    alerts = [b for b in blind if b.kind == "alert"]
    panels = len(blind) - len(alerts)
    assert len(alerts) >= 12
    text = summary(blind)
    assert text.startswith(f"{len(alerts)} alerts ({alerts[0].name} ({alerts[0].missing[0]}), ")
    more = f", +{len(alerts) - 12}" if len(alerts) > 12 else ""
    assert text.endswith(f"{more}) and {panels} panels"), text
    named = text.split(" alerts (", 1)[1].rsplit(") and ", 1)[0].removesuffix(more)
    assert named.count(" (") == 12, named


@pytest.mark.parametrize("version", ["0.7.3", "0.33.0"])
def test_prometheus_and_the_pod_agree_on_what_is_blind(bundle: BundleConfig, version: str) -> None:
    """Where the pod cannot be reached, Prometheus answers with the series names of a pod
    that served (a histogram as its _bucket, _sum and _count series): the guard judges them
    as it judges the pod's own exposition, no drift and the same version."""
    with running_sim(version) as sim:
        port = sim.manifest["replicas"][0]["port"]
        r = shared_client().post(
            f"http://127.0.0.1:{port}/v1/completions",
            json={"model": MODEL, "prompt": "a b c", "max_tokens": 4},
        )
        assert r.status_code == 200, r.text
        text = scrape(port)
    rows = [
        {"__name__": s.name} for fam in text_string_to_metric_families(text) for s in fam.samples
    ]
    assert any(r["__name__"].endswith("_bucket") for r in rows)
    pod, prom = exposed(text), from_names(rows)
    assert prom.version == pod.version and version in pod.version
    assert blind_readers(bundle, runtimes.get("vllm"), prom) == []


def test_an_exposition_no_catalog_fits_is_named_after_the_nearest() -> None:
    """Families of the newest vLLM plus one it removed fit no cataloged version: the guess
    is the newest, with the share of families alike (Jaccard: shared over all)."""
    newest = available_vllm_versions()[-1]
    theirs = set(vllm_catalog(newest).families)
    ours = {f for f in theirs if f.startswith("vllm:")} | {"vllm:gpu_cache_usage_perc"}
    assert "vllm:gpu_cache_usage_perc" not in theirs
    alike = len(ours & theirs) / len(ours | theirs)
    assert 0.5 < alike < 1
    seen = from_names({"__name__": n} for n in ours)
    assert seen.version == f"vLLM {newest} (nearest catalog: {alike:.0%} of families alike)"
