"""Synthetic history for dashboard tests and benches, backfilled with promtool.

Writes OpenMetrics text for N vLLM replicas (families, labels and buckets taken from a
committed vLLM catalog, so 0.7.3 and the newest release each get their own names) plus
their DCGM GPUs, then `promtool tsdb create-blocks-from openmetrics` turns it into TSDB
blocks a real Prometheus serves. Hours of history in seconds, no waiting for scrapes.
"""

from __future__ import annotations

import math
import random
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from observability.metrics.catalog import MetricFamily, dcgm_catalog, vllm_catalog
from observability.metrics.names import DCGM, VLLM

__all__ = ["SyntheticFleet", "backfill", "backfill_fleets"]

_REASONS_V0 = ("stop", "length", "abort")
_REASONS_V1 = ("stop", "length", "abort", "error", "repetition")
_GPU_FIELDS = (
    DCGM.GPU_UTIL,
    DCGM.FB_USED,
    DCGM.FB_FREE,
    DCGM.POWER_USAGE,
    DCGM.GPU_TEMP,
    DCGM.XID_ERRORS,
)


@dataclass(frozen=True)
class SyntheticFleet:
    vllm_version: str = "0.33.0"
    replicas: int = 2
    models: tuple[str, ...] = ("deepseek-ai/DeepSeek-R1-Distill-Llama-8B",)
    namespace: str = "vllm"
    gpu_model: str = "NVIDIA L4"
    seconds: int = 3600
    step: int = 15
    end: int = 0  # unix seconds; 0 = caller must set
    seed: int = 7

    def pods(self) -> Iterator[tuple[str, str, int]]:
        i = 0
        for model in self.models:
            for r in range(self.replicas):
                short = model.rsplit("/", 1)[-1].lower()[:20].strip("-.")
                yield f"vllm-{short}-{r}", model, i
                i += 1


def _labels(d: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


# Label values vLLM sets on a split family, with each value's share of the whole.
_SPLITS: dict[str, dict[str, float]] = {
    VLLM.WAITING_BY_REASON.v1 or "": {"capacity": 0.9, "deferred": 0.1},
    VLLM.PROMPT_TOKENS_BY_SOURCE.v1 or "": {
        "local_compute": 0.55,
        "local_cache_hit": 0.35,
        "external_kv_transfer": 0.1,
    },
}
# one-hot gauges: each label value's constant (every engine awake, none asleep)
_ONE_HOT: dict[str, dict[str, float]] = {
    VLLM.ENGINE_SLEEP_STATE.v1 or "": {"awake": 1.0, "weights_offloaded": 0.0, "discard_all": 0.0},
}


def _load(t: int, idx: int) -> float:
    """A smooth daily-ish wave per replica: 0.2 .. 1.0."""
    return 0.6 + 0.4 * math.sin(t / 900 + idx)


def _vllm_lines(fleet: SyntheticFleet, fam: MetricFamily, times: list[int]) -> Iterator[str]:
    rng = random.Random(f"{fleet.seed}{fam.name}")
    v1 = fleet.vllm_version != "0.7.3"
    for pod, model, idx in fleet.pods():
        base = {
            "namespace": fleet.namespace,
            "pod": pod,
            "service": "vllm",
            "container": "vllm",
            "endpoint": "http",
            "job": "vllm",
            "instance": f"10.0.0.{idx + 1}:8000",
            "model_name": model,
        }
        if "engine" in fam.labels:
            base["engine"] = "0"
        # one label that splits the family, with each value's share of it
        split, values = "", ("",)
        if "finished_reason" in fam.labels:
            split, values = "finished_reason", _REASONS_V1 if v1 else _REASONS_V0
        for name in ("reason", "source"):
            if name in fam.labels and fam.name in _SPLITS:
                split, values = name, tuple(_SPLITS[fam.name])
        if "sleep_state" in fam.labels and fam.name in _ONE_HOT:
            split, values = "sleep_state", tuple(_ONE_HOT[fam.name])
        for reason in values:
            lbl = dict(base, **{split: reason}) if reason else base
            share = {"stop": 0.8, "length": 0.17, "abort": 0.02, "error": 0.01}.get(reason, 1.0)
            share = _SPLITS.get(fam.name, {}).get(reason, share)
            if reason == "repetition":
                share = 0.0
            series = f"{fam.name}{_labels(lbl)}"
            if fam.name in _ONE_HOT:
                for t in times:
                    yield f"{series} {_ONE_HOT[fam.name][reason]:.1f} {t}"
            elif fam.type == "gauge":
                for t in times:
                    x = _load(t, idx)
                    if "perc" in fam.name or "hit_rate" in fam.name:
                        v = min(0.99, 0.5 * x + rng.random() * 0.05)
                    else:
                        v = round(40 * x * (0.2 if "waiting" in fam.name else 1) * share)
                    yield f"{series} {v:.4f} {t}"
            elif fam.type == "counter":
                total = 0.0
                scale = {"prompt": 900.0, "generation": 400.0, "preempt": 0.05}
                per_s = next((v for k, v in scale.items() if k in fam.name), 2.0)
                if "hits" in fam.name:
                    per_s *= 0.4  # a 40% prefix-cache hit rate
                for t in times:
                    total += per_s * share * _load(t, idx) * fleet.step
                    yield f"{series} {total:.1f} {t}"
            elif fam.type == "histogram" and fam.buckets:
                yield from _histogram(fam, lbl, times, idx, rng, fleet.step)


def _histogram(fam, lbl, times, idx, rng, step) -> Iterator[str]:
    edges = [*fam.buckets, math.inf]
    median = 0.3 if "seconds" in fam.name else 200.0
    if "inter_token" in fam.name or "per_output" in fam.name:
        median = 0.04
    counts = [0.0] * len(edges)
    total_sum = 0.0
    # One list per series keeps each series' samples contiguous for the OpenMetrics parser.
    les = ["+Inf" if math.isinf(e) else repr(float(e)) for e in edges]
    bucket_rows = [[f"{fam.name}_bucket{_labels(dict(lbl, le=le))}"] for le in les]
    sum_row = [f"{fam.name}_sum{_labels(lbl)}"]
    count_row = [f"{fam.name}_count{_labels(lbl)}"]
    for t in times:
        n = 2.0 * _load(t, idx) * step
        for _ in range(3):  # three draws per step spread the distribution
            v = rng.lognormvariate(math.log(median * (0.7 + _load(t, idx))), 0.6)
            for i, e in enumerate(edges):
                if v <= e:
                    counts[i] += n / 3
            total_sum += v * n / 3
        for i, row in enumerate(bucket_rows):
            row.append(f"{counts[i]:.1f} {t}")
        sum_row.append(f"{total_sum:.3f} {t}")
        count_row.append(f"{counts[-1]:.1f} {t}")
    for row in (*bucket_rows, sum_row, count_row):
        name = row[0]
        for sample in row[1:]:
            yield f"{name} {sample}"


def _http_lines(fleet: SyntheticFleet, times: list[int]) -> Iterator[str]:
    duration = vllm_catalog(fleet.vllm_version).families.get(VLLM.HTTP_DURATION.v1 or "")
    for pod, _model, idx in fleet.pods():
        if duration is not None:
            lbl = {
                "namespace": fleet.namespace,
                "pod": pod,
                "job": "vllm",
                "handler": "/v1/completions",
                "method": "POST",
            }
            rng = random.Random(f"{fleet.seed}{pod}{duration.name}")
            yield from _histogram(duration, lbl, times, idx, rng, fleet.step)
        for status, share in (("2xx", 0.995), ("5xx", 0.005)):
            lbl = {
                "namespace": fleet.namespace,
                "pod": pod,
                "job": "vllm",
                "handler": "/v1/completions",
                "method": "POST",
                "status": status,
            }
            series = f"{VLLM.HTTP_REQUESTS.v1}{_labels(lbl)}"
            total = 0.0
            for t in times:
                total += 2.0 * share * _load(t, idx) * fleet.step
                yield f"{series} {total:.1f} {t}"


def _dcgm_lines(fleet: SyntheticFleet, times: list[int]) -> Iterator[str]:
    families = dcgm_catalog().families
    for name in _GPU_FIELDS:
        assert name in families, name
        for pod, _model, idx in fleet.pods():
            lbl = {
                "gpu": "0",
                "UUID": f"GPU-{idx:08d}",
                "device": "nvidia0",
                "modelName": fleet.gpu_model,
                "Hostname": f"gpu-node-{idx}",
                "namespace": fleet.namespace,
                "pod": pod,
                "container": "vllm",
                "job": "dcgm-exporter",
            }
            series = f"{name}{_labels(lbl)}"
            for t in times:
                x = _load(t, idx)
                v = {
                    DCGM.GPU_UTIL: 100 * x * 0.9,
                    DCGM.FB_USED: 20000.0,
                    DCGM.FB_FREE: 2500.0,
                    DCGM.POWER_USAGE: 40 + 30 * x,
                    DCGM.GPU_TEMP: 50 + 20 * x,
                    DCGM.XID_ERRORS: 0.0,
                }[name]
                yield f"{series} {v:.2f} {t}"


def _target(fleet: SyntheticFleet, pod: str, idx: int) -> dict[str, str]:
    """The labels the operator gives a vLLM pod's scrape target."""
    return {
        "namespace": fleet.namespace,
        "pod": pod,
        "service": "vllm",
        "container": "vllm",
        "endpoint": "http",
        "job": "vllm",
        "instance": f"10.0.0.{idx + 1}:8000",
    }


def _up_lines(fleet: SyntheticFleet, times: list[int]) -> Iterator[str]:
    """`up` of every vLLM target: 1 (Prometheus writes it per scrape; backfill must too)."""
    for pod, _model, idx in fleet.pods():
        series = f"up{_labels(_target(fleet, pod, idx))}"
        for t in times:
            yield f"{series} 1.0 {t}"


def _cache_config_lines(
    fleet: SyntheticFleet, fam: MetricFamily, times: list[int]
) -> Iterator[str]:
    """The engine's info gauge (always 1), its labels the KV cache settings."""
    values = {"block_size": "16", "num_gpu_blocks": "27997", "cache_dtype": "auto",
              "gpu_memory_utilization": "0.9", "enable_prefix_caching": "True"}  # fmt: skip
    for pod, _model, idx in fleet.pods():
        lbl = _target(fleet, pod, idx)
        lbl.update({k: values.get(k, "") for k in fam.labels if k != "engine"})
        if "engine" in fam.labels:
            lbl["engine"] = "0"
        series = f"{fam.name}{_labels({k: v for k, v in lbl.items() if v})}"
        for t in times:
            yield f"{series} 1.0 {t}"


def openmetrics(fleet: SyntheticFleet) -> Iterator[str]:
    times = list(range(fleet.end - fleet.seconds, fleet.end + 1, fleet.step))
    cat = vllm_catalog(fleet.vllm_version)
    for fam in cat.families.values():
        if fam.type in ("gauge", "counter", "histogram") and not fam.name.endswith("_info"):
            yield from _vllm_lines(fleet, fam, times)
    if "vllm:cache_config_info" in cat.families:
        yield from _cache_config_lines(fleet, cat.families["vllm:cache_config_info"], times)
    yield from _up_lines(fleet, times)
    if fleet.vllm_version != "0.7.3":
        yield from _http_lines(fleet, times)
    yield from _dcgm_lines(fleet, times)
    yield "# EOF"


def backfill(fleet: SyntheticFleet, data_dir: Path, promtool: str = "promtool") -> None:
    """Write the fleet's history as TSDB blocks into `data_dir` (a Prometheus data dir)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    src = data_dir.parent / f"{data_dir.name}.om.txt"
    with src.open("w") as fh:
        for line in openmetrics(fleet):
            fh.write(line + "\n")
    try:
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(src), str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        src.unlink(missing_ok=True)


_BLOCK_S = 7200  # promtool cuts 2 h blocks aligned to multiples of 2 h


def backfill_fleets(
    fleets: Sequence[SyntheticFleet],
    data_dir: Path,
    promtool: str = "promtool",
    jobs: int = 2,
) -> int:
    """Several fleets (e.g. one per namespace and model) into one Prometheus data dir.

    Samples are split into one OpenMetrics file per 2 h block window, so promtool parses
    each file once (it re-reads a whole file for every block it cuts) and the resulting
    blocks do not overlap; `jobs` promtool processes run side by side. Returns samples.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir.parent / f"{data_dir.name}.om"
    tmp.mkdir(exist_ok=True)
    files: dict[int, object] = {}
    samples = 0
    try:
        for fleet in fleets:
            for line in openmetrics(fleet):
                if line[0] == "#":
                    continue
                window = int(line[line.rfind(" ") + 1 :]) // _BLOCK_S
                fh = files.get(window)
                if fh is None:
                    fh = files[window] = (tmp / f"{window}.txt").open("w")
                fh.write(line)
                fh.write("\n")
                samples += 1
        for fh in files.values():
            fh.write("# EOF\n")
            fh.close()

        def run(window: int) -> None:
            subprocess.run(
                [
                    promtool,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    str(tmp / f"{window}.txt"),
                    str(data_dir),
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=1800,
            )

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            list(pool.map(run, sorted(files)))
    finally:
        for fh in files.values():
            fh.close()
        for f in tmp.glob("*.txt"):
            f.unlink()
        tmp.rmdir()
    return samples
