"""Every key of bundle.yaml is drawn by the configuration space, or excluded with a reason.

Walks the pydantic model (`BundleConfig`) to its leaves and draws bundles from
`testkit.configspace.bundles()`; a leaf counts as drawn when the samples hold at least two
different values for it. A new config key fails this test, naming itself, until a dimension
draws it (testkit/configspace.py) or EXCLUDED says why it need not be.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from pydantic import BaseModel

from observability.config import BundleConfig
from observability.config.reference import nested_model
from testkit.configspace import bundles

SAMPLES = 150
SEED = 22
# leaf (dotted; `*` for a model key or a list index) -> why no dimension draws it
EXCLUDED: dict[str, str] = {
    "charts.kube_prometheus_stack.repo_url": "pinned upstream chart whose values schema is vendored for lint",
    "charts.kube_prometheus_stack.chart": "pinned upstream chart whose values schema is vendored for lint",
    "charts.kube_prometheus_stack.version": "pinned upstream chart whose values schema is vendored for lint",
    "charts.dcgm_exporter.repo_url": "pinned upstream chart whose values schema is vendored for lint",
    "charts.dcgm_exporter.chart": "pinned upstream chart whose values schema is vendored for lint",
    "charts.dcgm_exporter.version": "pinned upstream chart whose values schema is vendored for lint",
    "autoscaling.keda.chart.repo_url": "pinned upstream chart (as charts)",
    "autoscaling.keda.chart.chart": "pinned upstream chart (as charts)",
    "autoscaling.keda.chart.version": "pinned upstream chart (as charts)",
    "runtimes.rayservice.chart.repo_url": "pinned upstream chart (as charts)",
    "runtimes.rayservice.chart.chart": "pinned upstream chart (as charts)",
    "runtimes.rayservice.chart.version": "pinned upstream chart (as charts)",
    "runtimes.lws.chart.repo_url": "pinned upstream chart (as charts): its CRD is vendored",
    "runtimes.lws.chart.chart": "pinned upstream chart (as charts): its CRD is vendored",
    "runtimes.lws.chart.version": "pinned upstream chart (as charts): its CRD is vendored",
    "gateway.inference_pool.chart.repo_url": "pinned upstream chart (as charts): its values are vendored",
    "gateway.inference_pool.chart.chart": "pinned upstream chart (as charts): its values are vendored",
    "gateway.inference_pool.chart.version": "pinned upstream chart (as charts): its values are vendored",
    "runtimes.rayservice.image": "one image family (rayproject/ray-llm); its tag is drawn",
    "alerting.vllm_job_regex": "names scrape jobs of a Prometheus this bundle does not "
    "configure; the rendered monitors fix `job` (tests/test_alert_jobs.py covers it)",
    "alerting.dcgm_job": "as vllm_job_regex, for an outside DCGM exporter",
}


def _step(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """The model a field holds (the reference page's walk) and the path step into it: `.`,
    or `.*.` for a registry (`dict`) or a list of models."""
    found = nested_model(annotation)
    if found is None:
        return None
    step, model = found
    return ("." if step == "." else ".*."), model


def leaves(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        inner = _step(field.annotation)
        if inner is None:
            out.append(f"{prefix}{name}")
        else:
            out += leaves(inner[1], f"{prefix}{name}{inner[0]}")
    return sorted(set(out))


def _walk(data: Any, path: str, seen: dict[str, set[str]], model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        if not isinstance(data, dict) or name not in data:
            continue
        value, p = data[name], f"{path}{name}"
        inner = _step(field.annotation)
        if inner is None:
            seen[p].add(json.dumps(value, sort_keys=True))
        elif inner[0] == ".":
            _walk(value, f"{p}.", seen, inner[1])
        else:
            for item in value.values() if isinstance(value, dict) else value or []:
                _walk(item, f"{p}.*.", seen, inner[1])


def draw_leaves(samples: int = SAMPLES, seed_: int = SEED) -> dict[str, set[str]]:
    """The values each leaf takes over `samples` seeded draws of the config space. Its own
    settings, so whatever profile another test module loaded (test_config_space's `ci`: 8
    examples) cannot shrink the draw; seeded, so a run is the same in any worker order."""
    seen: dict[str, set[str]] = defaultdict(set)

    @seed(seed_)
    @settings(
        max_examples=samples,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(bundles())
    def draw(data: dict[str, Any]) -> None:
        _walk(data, "", seen, BundleConfig)

    draw()
    return seen


def test_every_config_key_is_drawn_or_excluded_with_a_reason() -> None:
    seen = draw_leaves()
    all_leaves = leaves(BundleConfig)
    undrawn = [p for p in all_leaves if len(seen.get(p, ())) < 2 and p not in EXCLUDED]
    assert not undrawn, (
        f"{len(undrawn)} bundle.yaml keys no dimension of testkit/configspace.py draws "
        f"(add one, or list the key in EXCLUDED with why): {', '.join(undrawn)}"
    )
    stale = sorted(set(EXCLUDED) - set(all_leaves))
    assert not stale, f"EXCLUDED names keys the config no longer has: {stale}"


def test_the_walk_sees_nested_models_and_registries() -> None:
    names = leaves(BundleConfig)
    assert "models.*.s3.annotations" in names
    assert "prometheus.remote_write.*.queue.max_shards" in names
    assert "runtimes.rayservice.head.memory" in names
    assert "models" not in names  # a registry is walked into, not a leaf
