"""The simulator serves the families vLLM registers only behind a flag or KV connector
(sim/flags.py: --spec-decode, --kv-cache-metrics, --kv-offload, --nixl) only when that is
on, with values that follow the load the engine served, and refuses a flag the version
cannot serve; the nixl-transfer-failures fault counts failed transfers on decode workers."""

from __future__ import annotations

import pytest
from sim_helpers import MODEL, running_sim, samples, scrape, value
from typer.testing import CliRunner

from observability.cli import app
from observability.httppool import shared_client
from observability.metrics.catalog import vllm_catalog, vllm_main_catalog
from observability.sim.flags import SimFlags, flag_families, nixl_role

pytestmark = pytest.mark.timeout(90)

PROMPT = "a much longer prompt that fills several KV blocks " * 6
FLAGGED = ("vllm:spec_decode_", "vllm:kv_block_", "vllm:kv_offload_", "vllm:simple_kv_offload_")


def _load(port: int, n: int = 6, max_tokens: int = 24) -> int:
    url = f"http://127.0.0.1:{port}/v1/completions"
    gen = 0
    for i in range(n):
        # the same prompt again hits the prefix cache; a new one computes and evicts
        body = {"model": MODEL, "prompt": f"{i % 2} " + PROMPT, "max_tokens": max_tokens}
        gen += shared_client().post(url, json=body, timeout=30).json()["usage"]["completion_tokens"]
    return gen


def _families(text: str) -> set[str]:
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def test_without_flags_no_flagged_family_is_served():
    with running_sim("latest") as sim:
        port = sim.manifest["replicas"][0]["port"]
        _load(port, 2)
        names = _families(scrape(port))
    assert not [n for n in names if n.startswith(FLAGGED) or "nixl" in n], names
    assert "vllm:num_requests_kv_fetch_by_stage" not in names


def test_spec_decode_kv_cache_metrics_and_cpu_offload_follow_the_load():
    k = 3
    with running_sim("latest", flags=SimFlags(k, kv_cache_metrics=True, kv_offload="cpu")) as sim:
        port = sim.manifest["replicas"][0]["port"]
        _load(port, 6)
        text = scrape(port)

    def v(name: str, **labels: str) -> float:
        return value(text, name, **labels)

    # spec decode: one draft of k tokens per decoding request per step
    drafts = v("vllm:spec_decode_num_drafts_total")
    assert drafts > 0
    assert v("vllm:spec_decode_num_draft_tokens_total") == k * drafts
    per_pos = [
        v("vllm:spec_decode_num_accepted_tokens_per_pos_total", position=str(p)) for p in range(k)
    ]
    assert sum(per_pos) == v("vllm:spec_decode_num_accepted_tokens_total")
    assert per_pos[0] >= per_pos[1] >= per_pos[2] > 0  # acceptance falls with position
    assert per_pos[0] <= drafts
    # decode steps of requests: generated tokens minus each request's first (prefill) token
    assert drafts == v("vllm:generation_tokens_total") - v("vllm:request_success_total")
    # KV block residency: a repeated prompt hits cached blocks (reuse gaps)
    assert v("vllm:kv_block_reuse_gap_seconds_count") > 0
    assert v("vllm:kv_block_lifetime_seconds_count") == v(
        "vllm:kv_block_idle_before_evict_seconds_count"
    )
    # CPU offload: the new full blocks of each computed prompt are stored, at block size
    stored = v("vllm:kv_offload_store_bytes_total")
    assert stored > 0 and v("vllm:kv_offload_store_size_count") > 0
    assert stored == v("vllm:kv_offload_store_size_sum")
    assert v("vllm:kv_offload_store_time_total") == pytest.approx(stored / 25e9)
    assert v("vllm:kv_offload_allocation_failure_total") == 0
    assert "vllm:simple_kv_offload_used_blocks" not in text
    assert "nixl" not in text


def test_nixl_pairs_pull_prompts_and_the_fault_fails_transfers():
    with running_sim("latest", replicas=2, flags=SimFlags(nixl=True)) as sim:
        prefill, decode = (r["port"] for r in sim.manifest["replicas"])
        _load(decode, 4)
        _load(prefill, 2)
        before = scrape(decode)
        pod = sim.manifest["replicas"][1]["pod"]
        shared_client().post(
            f"http://127.0.0.1:{sim.cfg.admin_port}/faults",
            json={"fault": "nixl-transfer-failures", "target": pod, "params": {"ratio": 1.0}},
            timeout=5,
        ).raise_for_status()
        _load(decode, 2)
        after = scrape(decode)
        pre = scrape(prefill)

    def v(text: str, name: str, **labels: str) -> float:
        return value(text, name, **labels)

    pulls = v(before, "vllm:nixl_xfer_time_seconds_count")
    assert pulls > 0 and v(before, "vllm:nixl_bytes_transferred_count") == pulls
    external = v(before, "vllm:prompt_tokens_by_source_total", source="external_kv_transfer")
    assert external > 0
    assert v(before, "vllm:nixl_num_failed_transfers_total") == 0
    assert ("stage", "in_progress") in {
        p
        for (n, lbls), _ in samples(before).items()
        if n == "vllm:num_requests_kv_fetch_by_stage"
        for p in lbls
    }
    # the fault: every pull fails, none is timed, the prompt is computed locally
    assert v(after, "vllm:nixl_num_failed_transfers_total") == 2
    assert v(after, "vllm:nixl_xfer_time_seconds_count") == pulls
    assert v(after, "vllm:nixl_num_kv_expired_reqs_total") == 0  # nothing else
    # the prefill worker pulls nothing and holds no decode-side gauge
    assert v(pre, "vllm:nixl_xfer_time_seconds_count") == 0
    assert "vllm:num_requests_kv_fetch_by_stage" not in pre
    assert v(pre, "vllm:prompt_tokens_by_source_total", source="external_kv_transfer") == 0


def test_simple_offload_stores_and_skips():
    with running_sim("latest", flags=SimFlags(kv_offload="simple")) as sim:
        port = sim.manifest["replicas"][0]["port"]
        _load(port, 4)
        text = scrape(port)
    stored = value(text, "vllm:simple_kv_offload_save_outcomes_total", outcome="stored")
    assert stored > 0
    outcomes = {
        dict(lbls)["outcome"]
        for (n, lbls), _ in samples(text).items()
        if n == "vllm:simple_kv_offload_save_outcomes_total"
    }
    assert {"stored", "skipped_already_cached", "dropped_cpu_full"} <= outcomes
    assert "vllm:kv_offload_store_bytes_total" not in text


def test_v0_spec_decode_uses_its_own_families():
    with running_sim("0.7.3", flags=SimFlags(spec_decode=2)) as sim:
        port = sim.manifest["replicas"][0]["port"]
        _load(port, 2)
        text = scrape(port)
    drafted = value(text, "vllm:spec_decode_num_draft_tokens_total")
    accepted = value(text, "vllm:spec_decode_num_accepted_tokens_total")
    assert drafted > 0 and 0 < accepted < drafted
    assert value(text, "vllm:spec_decode_draft_acceptance_rate") == pytest.approx(
        accepted / drafted
    )
    assert value(text, "vllm:spec_decode_num_emitted_tokens_total") == accepted + drafted / 2


@pytest.mark.parametrize(
    ("version", "flags", "says"),
    [
        ("0.10.1", SimFlags(kv_cache_metrics=True), "use --vllm-version 0.26.0 or 0.33.0"),
        ("0.26.0", SimFlags(nixl=True), "newest catalog only"),
        ("0.10.1", SimFlags(kv_offload="cpu"), "newest catalog only"),
    ],
)
def test_a_flag_the_version_cannot_serve_is_refused(version, flags, says):
    with pytest.raises(ValueError, match=says.replace(".", r"\.").replace("(", r"\(")):
        flag_families(vllm_catalog(version), flags, "both")


def test_every_connector_family_of_vllm_main_is_behind_a_flag():
    newest = vllm_catalog("latest")
    served = {
        f.name
        for f in flag_families(
            newest,
            SimFlags(spec_decode=1, kv_cache_metrics=True, kv_offload="cpu", nixl=True),
            "both",
        )
    } | {f.name for f in flag_families(newest, SimFlags(kv_offload="simple"), "")}
    connectors = {
        n for n, f in vllm_main_catalog().families.items() if "Connector" in (f.condition or "")
    }
    assert connectors <= served
    assert [nixl_role(i, 3) for i in range(3)] == ["prefill", "decode", "both"]
    assert nixl_role(0, 1) == "both"


def test_cli_refuses_a_flag_the_version_cannot_serve(tmp_path):
    res = CliRunner().invoke(app, ["sim", "--vllm-version", "0.7.3", "--kv-cache-metrics"])
    assert res.exit_code == 2
    assert "vLLM 0.7.3 has no kv_block_* family" in res.output
    res = CliRunner().invoke(app, ["demo", "--kv-offload", "disk"])
    assert res.exit_code == 2 and "use cpu or simple" in res.output
