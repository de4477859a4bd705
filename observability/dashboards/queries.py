"""Every PromQL expression the single pane shows, built through `Promql` and the signal
names of `observability.metrics.names` (`VLLM`, `DCGM`).

Grafana variables appear verbatim (`$namespace`, `$__rate_interval`); `dashboards/exprs.py`
substitutes them for Prometheus when the snapshot, the empty-panel check and lint evaluate a query.

Scopes: vLLM engine series carry `namespace`, `pod` (target labels) and `model_name`;
`http_requests_total` has no `model_name`; DCGM series carry `pod`/`namespace` only for GPUs
attributed to a pod (honorLabels), which is exactly the set a vLLM pod filter should keep.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from observability.alerting import recording as rec
from observability.config import BundleConfig
from observability.metrics.names import DCGM, VLLM
from observability.metrics.promql import Promql, divide

__all__ = [
    "ALERTS_FIRING",
    "ALERT_SCOPE",
    "RATE",
    "Queries",
    "firing_selector",
    "promql_regex_escape",
]

RATE = "$__rate_interval"
ALERTS_FIRING = 'ALERTS{alertstate="firing", alertname=~"(VLLM|GPU|DCGM).*"}'


def firing_selector(cfg: BundleConfig) -> str:
    """ALERTS_FIRING, with the inference router's alerts (vllm.router) when the pool is on."""
    if cfg.pool.enabled:
        return ALERTS_FIRING.replace("(VLLM|GPU|DCGM)", "(VLLM|GPU|DCGM|InferencePool)")
    return ALERTS_FIRING


ALERT_SCOPE = ("namespace", "model_name", "pod", "Hostname")
QUANTILES = rec.QUANTILES  # the single pane's recorded quantiles


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
        parts = [f'{self.cluster}=~"${self.cluster}"'] if self.cluster else []
        parts += [f'{lbl}=~"${lbl}"' for lbl in labels]
        return ", ".join(parts)

    def _by(self, by: Sequence[str]) -> tuple[str, ...]:
        return (self.cluster, *by) if self.cluster and by else tuple(by)

    def vllm(self, *by: str) -> Promql:
        return Promql(self._matchers("namespace", "model_name", "pod"), self._by(by), RATE)

    def http(self, *by: str) -> Promql:
        return Promql(self._matchers("namespace", "pod"), self._by(by), RATE)

    def engine_info(self, *by: str) -> Promql:
        """vLLM series without model_name (`lora_requests_info`): namespace and pod only."""
        return Promql(self._matchers("namespace", "pod"), self._by(by), RATE)

    def dcgm(self, *by: str) -> Promql:
        return Promql(self._matchers("namespace", "pod"), self._by(by), RATE)

    # -- recorded series (group vllm.recording, observability/alerting/recording.py) --
    def recorded(self, name: str, *by: str, extra_matchers: str = "") -> str:
        """`sum by (...) (name{...})` of a recording. Per-model recordings have no pod
        label, so only the cluster, namespace and model_name variables filter them."""
        labels = ("namespace", "model_name")
        if name.startswith("namespace_pod_model_name:"):
            labels = ("namespace", "model_name", "pod")
        matchers = ", ".join(m for m in (self._matchers(*labels), extra_matchers) if m)
        sel = f"{name}{{{matchers}}}"
        return f"sum by ({', '.join(self._by(by))}) ({sel})" if by else f"sum({sel})"

    def unscoped(
        self, name: str, *by: str, labels: Sequence[str] = (), extra_matchers: str = ""
    ) -> str:
        """`sum by (...)` of a series outside the model scope (node pools, the cluster,
        Karpenter): only the cluster variable and the given label variables filter it."""
        matchers = ", ".join(m for m in (self._matchers(*labels), extra_matchers) if m)
        sel = f"{name}{{{matchers}}}"
        return f"sum by ({', '.join(self._by(by))}) ({sel})" if by else f"sum({sel})"

    # -- overview stats (one number for the whole selection) ---------------------
    def request_rate(self) -> str:
        return self.recorded(rec.REQUESTS_RATE1M)

    def generation_tps(self, *by: str, extra_matchers: str = "") -> str:
        return self.recorded(rec.GENERATION_TOKENS_RATE1M, *by, extra_matchers=extra_matchers)

    def prompt_tps(self, *by: str, extra_matchers: str = "") -> str:
        return self.recorded(rec.PROMPT_TOKENS_RATE1M, *by, extra_matchers=extra_matchers)

    def recorded_quantile(self, name: str, q: float) -> str:
        """One quantile of a per-model quantile recording (`rec.QUANTILE_RATE1M`), filtered
        by the cluster, namespace and model_name variables: the same values as
        `quantile(q, signal, "namespace", "model_name")`, read from a few series."""
        return f'{name}{{{self._matchers("namespace", "model_name")}, quantile="{q}"}}'

    def model_quantile(self, q: float, signal) -> str:
        """p`q` of `signal` per (cluster,) namespace and model, recorded."""
        return self.recorded_quantile(rec.QUANTILE_RATE1M[signal.key], q)

    def bucket_rate(self, signal, *by: str) -> str:
        return self.recorded(rec.BUCKET_RATE1M[signal.key], "le", *by)

    def quantile(self, q: float, signal, *by: str) -> str:
        """`histogram_quantile(q, sum by (le, ...) (<recorded bucket rate>{...}))`."""
        return f"histogram_quantile({q}, {self.bucket_rate(signal, *by)})"

    def phase_mean(self, signal, *by: str) -> str:
        """Mean seconds of a request phase over the selection: recorded sum / count rates."""
        return divide(
            self.recorded(rec.SUM_RATE1M[signal.key], *by),
            self.recorded(rec.COUNT_RATE1M[signal.key], *by),
        )

    def hit_ratio(self, hits, queries, *by: str) -> str:
        """Hits / lookups of a cache counter pair (idle: no sample, not 0)."""
        v = self.vllm(*by)
        return divide(v.rate(hits), v.rate(queries))

    def error_ratio(self, *by: str) -> str:
        """HTTP 5xx share of API requests (vLLM >= 0.8) or, where no HTTP metrics exist
        (0.7.3), the share of requests finished with reason error/abort, which V0 never
        counts (no error reason; aborts uncounted: sim/metrics.py CLIENT_ABORTS): the
        per-pod recordings already pick the source, so the panel holds no `or`."""
        failed = self.recorded(rec.POD_FAILED_RATE1M, *by)
        total = self.recorded(rec.POD_REQUESTS_RATE1M, *by)
        return divide(failed, total)

    def kv_usage_max(self, *by: str) -> str:
        return self.vllm(*by).gauge(VLLM.KV_CACHE_USAGE, "max")

    def sleep_level(self) -> str:
        """Sleep level per engine: 0 awake, 1 weights offloaded (`/sleep?level=1`), 2 all
        discarded (level 2), from `vllm:engine_sleep_state`'s one-hot `sleep_state`."""
        name = VLLM.ENGINE_SLEEP_STATE.v1
        m = self._matchers("namespace", "model_name", "pod")
        by = ", ".join(self._by(("pod", "engine")))

        def state(s: str) -> str:
            return f'max by ({by}) ({name}{{{m}, sleep_state="{s}"}})'

        return f"{state('weights_offloaded')} + 2 * {state('discard_all')}"

    def waiting_max_per_model(self) -> str:
        per_model = self.vllm("model_name").gauge(VLLM.WAITING, "sum")
        return f"max({per_model})"

    def gpu_util_ratio(self, *by: str) -> str:
        return f"{self.dcgm(*by).gauge_raw(DCGM.GPU_UTIL, 'avg')} / 100"

    def firing_alerts(self) -> str:
        return f"count({self.alerts_firing()}) or vector(0)"

    def alerts_firing(self) -> str:
        """ALERTS of this bundle; in a central store it carries the cluster external label,
        so the cluster variable filters it like every other panel."""
        m = self._matchers()
        firing = firing_selector(self.cfg)
        return firing.replace("ALERTS{", f"ALERTS{{{m}, ", 1) if m else firing

    def firing_alert_list(self) -> str:
        """One row per firing alert and scope (ALERTS has no runbook: the panel links it)."""
        by = ", ".join(self._by(("alertname", "severity", *ALERT_SCOPE)))
        return f"max by ({by}) ({self.alerts_firing()})"

    # -- cost -------------------------------------------------------------------------
    def gpu_cost_per_hour(self, *by: str) -> str:
        """USD/h: attributed GPUs counted per DCGM `modelName` x configured hourly price."""
        d = self.dcgm(*by)
        by_txt = ", ".join(("modelName", *d.by))
        # Distinct GPUs (UUID): a second exporter on the same GPUs doubles the series,
        # not the cost.
        cluster = (self.cluster,) if self.cluster else ()
        per_gpu = ", ".join(dict.fromkeys((*cluster, "modelName", "UUID", *d.by)))

        def gpus(matchers: str) -> str:
            return f"count by ({by_txt}) (group by ({per_gpu}) ({d.sel(DCGM.GPU_UTIL, matchers)}))"

        prices = {k: v for k, v in self.cfg.gpu.hourly_cost.items() if k != "default"}
        parts = [
            f"{gpus(f'modelName={_q(name)}')} * {price}" for name, price in sorted(prices.items())
        ]
        known = "|".join(promql_regex_escape(n) for n in sorted(prices))
        rest = f'modelName!~"{known}"' if known else ""
        default = self.cfg.gpu.hourly_cost["default"]
        parts.append(f"{gpus(rest)} * {default}")
        inner = " or ".join(f"({p})" for p in parts)
        outer_by = ", ".join(d.by)
        return f"sum by ({outer_by}) ({inner})" if by else f"sum({inner})"

    def token_cost_per_hour(self, *by: str) -> str:
        """USD/h: prompt and generated tokens/s x the model's configured price per 1K."""
        parts = []
        for _key, m in sorted(self.cfg.models.items()):
            match = f"model_name={_q(m.served_name)}"
            prompt = self.prompt_tps(*by, extra_matchers=match)
            gen = self.generation_tps(*by, extra_matchers=match)
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
        # max, not sum: one GPU reported by two exporters is still one framebuffer.
        return f"{d.gauge_raw(DCGM.FB_USED, 'max')} + {d.gauge_raw(DCGM.FB_FREE, 'max')}"


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
