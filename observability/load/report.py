"""Client-side load report from the locustfile's per-request samples.

Percentiles use linear interpolation between order statistics (numpy's default), over
every request (TTFT) and every inter-token gap (ITL), the same populations vLLM's
`time_to_first_token_seconds` and `inter_token_latency_seconds` histograms observe.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoadReport", "percentile", "read_samples", "summarize"]

QUANTILES = (0.5, 0.95, 0.99)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _pcts(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{round(q * 100)}": percentile(values, q) for q in QUANTILES}


@dataclass
class LoadReport:
    duration_s: float
    requests: int
    errors: int
    requests_per_s: float
    tokens_per_s: float
    ttft_s: dict[str, float | None]
    itl_s: dict[str, float | None]
    latency_s: dict[str, float | None]
    by_scenario: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "error_ratio": self.error_ratio}

    def lines(self) -> list[str]:
        def fmt(d: dict[str, float | None]) -> str:
            return "  ".join(
                f"{k} {v * 1000:7.1f} ms" if v is not None else f"{k}       -" for k, v in d.items()
            )

        mix = ", ".join(f"{k} {v}" for k, v in sorted(self.by_scenario.items()))
        out = [
            f"requests   {self.requests} in {self.duration_s:.1f}s ({mix})",
            f"throughput {self.requests_per_s:.2f} req/s, {self.tokens_per_s:.1f} tokens/s",
            f"TTFT       {fmt(self.ttft_s)}",
            f"ITL        {fmt(self.itl_s)}",
            f"latency    {fmt(self.latency_s)}",
            f"errors     {self.errors} ({self.error_ratio:.1%})",
        ]
        out += [f"  {n} x {kind}" for kind, n in self.error_kinds.items()]
        return out


def read_samples(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a killed worker
    return out


def summarize(samples: Iterable[dict[str, Any]], duration_s: float | None = None) -> LoadReport:
    samples = list(samples)
    ok = [s for s in samples if s.get("ok")]
    if duration_s is None:
        if samples:
            first = min(s["t"] for s in samples)
            last = max(s["t"] + s.get("latency", 0) for s in samples)
            duration_s = max(last - first, 1e-9)
        else:
            duration_s = 0.0
    per_s = 1 / duration_s if duration_s else 0.0
    errors = [s for s in samples if not s.get("ok")]
    return LoadReport(
        duration_s=duration_s,
        requests=len(samples),
        errors=len(errors),
        requests_per_s=len(ok) * per_s,
        tokens_per_s=sum(s.get("tokens") or 0 for s in ok) * per_s,
        ttft_s=_pcts([s["ttft"] for s in ok if s.get("ttft") is not None]),
        itl_s=_pcts([g for s in ok for g in s.get("itl") or []]),
        latency_s=_pcts([s["latency"] for s in ok if "latency" in s]),
        by_scenario=dict(Counter(s.get("scenario", "?") for s in samples)),
        error_kinds=dict(Counter(s.get("error", "?") for s in errors).most_common(5)),
    )
