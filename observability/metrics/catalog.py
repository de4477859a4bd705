"""Metric catalogs: what each supported exporter version exposes, as committed data.

The vLLM catalogs are produced by `scripts/extract_vllm_catalog.py` from the released
wheel's source (never imported) and committed under `observability/metrics/data/` as
`vllm-<version>.json`; DCGM's default counter set is `dcgm-default-counters.json`.

Data file shape::

    {"exporter": "vllm", "version": "0.7.3", "source": "<where it was read from>",
     "families": [{"name": "vllm:prompt_tokens_total", "type": "counter",
                   "help": "...", "labels": ["model_name"], "buckets": null}]}

`name` is the *exposed* family name: counters end in `_total`; histogram series add
`_bucket`, `_sum`, `_count` (see `series_names`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "Catalog",
    "MetricFamily",
    "available_vllm_versions",
    "dcgm_catalog",
    "family_of_series",
    "karpenter_catalog",
    "ksm_catalog",
    "process_catalog",
    "runtime_catalog",
    "vllm_catalog",
    "vllm_main_catalog",
]

_SUFFIXES = {
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


@dataclass(frozen=True)
class MetricFamily:
    name: str
    type: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] | None = None
    default: bool = True  # registered by plain `vllm serve` (data key `default`)
    condition: str | None = None  # what registers it when not default (source text, a flag)

    def series_names(self) -> tuple[str, ...]:
        """Every sample name this family produces on the wire."""
        return (self.name, *(self.name + s for s in _SUFFIXES.get(self.type, ())))


@dataclass(frozen=True)
class Catalog:
    exporter: str
    version: str
    source: str
    families: dict[str, MetricFamily]

    def series_names(self) -> set[str]:
        return {s for f in self.families.values() for s in f.series_names()}

    def family(self, series: str) -> MetricFamily | None:
        """The family a sample name belongs to (`x_bucket` -> histogram `x`)."""
        return family_of_series(series, self.families)


def family_of_series(series: str, families: dict[str, MetricFamily]) -> MetricFamily | None:
    if series in families:
        return families[series]
    for suffix in ("_bucket", "_sum", "_count"):
        base = series.removesuffix(suffix)
        if base != series and base in families and families[base].type in _SUFFIXES:
            return families[base]
    return None


def _load(filename: str) -> Catalog:
    text = resources.files("observability.metrics").joinpath("data", filename).read_text()
    raw = json.loads(text)
    families = {
        f["name"]: MetricFamily(
            name=f["name"],
            type=f["type"],
            help=f.get("help", ""),
            labels=tuple(f.get("labels", ())),
            buckets=tuple(f["buckets"]) if f.get("buckets") is not None else None,
            default=bool(f.get("default", True)),
            condition=f.get("condition"),
        )
        for f in raw["families"]
    }
    return Catalog(raw["exporter"], raw["version"], raw.get("source", ""), families)


def available_vllm_versions() -> list[str]:
    data = resources.files("observability.metrics").joinpath("data")
    names = [
        p.name for p in data.iterdir() if p.name.startswith("vllm-") and p.name.endswith(".json")
    ]
    return sorted((n[len("vllm-") : -len(".json")] for n in names), key=_version_key)


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) if x.isdigit() else 0 for x in v.split("."))


@cache
def vllm_catalog(version: str) -> Catalog:
    """Catalog for a vLLM version; `latest` means the newest committed one."""
    versions = available_vllm_versions()
    if version == "latest":
        if not versions:
            raise LookupError("no vLLM catalogs committed under observability/metrics/data/")
        version = versions[-1]
    if version not in versions:
        raise LookupError(f"no catalog for vLLM {version}; available: {', '.join(versions)}")
    return _load(f"vllm-{version}.json")


@cache
def vllm_main_catalog() -> Catalog:
    """Families vLLM's own dashboards read that no cataloged release lists, read from vLLM
    main (`unreleased-vllm-main.json`: KV connector families built at run time, the sleep
    and RL weight-update operation metrics). Not a version: `available_vllm_versions()`
    never lists it, so version notes and the simulator's version catalogs ignore it."""
    return _load("unreleased-vllm-main.json")


@cache
def dcgm_catalog() -> Catalog:
    return _load("dcgm-default-counters.json")


KSM_VERSION = "2.20.0"  # what kube-prometheus-stack 88.5.3 ships (kube-state-metrics chart 8.4.0)
KARPENTER_VERSION = "1.14.1"


@cache
def ksm_catalog() -> Catalog:
    """kube-state-metrics families the lifecycle and capacity rules read."""
    return _load(f"kube-state-metrics-{KSM_VERSION}.json")


@cache
def karpenter_catalog() -> Catalog:
    """Karpenter families the GPU capacity rules read (present only where Karpenter runs)."""
    return _load(f"karpenter-{KARPENTER_VERSION}.json")


@cache
def process_catalog() -> Catalog:
    """prometheus_client's process collector (`process_*`), which vLLM's API server exposes:
    the instance drill-down's and VLLMProcessMemoryNearLimit's families."""
    return _load("prometheus-client-process.json")


@cache
def runtime_catalog(filename: str) -> Catalog:
    """A serving runtime's catalog (`ray-2.49.2.json`, ...) from the same data directory."""
    return _load(filename)
