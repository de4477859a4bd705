"""The committed vLLM catalogs are pinned to vLLM itself: the metric-definition files of
each cataloged release are vendored unmodified (tests/fixtures/vllm-sources, with wheel,
path and sha256 in SOURCES) and the project's extractor, run on them, must reproduce
observability/metrics/data/vllm-<version>.json byte for byte. A hand edit of a catalog
(a bucket edge, a label, a name) fails here, as does a vendored file that differs from
the wheel it names."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

SOURCES_DIR = Path("tests/fixtures/vllm-sources")
# Literal: the releases the bundle supports (docs/sim.md), each with vendored sources.
VERSIONS = ("0.7.3", "0.10.1", "0.26.0", "0.33.0")


def _rows(repo_root: Path) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (repo_root / SOURCES_DIR / "SOURCES").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            version, wheel, path, sha = line.split()
            rows.append((version, wheel, path, sha))
    return rows


def test_every_committed_vllm_catalog_has_vendored_sources(repo_root):
    committed = sorted(
        p.name.removeprefix("vllm-").removesuffix(".json")
        for p in (repo_root / "observability/metrics/data").glob("vllm-*.json")
    )
    assert sorted(committed) == sorted(VERSIONS)
    assert sorted({r[0] for r in _rows(repo_root)}) == sorted(VERSIONS)


def test_vendored_files_match_their_sha256_and_nothing_else_is_there(repo_root):
    base = repo_root / SOURCES_DIR
    listed = set()
    for version, wheel, path, sha in _rows(repo_root):
        f = base / wheel / path
        assert f.is_file(), f"{wheel}/{path} listed in SOURCES for {version} but missing"
        assert hashlib.sha256(f.read_bytes()).hexdigest() == sha, f"{wheel}/{path} edited"
        listed.add(f"{wheel}/{path}")
    present = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()} - {"SOURCES"}
    assert present == listed


def test_extractor_reproduces_the_committed_catalogs_from_vendored_sources(repo_root, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts/extract_vllm_catalog.py"),
            *VERSIONS,
            "--sources",
            str(repo_root / SOURCES_DIR),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for v in VERSIONS:
        fresh = (tmp_path / f"vllm-{v}.json").read_text()
        committed = (repo_root / f"observability/metrics/data/vllm-{v}.json").read_text()
        assert fresh == committed, (
            f"observability/metrics/data/vllm-{v}.json differs from what "
            "scripts/extract_vllm_catalog.py extracts from the vendored vLLM sources: "
            "regenerate it, never edit it by hand"
        )


@pytest.mark.parametrize(
    ("version", "family", "edge"),
    [
        # Literal spot checks read off the vendored vLLM source (not the JSON): TTFT
        # buckets of 0.7.3's Metrics.__init__ and 0.33.0's loggers/buckets.
        ("0.7.3", "vllm:time_to_first_token_seconds", 2.5),
        ("0.7.3", "vllm:e2e_request_latency_seconds", 60.0),
        ("0.33.0", "vllm:time_to_first_token_seconds", 2560.0),
    ],
)
def test_catalog_spot_checks(version, family, edge):
    from observability.metrics.catalog import vllm_catalog

    assert edge in vllm_catalog(version).families[family].buckets


@pytest.mark.parametrize(
    ("version", "family", "source", "default"),
    [
        # Families outside loggers.py, read off the vendored modules: the MFU counters of
        # vllm/v1/metrics/perf.py (registered unconditionally from 0.26), spec decoding's
        # (vllm/v1/spec_decode/metrics.py, only with --speculative-config), a KV
        # connector's (only with that connector).
        ("0.26.0", "vllm:estimated_flops_per_gpu_total", "vllm/v1/metrics/perf.py", True),
        ("0.33.0", "vllm:estimated_write_bytes_per_gpu_total", "vllm/v1/metrics/perf.py", True),
        ("0.10.1", "vllm:spec_decode_num_drafts_total", "vllm/v1/spec_decode/metrics.py", False),
        ("0.33.0", "vllm:mooncake_store_operation_total",
         "vllm/distributed/kv_transfer/kv_connector/v1/mooncake/store/metrics.py", False),
    ],
)  # fmt: skip
def test_catalogs_read_every_metrics_module(repo_root, version, family, source, default):
    import json

    data = json.loads((repo_root / f"observability/metrics/data/vllm-{version}.json").read_text())
    fam = next(f for f in data["families"] if f["name"] == family)
    assert fam["source"].startswith(source + ": ") and fam["default"] is default
    assert fam["labels"][:2] == ["model_name", "engine"]
    names = {f["name"] for f in data["families"]}
    older = json.loads((repo_root / "observability/metrics/data/vllm-0.10.1.json").read_text())
    assert "vllm:estimated_flops_per_gpu_total" not in {f["name"] for f in older["families"]}
    assert family in names
