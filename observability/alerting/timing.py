"""Timing profiles: one rule generator, two clocks.

`standard` is what ships to clusters. `fast` keeps every expression, threshold and rate
window and only shortens `for` durations, the SLO burn-rate windows and the KV-usage
median window (which scales with the demo's 1s scrape), so the fault
scenarios of `obsctl scenario` finish in minutes. Recording-rule names never change with
the profile (they carry the standard 5m window), so dashboards work under both.
"""

from __future__ import annotations

from dataclasses import dataclass

from observability.config import duration_seconds

__all__ = ["PROFILES", "BurnWindow", "Timing", "scaled", "scaled_seconds", "timing"]


@dataclass(frozen=True)
class BurnWindow:
    """One multi-window burn-rate condition (SRE Workbook ch. 5, table 5-8)."""

    long: str
    short: str
    burn: float
    for_: str
    severity: str  # critical pages; info is a ticket


@dataclass(frozen=True)
class Timing:
    name: str
    rate_window: str = "5m"
    latency_for: str = "5m"
    saturation_for: str = "5m"
    # Median window of KV-cache usage (VLLMKVCacheSaturated): 8 scrapes at 15s, so up to 3
    # low scrapes (V1's one-step dip after a preemption) cannot restart `for`.
    kv_usage_window: str = "2m"
    preemption_for: str = "10m"
    error_for: str = "5m"
    stalled_window: str = "5m"
    stalled_for: str = "5m"
    target_down_for: str = "5m"
    absent_for: str = "5m"
    gpu_temp_for: str = "5m"
    xid_window: str = "10m"
    underutil_window: str = "1h"
    underutil_for: str = "1h"
    exporter_down_for: str = "10m"
    memory_for: str = "10m"  # VLLMProcessMemoryNearLimit
    target_lookback: str = "1h"  # how long a down target keeps its last model_name
    # Lifecycle thresholds are durations from bundle.yaml (alerting.pod_pending_for, ...,
    # models.<key>.expected_load_time); a profile scales them (fast: a tenth, >= 10s).
    lifecycle_scale: float = 1.0
    slo_windows: tuple[BurnWindow, ...] = (
        BurnWindow("1h", "5m", 14.4, "2m", "critical"),
        BurnWindow("6h", "30m", 6.0, "15m", "critical"),
        BurnWindow("1d", "2h", 3.0, "1h", "info"),
        BurnWindow("3d", "6h", 1.0, "3h", "info"),
    )


def scaled_seconds(t: Timing, duration: str) -> int:
    """A bundle.yaml lifecycle duration under the profile, in whole seconds (>= 10)."""
    return max(10, round(duration_seconds(duration) * t.lifecycle_scale))


def scaled(t: Timing, duration: str) -> str:
    """`scaled_seconds` as a Prometheus duration (`10m`, `90s`)."""
    sec = scaled_seconds(t, duration)
    return f"{sec // 60}m" if sec % 60 == 0 else f"{sec}s"


STANDARD = Timing("standard")

FAST = Timing(
    "fast",
    latency_for="1m",
    saturation_for="1m",
    # 10 scrapes at the demo's 1s; delays onset by ~5s instead of ~1m.
    kv_usage_window="10s",
    preemption_for="1m",
    error_for="1m",
    stalled_window="1m",
    stalled_for="1m",
    target_down_for="1m",
    absent_for="1m",
    gpu_temp_for="1m",
    xid_window="2m",
    # Kept at the standard hour: a benign load run must not page for idle GPUs.
    underutil_window="1h",
    underutil_for="1h",
    exporter_down_for="1m",
    memory_for="1m",
    target_lookback="15m",
    lifecycle_scale=0.1,
    slo_windows=(
        BurnWindow("10m", "1m", 14.4, "30s", "critical"),
        BurnWindow("30m", "3m", 6.0, "1m", "critical"),
        BurnWindow("1h", "5m", 3.0, "2m", "info"),
        BurnWindow("3h", "15m", 1.0, "5m", "info"),
    ),
)

PROFILES: dict[str, Timing] = {t.name: t for t in (STANDARD, FAST)}


def timing(profile: str) -> Timing:
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(
            f"unknown alert timing profile {profile!r}: use one of {', '.join(PROFILES)}"
        ) from None
