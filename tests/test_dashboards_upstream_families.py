"""Every metric family vLLM's own five Grafana dashboards query is shown by one of the
bundle's dashboards (the single pane, "KV cache & disaggregation", "instance drill-down"),
or excluded here with a reason; the companions are linked from the single pane; every
family only vLLM main has is cataloged as such and its panels say so.

The upstream families are vendored in bench/upstream_vllm_dashboards/families.json (five
dashboards, pinned commits in SOURCE.md there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from observability.dashboards import DASHBOARDS, build_all
from observability.dashboards.availability import UNRELEASED, exporter_families
from observability.dashboards.exprs import iter_panels
from observability.dashboards.panels import families_read
from observability.metrics.catalog import available_vllm_versions, vllm_catalog, vllm_main_catalog

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = json.loads(
    (ROOT / "bench" / "upstream_vllm_dashboards" / "families.json").read_text(encoding="utf-8")
)
# family -> why no bundle dashboard queries it
EXCLUDED: dict[str, str] = {}


@pytest.fixture(scope="module")
def built(bundle) -> dict[str, dict]:
    return build_all(bundle)


def _read(dashboard: dict) -> set[str]:
    """Families a dashboard's queries read: raw names, and our recordings expanded to the
    vLLM families their rules read (the single pane's latency panels read recordings)."""
    exprs = [t["expr"] for p in iter_panels(dashboard) for t in p.get("targets", [])]
    return {f for e in exprs for f in (*families_read(e), *exporter_families(e))}


def test_the_vendored_list_is_the_five_dashboards() -> None:
    d = UPSTREAM["dashboards"]
    assert sorted(d) == [
        "vllm_instances.json",
        "vllm_kv_cache.json",
        "vllm_overview.json",
        "vllm_service_status.json",
        "vllm_speculative_decoding.json",
    ]
    every = set().union(*map(set, d.values()))
    assert len([f for f in every if f.startswith("vllm:")]) == 69  # upstream-2026.md's count
    assert len(every) == 77  # plus http_*, process_* and up


@pytest.mark.parametrize("upstream", sorted(UPSTREAM["dashboards"]))
def test_every_family_of_each_upstream_dashboard_is_shown(built, upstream) -> None:
    ours = set().union(*(_read(d) for d in built.values()))
    missing = set(UPSTREAM["dashboards"][upstream]) - ours - set(EXCLUDED)
    assert missing == set(), f"{upstream}: not on any bundle dashboard: {sorted(missing)}"


def test_companions_are_registered_and_linked_from_the_single_pane(built, bundle) -> None:
    assert list(DASHBOARDS) == [
        "vllm-single-pane.json",
        "vllm-kv-cache-disaggregation.json",
        "vllm-instance.json",
    ]
    uids = [d["uid"] for d in built.values()]
    assert uids == ["vllm-single-pane", "vllm-single-pane-kv", "vllm-single-pane-instance"]
    pane = built["vllm-single-pane.json"]
    assert [lk["url"] for lk in pane["links"]] == [
        "/d/vllm-single-pane-kv",
        "/d/vllm-single-pane-instance",
    ]
    assert all(lk["includeVars"] and lk["keepTime"] for lk in pane["links"])
    # each companion links back to the pane and to the other one
    assert [lk["url"] for lk in built["vllm-instance.json"]["links"]] == [
        "/d/vllm-single-pane",
        "/d/vllm-single-pane-kv",
    ]


def test_companion_uids_fit_grafanas_40_characters(bundle) -> None:
    from observability.dashboards.finalize import companion_uid

    long = bundle.model_copy(
        update={"dashboards": bundle.dashboards.model_copy(update={"uid": "a" * 40})}
    )
    assert companion_uid(long, "instance") == "a" * 31 + "-instance"
    assert companion_uid(long, "kv") == "a" * 37 + "-kv"


def test_main_only_families_are_cataloged_apart_from_releases() -> None:
    main = vllm_main_catalog()
    assert main.version == "main" and "main" not in available_vllm_versions()
    released = set().union(*(vllm_catalog(v).families for v in available_vllm_versions()))
    assert set(main.families).isdisjoint(released)
    upstream = set().union(*map(set, UPSTREAM["dashboards"].values()))
    # every upstream family is in a release catalog, in the main catalog, or not vLLM's
    unknown = {f for f in upstream if f.startswith("vllm:")} - released - set(main.families)
    assert unknown == set()
    assert {
        "vllm:nixl_num_kv_expired_reqs_total",
        "vllm:kv_offload_allocation_failure_total",
        "vllm:sleep_mode_operation_duration_seconds",
        "vllm:rl_weight_update_operations_in_flight",
    } <= UNRELEASED
    # the router stream read these three from the 0.33.0 wheel (nixl-vllm-0.33.0.json)
    assert "vllm:nixl_num_failed_transfers_total" not in UNRELEASED
    assert all(not f.default and f.condition for f in main.families.values())


NOTES = {
    ("vllm-kv-cache-disaggregation.json", "NIXL failures/s"): (
        "Only with NixlConnector (--kv-transfer-config) (nixl_num_failed_transfers_total, "
        "nixl_num_failed_notifications_total, nixl_num_kv_expired_reqs_total from vLLM main, "
        "nixl_num_notifications_after_expiry_total from vLLM main)"
    ),
    ("vllm-kv-cache-disaggregation.json", "KV block lifetime"): (
        "Only with --kv-cache-metrics (kv_block_lifetime_seconds); "
        "No eviction yet: the KV cache has not filled"
    ),
    ("vllm-kv-cache-disaggregation.json", "Requests waiting on KV loads"): (
        "Only with a KV connector (--kv-transfer-config) (num_requests_kv_fetch_by_stage)"
    ),
    ("vllm-instance.json", "Weight update duration p99"): (
        "Only with RL weight updates (VLLM_SERVER_DEV_MODE, after an update call) "
        "(rl_weight_update_operation_duration_seconds from vLLM main)"
    ),
    ("vllm-instance.json", "API server resident memory"): (
        "Needs the vLLM API server's process metrics (absent with --api-server-count > 1)"
    ),
    ("vllm-instance.json", "Sleep level per engine"): (
        "Not exposed by vLLM 0.7.3, 0.10.1 (engine_sleep_state)"
    ),
    ("vllm-instance.json", "Speculative acceptance length"): (
        "Only with --speculative-config "
        "(spec_decode_num_accepted_tokens_total, spec_decode_num_drafts_total)"
    ),
}


def test_panels_that_may_be_empty_say_why(built) -> None:
    for (name, title), note in NOTES.items():
        panel = next(p for p in iter_panels(built[name]) if p["title"] == title)
        assert panel["fieldConfig"]["defaults"]["noValue"] == note, title
    # panels every supported vLLM feeds carry no note
    for title in ("Scrape target up", "KV cache configuration"):
        panel = next(p for p in iter_panels(built["vllm-instance.json"]) if p["title"] == title)
        assert "noValue" not in panel["fieldConfig"]["defaults"], title
