"""Every PromQL expression the single pane shows, built through `Promql` and `signals`.

Grafana variables appear verbatim (`$namespace`, `$__rate_interval`); `vars.py` substitutes
them for Prometheus when the snapshot, the empty-panel check and lint evaluate a query.

Scopes: vLLM engine series carry `namespace`, `pod` (target labels) and `model_name`;
`http_requests_total` has no `model_name`; DCGM series carry `pod`/`namespace` only for GPUs
attributed to a pod (honorLabels), which is exactly the set a vLLM pod filter should keep.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from observability.config import BundleConfig
from observability.metrics.promql import Promql, divide
from observability.metrics.signals import DCGM, VLLM

__all__ = ["RATE", "Queries", "promql_regex_escape"]

RATE = "$__rate_interval"
QUANTILES = (0.5, 0.95, 0.99)


def promql_regex_escape(value: str) -> str:
    """Escape regex metacharacters for a PromQL `=~` string (backslashes doubled)."""
    return re.sub(r"([.+*?()|\[\]{}^$\\])", r"\\\\\1", value)


@dataclass(frozen=True)
class Queries:
    """Selectors and expressions for one bundle config."""

    cfg: BundleConfig

    # -- scopes -------------------------------------------------------------------
    @property
    def cluster(self) -> str:
        return self.cfg.prometheus.cluster_label

    def _matchers(self, *labels: str) -> str:
        parts = [f'{self.cluster}=~"$cluster"'] if self.cluster else []
        parts += [f'{lbl}=~"${lbl}"' for lbl in labels]
        return ", ".join(parts)

    def _by(self, by: Sequence[str]) -> tuple[str, ...]:
        return (self.cluster, *by) if self.cluster and by else tuple(by)

    def vllm(self, *by: str) -> Promql:
        return Promql(self._matchers("namespace", "model_name", "pod"), self._by(by), RATE)

    def http(self, *by: str) -> Promql:
        return Promql(self._matchers("namespace", "pod"), self._by(by), RATE)

    def dcgm(self, *by: str) -> Promql:
        return Promql(self._matchers("namespace", "pod"), self._by(by), RATE)

    # -- overview stats (one number for the whole selection) ---------------------
    def request_rate(self) -> str:
        return self.vllm().rate(VLLM.REQUEST_SUCCESS)

    def generation_tps(self, *by: str) -> str:
        return self.vllm(*by).rate(VLLM.GENERATION_TOKENS)

    def prompt_tps(self, *by: str) -> str:
        return self.vllm(*by).rate(VLLM.PROMPT_TOKENS)

    def quantile(self, q: float, signal, *by: str) -> str:
        return self.vllm(*by).quantile(q, signal)

    def error_ratio(self, *by: str) -> str:
        """HTTP 5xx share of API requests (vLLM >= 0.8) or, where no HTTP metrics exist
        (0.7.3), the share of requests finished with reason error/abort."""
        h = self.http(*by)
        v = self.vllm(*by)
        http5xx = h.rate(VLLM.HTTP_REQUESTS, extra_matchers='status="5xx"')
        http_all = h.rate(VLLM.HTTP_REQUESTS)
        failed = v.rate(VLLM.REQUEST_SUCCESS, extra_matchers='finished_reason=~"error|abort"')
        done = v.rate(VLLM.REQUEST_SUCCESS)
        # `or (total * 0)` turns "no 5xx series yet" into 0 instead of no data.
        return (
            f"({divide(f'{http5xx} or ({http_all} * 0)', http_all)})"
            f" or ({divide(f'{failed} or ({done} * 0)', done)})"
        )

    def kv_usage_max(self, *by: str) -> str:
        return self.vllm(*by).gauge(VLLM.KV_CACHE_USAGE, "max")

    def waiting_max_per_model(self) -> str:
        per_model = self.vllm("model_name").gauge(VLLM.WAITING, "sum")
        return f"max({per_model})"

    def gpu_util_ratio(self, *by: str) -> str:
        return f"{self.dcgm(*by).gauge_raw(DCGM.GPU_UTIL, 'avg')} / 100"

    def firing_alerts(self) -> str:
        sel = 'ALERTS{alertstate="firing", alertname=~"(VLLM|GPU|DCGM).*"}'
        return f"count({sel}) or vector(0)"

    # -- cost -------------------------------------------------------------------------
    def gpu_cost_per_hour(self, *by: str) -> str:
        """USD/h: attributed GPUs counted per DCGM `modelName` x configured hourly price."""
        d = self.dcgm(*by)
        by_txt = ", ".join(("modelName", *d.by))
        prices = {k: v for k, v in self.cfg.gpu.hourly_cost.items() if k != "default"}
        parts = [
            f"count by ({by_txt}) ({d.sel(DCGM.GPU_UTIL, f'modelName={_q(name)}')}) * {price}"
            for name, price in sorted(prices.items())
        ]
        known = "|".join(promql_regex_escape(n) for n in sorted(prices))
        rest = f'modelName!~"{known}"' if known else ""
        default = self.cfg.gpu.hourly_cost["default"]
        parts.append(f"count by ({by_txt}) ({d.sel(DCGM.GPU_UTIL, rest)}) * {default}")
        inner = " or ".join(f"({p})" for p in parts)
        outer_by = ", ".join(d.by)
        return f"sum by ({outer_by}) ({inner})" if by else f"sum({inner})"

    def token_cost_per_hour(self, *by: str) -> str:
        """USD/h: prompt and generated tokens/s x the model's configured price per 1K."""
        v = self.vllm(*by)
        parts = []
        for _key, m in sorted(self.cfg.models.items()):
            match = f"model_name={_q(m.served_name)}"
            prompt = v.rate(VLLM.PROMPT_TOKENS, extra_matchers=match)
            gen = v.rate(VLLM.GENERATION_TOKENS, extra_matchers=match)
            parts.append(
                f"(({prompt}) * {m.cost.input_per_1k} + ({gen}) * {m.cost.output_per_1k})"
                " * 3600 / 1000"
            )
        return " or ".join(f"({p})" for p in parts)

    def gpu_cost_per_million_tokens(self) -> str:
        """USD of GPU time per 1M generated tokens over the selection."""
        return f"{divide(self.gpu_cost_per_hour() + ' / 3600', self.generation_tps())} * 1e6"

    # -- cache ------------------------------------------------------------------------
    def prefix_hit_rate(self, *by: str) -> str:
        """Token hit rate from the V1 counters (>= 0.9.2), else 0.7.3's block hit-rate
        gauge averaged over engines."""
        v = self.vllm(*by)
        counters = divide(v.rate(VLLM.PREFIX_CACHE_HITS), v.rate(VLLM.PREFIX_CACHE_QUERIES))
        gauge = v.gauge(VLLM.PREFIX_CACHE_HIT_RATE_V0, "avg")
        return f"({counters}) or ({gauge})"

    # -- GPU ----------------------------------------------------------------------------
    def fb_total(self, *by: str) -> str:
        d = self.dcgm(*by)
        return f"{d.gauge_raw(DCGM.FB_USED, 'sum')} + {d.gauge_raw(DCGM.FB_FREE, 'sum')}"


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
