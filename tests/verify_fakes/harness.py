"""Everything wired together: fake API server -> service proxy -> real Prometheus and
Alertmanager scraping the exporter, fake Grafana; plus `run()` calling verify for real."""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any

from observability.alerting import recording as rec
from observability.config import BundleConfig
from observability.dashboards.availability import GATED, UNRELEASED
from observability.metrics.names import DCGM, VLLM
from observability.render.rbac import rbac as render_rbac
from observability.verify import Options, VerifyRun, run_verify
from observability.verify import bundle as bundle_facts
from verify_fakes.backends import Exporter, ExporterProcesses, FakeGrafana, PromStack, http_get
from verify_fakes.cluster import build_cluster, rule_groups, write_kubeconfig
from verify_fakes.kube import FakeKube, wait_until


def dashboard_metric_names(cfg: BundleConfig) -> list[str]:
    from observability.dashboards.exprs import panel_queries
    from observability.dashboards.panels import families_read

    out: list[str] = []
    for model in bundle_facts.dashboards(cfg).values():
        for q in panel_queries(model):
            out += families_read(q.expr)
    return list(dict.fromkeys(out))


class Harness:
    def __init__(
        self,
        cfg: BundleConfig,
        gpu_nodes: int = 2,
        gpus_per_node: int = 1,
        pods_per_model: int = 1,
        enforce_rbac: bool = True,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        scrape_timeout: str = "900ms",
        grafana_anonymous: bool = True,
        second_dcgm_job: str | None = None,
        scrape_processes: int = 0,
    ) -> None:
        """`scrape_processes`: Prometheus scrapes that many Exporter copies in their own
        processes (bench/verify_speed.py) instead of `self.exporter`, whose knobs then
        no longer reach the scraped series."""
        self.cfg = cfg
        self.tmp = Path(tempfile.mkdtemp(prefix="verify-harness-"))
        self.inst = build_cluster(cfg, gpu_nodes, gpus_per_node, 1, pods_per_model)
        names = dashboard_metric_names(cfg)
        dcgm = [v for k, v in vars(DCGM).items() if k.isupper()]
        dcgm += [n for n in names if n.startswith("DCGM_") and n not in dcgm]
        pod_of_gpu: dict[tuple[str, int], tuple[str, str]] = {}
        for i, (ns, pod, _, node) in enumerate(self.inst.vllm_pods):
            pod_of_gpu[(node, (i // max(1, gpu_nodes)) % gpus_per_node)] = (ns, pod)
        served = cfg.models[cfg.vllm.deploy[0]].served_name
        exporter_args: dict[str, Any] = dict(
            served_name=served,
            # the vLLM pods' families only: kube-state-metrics and Karpenter are other
            # exporters this fake cluster does not run (their panels say so)
            # (nor Prometheus' own `up`), and no family behind a flag or KV connector, or only on
            # vLLM main (their panels say so)
            names=[
                n
                for n in names
                if not n.startswith(("DCGM_", "kube_", "karpenter_"))
                and n != "up"
                # served like the spec-decode signals (as if --speculative-config were on)
                and (n not in GATED or GATED[n] == "--speculative-config")
                and n not in UNRELEASED
            ],
            dcgm_names=dcgm,
            gpus_per_node=gpus_per_node,
            pod_of_gpu=pod_of_gpu,
        )
        self.exporter = Exporter(**exporter_args)
        self.scrapers: ExporterProcesses | None = None
        addrs: list[str] = [f"127.0.0.1:{self.exporter.port}"]
        if scrape_processes:
            self.scrapers = ExporterProcesses(scrape_processes, **exporter_args)
            addrs = self.scrapers.addrs
        scrape = self.inst.scrape_configs(addrs)
        if second_dcgm_job:
            # A second exporter on the same GPUs (e.g. the GPU Operator's own, scraped by
            # its own ServiceMonitor with jobLabel app): same series, another job.
            dcgm = next(c for c in scrape if c.get("metrics_path") == "/dcgm")
            twin = copy.deepcopy(dcgm)
            twin["job_name"] = f"serviceMonitor/gpu-operator/{second_dcgm_job}/0"
            for sc in twin["static_configs"]:
                sc["labels"].update(job=second_dcgm_job, service=second_dcgm_job)
            scrape.append(twin)
        self.prom = PromStack(
            scrape,
            rule_groups(cfg),
            scrape_interval,
            evaluation_interval,
            scrape_timeout,
        )
        roles = [o for o in render_rbac(cfg) if o["kind"] in ("ClusterRole", "Role")]
        self.kube = FakeKube(roles if enforce_rbac else None)
        self.grafana: FakeGrafana | None = None
        self.grafana_anonymous = grafana_anonymous

    def start(self) -> Harness:
        try:
            self.prom.start()
            self.grafana = FakeGrafana(
                self.prom.prom_url,
                bundle_facts.dashboards(self.cfg),
                anonymous=self.grafana_anonymous,
            )
            self.kube.add(*self.inst.objects)
            mon = self.cfg.namespaces.monitoring
            self.kube.backends[(mon, "kube-prometheus-stack-prometheus")] = self.prom.prom_url
            self.kube.backends[(mon, "kube-prometheus-stack-alertmanager")] = self.prom.am_url
            self.kube.backends[(mon, "kube-prometheus-stack-grafana")] = self.grafana.url
            for key, _ in self.cfg.deployed_models:
                self.kube.backends[(self.cfg.namespaces.vllm, f"vllm-{key}")] = self.exporter.url
            self.kube.start()
            self.kubeconfig = write_kubeconfig(self.tmp / "kubeconfig", self.kube.url)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        n_targets = len(self.inst.vllm_pods) + len(self.inst.gpu_nodes)
        wait_until(lambda: len(self.prom.query("up == 1")) >= n_targets, timeout, "every target up")
        wait_until(
            lambda: b"Watchdog" in http_get(self.prom.am_url + "/api/v2/alerts"),
            timeout,
            "Watchdog in Alertmanager",
        )
        # rate() needs two samples in the window.
        wait_until(
            lambda: self.prom.query("rate(vllm:generation_tokens_total[1m]) > 0"),
            timeout,
            "rates",
        )
        # The p99 stats of the single pane read recorded quantiles, which follow the raw
        # rates by up to a rule evaluation or two (grafana.panels found 'p99 TTFT' empty
        # in one CI run when only the raw rate was waited for). `>= 0` drops a NaN.
        for key in (VLLM.TTFT.key, VLLM.ITL.key, VLLM.E2E.key):
            expr = f'{rec.QUANTILE_RATE1M[key]}{{quantile="0.99"}} >= 0'
            wait_until(lambda e=expr: self.prom.query(e), timeout, expr)

    def wait_scraped(self, expr: str, timeout: float = 15.0) -> None:
        wait_until(lambda: self.prom.query(expr), timeout, expr)

    def prom_rules(self) -> list[dict[str, Any]]:
        import json

        body = json.loads(http_get(self.prom.prom_url + "/api/v1/rules"))
        return body["data"]["groups"]

    def run(self, options: Options | None = None, **kw: Any) -> VerifyRun:
        kw.setdefault("kubeconfig", str(self.kubeconfig))
        kw.setdefault("check_timeout", 8.0)
        kw.setdefault("total_timeout", 25.0)
        return run_verify(self.cfg, options or Options(http_timeout=4.0), **kw)

    def stop(self) -> None:
        stops = [self.kube.stop, self.exporter.stop, self.prom.stop]
        if self.scrapers is not None:
            stops.append(self.scrapers.stop)
        for f in stops:
            with contextlib.suppress(Exception):
                f()
        if self.grafana is not None:
            self.grafana.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
