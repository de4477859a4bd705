"""`job` selectors of the scrape targets, from the same constants the ServiceMonitors use.

The operator sets `job` from the ServiceMonitor's `jobLabel` (the Service's value of
`app.kubernetes.io/name`), so vLLM targets are `job="vllm"` and dcgm-exporter targets
`job="dcgm-exporter"`. A regex such as `vllm-.+` (Service names) matches nothing and
VLLMTargetDown could never fire; tests/test_alerts_targets.py recomputes the job from the
rendered ServiceMonitor and Service so the two cannot drift apart again.
"""

from __future__ import annotations

import re

from observability import runtimes
from observability.config import BundleConfig
from observability.kube import DCGM_JOB, VLLM_JOB

__all__ = ["dcgm_job", "dcgm_up", "job_matches", "vllm_up"]


def vllm_up(cfg: BundleConfig) -> str:
    """`up` of vLLM targets; an override in `alerting.vllm_job_regex` wins. Runtimes whose
    engine targets come from their own monitor (a Ray PodMonitor) add their jobs."""
    regex = cfg.alerting.vllm_job_regex
    if regex:
        return f'up{{job=~"{regex}"}}'

    extra = runtimes.engine_jobs(cfg)
    if extra:
        # Job values are [a-z0-9-/]: nothing to escape in the regex.
        return f'up{{job=~"{"|".join((VLLM_JOB, *extra))}"}}'
    return f'up{{job="{VLLM_JOB}"}}'


def dcgm_up(cfg: BundleConfig) -> str:
    """`up` of dcgm-exporter targets; an override in `alerting.dcgm_job` wins."""
    return f'up{{job="{dcgm_job(cfg)}"}}'


def dcgm_job(cfg: BundleConfig) -> str:
    return cfg.alerting.dcgm_job or DCGM_JOB


def job_matches(selector: str, job: str) -> bool:
    """Whether an `up{job=...}` selector built here selects targets with this `job`."""
    m = re.fullmatch(r'up\{job(=~?)"([^"]*)"\}', selector)
    if m is None:
        raise ValueError(f"not a job selector: {selector}")
    op, value = m.groups()
    return re.fullmatch(value, job) is not None if op == "=~" else value == job
