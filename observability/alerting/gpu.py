"""gpu.dcgm: GPU health from dcgm-exporter's default counters.

Framebuffer usage is deliberately not alerted: vLLM preallocates
`--gpu-memory-utilization` of the memory, so a full framebuffer is normal.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.targets import dcgm_job, dcgm_up
from observability.alerting.timing import Timing
from observability.alerting.vllm_availability import asleep
from observability.config import BundleConfig
from observability.metrics.names import DCGM
from observability.rulebase import Scope, alert, record

__all__ = ["GPU_XID_RECENT", "GROUP", "group"]

GROUP = "gpu.dcgm"

GPU_XID_RECENT = "gpu:dcgm_xid_errors:recent"
"""The last XID of a GPU while it is recent (changed or first seen within the window)."""

_GPU = "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on node {{ $labels.Hostname }}"


def _xid_recent(sc: Scope, window: str) -> str:
    """DCGM_FI_DEV_XID_ERRORS is a gauge holding the *last* XID, not a counter. It fires
    while the value is non-zero and either changed within the window or the series is new
    (exporter started after the error); it clears `window` after the last change even if
    the driver keeps reporting the old code."""
    x = DCGM.XID_ERRORS
    recent = f"({x} > 0 and changes({x}[{window}]) > 0) or ({x} > 0 unless {x} offset {window})"
    return f"max by ({sc.by(sc.gpu)}) ({recent})"


def _vllm_namespaces(cfg: BundleConfig) -> str:
    from observability.alerting.vllm_availability import model_namespace

    names = sorted({model_namespace(cfg, k) for k in cfg.vllm.deploy} | {cfg.namespaces.vllm})
    return "|".join(names)


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    codes = sorted(set(a.gpu_xid_critical_codes))
    # A fatal XID leaves the GPU broken until it is reset, and DCGM keeps reporting that
    # last XID meanwhile: the page holds while the gauge does (no recency window).
    last = f"max by ({sc.by(sc.gpu)}) ({DCGM.XID_ERRORS})"
    fatal = " or ".join(f"{last} == {c}" for c in codes) or "vector(0) > 1"

    def temp(severity: str, threshold: float) -> dict[str, Any]:
        return alert(
            "GPUHighTemperature",
            f"max by ({sc.by(sc.gpu)}) ({DCGM.GPU_TEMP}) > {threshold:g}",
            t.gpu_temp_for,
            severity,
            "GPU temperature is high.",
            f"{_GPU} is at {{{{ $value | humanize }}}}°C (threshold {threshold:g}°C); "
            "the GPU throttles clocks and may shut down.",
        )

    def xid(severity: str, expr: str, what: str) -> dict[str, Any]:
        return alert(
            "GPUXidErrors",
            expr,
            "0s",
            severity,
            "GPU reported an XID error.",
            f"{_GPU} {what}.",
        )

    pre = (sc.cluster,) if sc.cluster else ()
    under_by = sc.by((*pre, "namespace", "pod", "Hostname", "gpu", "UUID", "modelName"))
    pod_keys = (*pre, "namespace", "pod")
    util = f'{DCGM.GPU_UTIL}{{namespace=~"{_vllm_namespaces(cfg)}"}}'
    job = dcgm_up(cfg)
    return {
        "name": GROUP,
        "rules": [
            record(GPU_XID_RECENT, _xid_recent(sc, t.xid_window)),
            temp("critical", a.gpu_temperature_critical_celsius),
            temp("warning", a.gpu_temperature_warning_celsius),
            xid(
                "critical",
                f"({fatal})",
                "reports XID {{ $value }} (fatal class: the GPU stays broken until it is "
                "reset; this page holds while DCGM reports it): drain the node and reset the GPU",
            ),
            xid(
                "warning",
                f"{GPU_XID_RECENT} > 0 unless {sc.on(sc.gpu)} ({fatal})",
                f"reported XID {{{{ $value }}}} (usually an application fault) in the last "
                f"{t.xid_window}",
            ),
            alert(
                "GPUUnderutilized",
                # a pod whose engines sleep on purpose holds an idle GPU by design
                f"(avg by ({under_by}) (avg_over_time({util}[{t.underutil_window}]))\n"
                f"unless {sc.on(pod_keys)} {asleep(sc, pod_keys)})\n"
                f"< {a.gpu_utilization_low_ratio * 100:g}",
                t.underutil_for,
                "info",
                "GPU serving vLLM is underutilized.",
                f"{_GPU}, used by pod {{{{ $labels.pod }}}} in namespace "
                "{{ $labels.namespace }}, averaged {{ $value | humanize }}% utilization over "
                f"the last {t.underutil_window} (threshold "
                f"{a.gpu_utilization_low_ratio * 100:g}%): consider fewer replicas or a "
                "smaller GPU.",
            ),
            alert(
                "DCGMExporterDown",
                f"{job} == 0",
                t.exporter_down_for,
                "warning",
                "DCGM exporter is down.",
                "Prometheus cannot scrape dcgm-exporter pod {{ $labels.pod }} "
                "({{ $labels.instance }}): GPU metrics and GPU alerts for that node are blind.",
                labels={"reason": "target_down"},
            ),
            alert(
                "DCGMExporterDown",
                f"absent({job})",
                t.exporter_down_for,
                "warning",
                "DCGM exporter is down.",
                f"No dcgm-exporter target (job {dcgm_job(cfg)}) is discovered: GPU metrics and "
                "GPU alerts are blind cluster-wide.",
                labels={"reason": "absent"},
            ),
        ],
    }
