"""The whole local stack: simulators, Prometheus, Alertmanager, webhook sink and load.

`LocalStack(options).start()` brings everything up on 127.0.0.1 with reserved ports and a
private temp directory, waits until every scrape target is up, and writes its own state file
(`.obsctl/demo-<pid>-<n>.json`, so two demos in one checkout never clash; `read_state` picks
the newest live one) for `obsctl verify --local` and `obsctl scenario run`. `stop()` (also on
Ctrl-C, SIGTERM, or an exception during start) stops every child, frees every port, and
removes the temp directory and its own state file.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from observability import runtimes, tmpdirs
from observability.config import BundleConfig
from observability.engine.server import EngineServer
from observability.engine.targets import ExternalTarget
from observability.load.runner import LoadSpec, Target, start_load
from observability.local import alertmanager as am
from observability.local import engines as real_engines
from observability.local import rules as rulefiles
from observability.local.binaries import Binaries, find_binaries
from observability.local.engines import Say
from observability.local.models import DemoModels, demo_config, demo_models
from observability.local.pageserver import SnapshotServer
from observability.local.ports import PortAllocator, Workspace
from observability.local.prometheus import start_prometheus
from observability.local.router import epp_secrets, epp_settings
from observability.local.scrapeconfig import (
    KSM_SERVICE_MONITOR,
    load_service_monitors,
    scrape_configs,
    targets_from_manifest,
)
from observability.local.simproc import write_spec
from observability.local.state import (
    STATE_DIR,
    STATE_GLOB,
    AibrixInfo,
    EppInfo,
    NodeInfo,
    RayHeadInfo,
    ReplicaInfo,
    StackState,
    live_states,
    read_state,
)
from observability.local.webhook import WebhookSink
from observability.process import Child, Supervisor, http_ok
from observability.promapi import PromError, Prometheus
from observability.render.remote_write import local_remote_write
from observability.runtimes import runtime_of
from observability.runtimes.base import SIM_RAY
from observability.sim import SimConfig, SimModel
from observability.sim.cluster import gpu_nodes
from observability.sim.flags import SimFlags

__all__ = [
    "FAST",
    "STATE_DIR",
    "LocalStack",
    "Say",
    "StackOptions",
    "StackState",
    "demo_models",
    "live_states",
    "read_state",
    "with_runtime",
    "with_runtime_monitors",
]

_stack_numbers = itertools.count(1)  # several stacks in one process: demo-<pid>-<n>.json
# Fast profile: scrape and evaluate every second so a scenario runs in tens of seconds.
FAST = {"scrape_interval": "1s", "evaluation_interval": "1s"}


@dataclass(frozen=True)
class StackOptions:
    cfg: BundleConfig
    repo_root: Path
    profile: str = "standard"
    replicas: int = 2
    vllm_version: str = "latest"
    # (model key, namespace) per model; empty = demo_models(cfg). Rules and routing come
    # from demo_config(cfg, models): every model run counts as deployed.
    models: DemoModels = ()
    gpus_per_node: int = 2
    load: bool = True
    users: int = 6
    rate: float = 3.0
    state_file: Path | None = None  # None = <state_dir>/demo-<pid>.json
    state_dir: Path | None = None  # None = repo_root/.obsctl
    ready_timeout_s: float = 30.0
    seed: int | None = None
    # Several clusters (local/multicluster.py): this cluster's external label value ("" =
    # the bundle's prometheus.cluster_name, else local-demo), the central store's write
    # URL, and how many Prometheus replicas (an HA pair) scrape it.
    cluster_name: str = ""
    remote_write_url: str | None = None
    prometheus_replicas: int = 1
    # A real vLLM in the loop (observability/engine): this many extra replicas of the
    # first vLLM-served demo model are real CPU vLLM servers (`.venv-vllm`, a tiny model
    # made on the spot), and `targets` are vLLM servers that already run (checked with
    # engine.targets.check_target). Both are scraped like the simulated replicas; only
    # the real ones this stack starts get load.
    real_replicas: int = 0
    engine_args: tuple[str, ...] = ()  # extra server flags (a small KV cache for pressure)
    targets: tuple[ExternalTarget, ...] = ()
    engine_ready_timeout_s: float = 300.0
    epp_generation: str = "0.10.0"  # the simulated EPP's names (sim/epp.py GENERATIONS)
    sim_flags: SimFlags = field(default_factory=SimFlags)  # obsctl demo --nixl, --spec-decode...


def with_runtime_monitors(
    cfg: BundleConfig, monitors: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The committed monitors plus any the config's runtimes render that are not committed
    (a demo run with `--runtime rayservice` on a bundle whose models all run vLLM)."""
    from observability.render.servicemonitors import artifacts

    have = {(m.get("kind"), m.get("metadata", {}).get("name")) for m in monitors}
    extra = [
        obj
        for path, obj in artifacts(cfg).items()
        if isinstance(obj, dict)
        and obj.get("kind") in ("ServiceMonitor", "PodMonitor")
        and (obj["kind"], obj["metadata"]["name"]) not in have
    ]
    # a registered (not deployed) model's runtime renders no monitor; the demo runs it
    for rt in runtimes.runtimes_in_use(cfg):
        for obj in rt.demo_monitors(cfg).values():
            key = (obj["kind"], obj["metadata"]["name"])
            if key not in have and all((o["kind"], o["metadata"]["name"]) != key for o in extra):
                extra.append(obj)
    return [*monitors, *extra]


def with_runtime(cfg: BundleConfig, runtime: str, first: str | None = None) -> BundleConfig:
    """`cfg` with the demo's first model (`first`, else demo_models' first) served by
    `runtime` (obsctl demo --runtime)."""
    first = first or demo_models(cfg)[0][0]
    models = dict(cfg.models)
    update: dict[str, Any] = {"runtime": runtime, **runtimes.get(runtime).demo_overrides(first)}
    models[first] = models[first].model_copy(update=update)
    return cfg.model_copy(update={"models": models})


@dataclass
class LocalStack(Workspace):
    opts: StackOptions
    bins: Binaries | None = None
    ports: PortAllocator = field(default_factory=PortAllocator)
    state: StackState | None = None  # set once every part runs
    webhook: WebhookSink | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    rule_groups: list[dict[str, Any]] = field(default_factory=list)
    am_config: dict[str, Any] = field(default_factory=dict)
    page: SnapshotServer | None = None
    _tmp: Path | None = None
    _prometheus_urls: tuple[str, ...] = ()
    _state_written: Path | None = None  # the state file this stack wrote (and removes)
    _sup: Supervisor | None = None
    _children: dict[str, Child] = field(default_factory=dict)
    engines: list[EngineServer] = field(default_factory=list)

    # -- derived settings -------------------------------------------------------------
    @property
    def models(self) -> DemoModels:
        """(model key, namespace) of every model this stack runs."""
        return self.opts.models or demo_models(self.opts.cfg)

    @functools.cached_property
    def cfg(self) -> BundleConfig:
        """The bundle as a cluster running `models` has it (local/models.py demo_config):
        what the rules, routing, monitors and snapshot page are generated from."""
        return demo_config(self.opts.cfg, self.models)

    @property
    def cluster_name(self) -> str:
        """The external cluster label's value: as the bundle names this cluster."""
        return self.opts.cluster_name or self.cfg.prometheus.cluster_name or "local-demo"

    @property
    def scrape_interval(self) -> str:
        if self.opts.profile == "fast":
            return FAST["scrape_interval"]
        return self.cfg.prometheus.scrape_interval

    @property
    def evaluation_interval(self) -> str:
        if self.opts.profile == "fast":
            return FAST["evaluation_interval"]
        return self.cfg.prometheus.evaluation_interval

    @property
    def state_file(self) -> Path:
        if self._state_written is not None:
            return self._state_written
        if self.opts.state_file is not None:
            return self.opts.state_file
        return self._state_dir / f"demo-{os.getpid()}.json"

    @property
    def _state_dir(self) -> Path:
        return self.opts.state_dir or self.opts.repo_root / STATE_DIR

    @property
    def running(self) -> StackState:
        """The state of the started stack (after `start`)."""
        if self.state is None:
            raise RuntimeError("the local stack is not started")
        return self.state

    @property
    def prometheus_url(self) -> str:
        return self.running.prometheus_url

    @property
    def alertmanager_url(self) -> str:
        return self.running.alertmanager_url

    @property
    def admin_url(self) -> str:
        return self.running.sim_admin_url

    @property
    def log_dir(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "logs"

    # -- lifecycle --------------------------------------------------------------------
    def _start(self, say: Say) -> None:
        o = self.opts
        self.bins = self.bins or find_binaries()
        self._tmp = tmpdirs.mkdtemp(prefix="obsctl-demo-")
        self._sup = Supervisor(self.log_dir)
        # Config first: a bad rule or route fails before any process starts.
        rule_file, monitors = self._write_rules(), self._service_monitors()
        self.webhook = WebhookSink(port=self.ports.one()).start()
        self._write_alertmanager_config(self.webhook.url)
        # minutes on CPU: the real engines start while the rest comes up
        self.engines = real_engines.start_engines(
            self.cfg, self.models, o, self._sup, self.ports, say
        )
        sim = self._start_simulators(say)
        for engine in self.engines:
            took = engine.wait_ready(o.engine_ready_timeout_s, say)
            say(f"{engine.name} ready after {took:.0f}s at {engine.url}")
        real_engines.add_replicas(self.cfg, self.models, self.manifest, self.engines, o.targets)
        say("starting Alertmanager and Prometheus")
        am_url = self._start_alertmanager()
        prom_url = self._start_prometheus(monitors, rule_file, am_url)
        self._sup.wait_ready(
            self._children["alertmanager"], lambda: http_ok(f"{am_url}/-/ready"), 20
        )
        # The live snapshot page renders in its own thread, never in the caller's loop.
        self.page = SnapshotServer(
            prom_url, self.cfg, self.scrape_interval, port=self.ports.one()
        ).start()
        self.state = self._initial_state(sim, prom_url, am_url)
        if o.load:
            self.start_load()
        self.state = self.running.model_copy(
            update={"pids": self._sup.pids(), "ports": tuple(self.ports.ports)}
        )
        self._write_state()
        say("waiting for every scrape target to be up")
        self.wait_targets_up(o.ready_timeout_s)

    # -- the steps of _start ------------------------------------------------------------
    def _write_rules(self) -> Path:
        assert self._tmp is not None and self.bins is not None
        self.rule_groups = rulefiles.groups_for(self.cfg, self.opts.profile)
        rule_file = self._tmp / "rules.yaml"
        rulefiles.write_rule_file(self.rule_groups, rule_file, self.bins.promtool)
        return rule_file

    def _service_monitors(self) -> list[dict[str, Any]]:
        monitors = with_runtime_monitors(
            self.cfg, load_service_monitors(self.opts.repo_root / "servicemonitors")
        )
        if not monitors:
            raise RuntimeError("servicemonitors/ holds no ServiceMonitor: run `obsctl render`")
        return monitors

    def _write_alertmanager_config(self, webhook_url: str) -> None:
        assert self._tmp is not None and self.bins is not None
        self.am_config = am.local_config(self.cfg, webhook_url, self.opts.profile)
        am.write_config(self.am_config, self._tmp / "alertmanager.yml", self.bins.amtool)

    def _sim_config(self) -> SimConfig:
        o, cfg, models = self.opts, self.cfg, self.models
        n_replicas = o.replicas * len(models)
        sim_models = tuple(
            SimModel.from_profile(k, cfg.models[k], ns, runtime_of(cfg, k).sim_exporter(cfg))
            for k, ns in models
        )
        n_nodes = gpu_nodes(sim_models, o.replicas, o.gpus_per_node)
        n_heads = sum(1 for key, _ in models if runtime_of(cfg, key).sim_mode == SIM_RAY)
        aibrix = any(runtime_of(cfg, key).sim_gateway for key, _ in models)
        return SimConfig(
            models=sim_models,
            replicas=o.replicas,
            port=self.ports.block(n_replicas),
            vllm_version=o.vllm_version,
            admin_port=self.ports.one(),
            dcgm_port=self.ports.block(n_nodes),
            head_port=self.ports.block(n_heads) if n_heads else 0,
            aibrix_port=self.ports.block(2) if aibrix else 0,
            aibrix_namespace=cfg.runtimes.aibrix.system_namespace,
            gpus_per_node=o.gpus_per_node,
            monitoring_namespace=cfg.namespaces.monitoring,
            ksm_port=self.ports.one(),
            seed=o.seed or 0,
            flags=o.sim_flags,
            **epp_settings(self.cfg, self.ports, self.epp_secrets, o.epp_generation),
        )

    @functools.cached_property
    def epp_secrets(self) -> dict[tuple[str, str], str]:
        return epp_secrets(self.cfg)

    def _start_simulators(self, say: Say) -> SimConfig:
        """The simulators in their own process; returns their config once every port
        listens (the process writes its manifest then)."""
        assert self._tmp is not None and self._sup is not None
        sim = self._sim_config()
        n_replicas = sim.replicas * len(sim.models)
        n_nodes = gpu_nodes(sim.models, sim.replicas, sim.gpus_per_node)
        say(f"starting {n_replicas} simulated vLLM replicas and {n_nodes} DCGM exporters")
        spec, manifest_file = self._tmp / "sim.json", self._tmp / "manifest.json"
        write_spec(spec, sim, manifest_file)
        child = self._sup.start(
            "sim",
            [sys.executable, "-m", "observability.local.simproc", str(spec)],
            cwd=self.opts.repo_root,
        )
        self._children["sim"] = child
        self._sup.wait_ready(child, manifest_file.is_file, timeout=self.opts.ready_timeout_s)
        self.manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        return sim

    def _start_alertmanager(self) -> str:
        assert self._tmp is not None and self._sup is not None and self.bins is not None
        port = self.ports.one()
        self._children["alertmanager"] = self._sup.start(
            "alertmanager",
            [
                str(self.bins.alertmanager),
                f"--config.file={self._tmp / 'alertmanager.yml'}",
                f"--storage.path={self._tmp / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
        )
        return f"http://127.0.0.1:{port}"

    def _start_prometheus(
        self, monitors: list[dict[str, Any]], rule_file: Path, am_url: str
    ) -> str:
        """Every Prometheus replica (one, or an HA pair); returns the first one's URL."""
        assert self._tmp is not None and self._sup is not None and self.bins is not None
        urls: list[str] = []
        for i in range(max(self.opts.prometheus_replicas, 1)):
            suffix = "" if i == 0 else f"-{i}"
            port = self.ports.one()
            prometheus, prom_url = start_prometheus(
                self._sup,
                self._prometheus_config(
                    monitors, rule_file, am_url.removeprefix("http://"), replica=i, port=port
                ),
                self._tmp,
                port,
                binary=self.bins.prometheus,
                config_name=f"prometheus{suffix}.yml",
                data_dir=f"prometheus-data{suffix}",
                name=f"prometheus{suffix}",
                extra_args=[
                    "--storage.tsdb.retention.time=1d",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                    # Hidden in 2.42 (accepted): the scrape manager takes the first target set
                    # within 1 s of discovery's (fixed 5 s) first update, not up to 5 s later.
                    "--scrape.discovery-reload-interval=1s",
                    *(["--rules.alert.resend-delay=1s"] if self.opts.profile == "fast" else []),
                ],
            )
            self._children[f"prometheus{suffix}"] = prometheus
            urls.append(prom_url)
        self._prometheus_urls = tuple(urls)
        return urls[0]

    def _initial_state(self, sim: SimConfig, prom_url: str, am_url: str) -> StackState:
        assert self._tmp is not None and self.webhook is not None and self.page is not None
        return StackState(
            pid=os.getpid(),
            started_at=time.time(),
            profile=self.opts.profile,
            vllm_version=self.manifest.get("vllm_version", self.opts.vllm_version),
            prometheus_url=prom_url,
            prometheus_urls=self._prometheus_urls,
            cluster=self.cluster_name,
            alertmanager_url=am_url,
            webhook_url=self.webhook.url,
            sim_admin_url=f"http://127.0.0.1:{sim.admin_port}",
            snapshot_url=self.page.url,
            scrape_interval=self.scrape_interval,
            evaluation_interval=self.evaluation_interval,
            group_wait_s=am.group_wait_s(self.am_config),
            replicas=tuple(
                ReplicaInfo(
                    **{k: v for k, v in r.items() if k != "address"},
                    url="http://" + (r.get("address") or f"127.0.0.1:{r['port']}"),
                )
                for r in self.manifest["replicas"]
            ),
            nodes=tuple(NodeInfo(**n) for n in self.manifest.get("nodes", [])),
            ray_heads=tuple(RayHeadInfo(**h) for h in self.manifest.get("ray_heads", [])),
            aibrix=tuple(AibrixInfo(**c) for c in self.manifest.get("aibrix", [])),
            epps=tuple(EppInfo(**e) for e in self.manifest.get("epp", [])),
            tmp_dir=str(self._tmp),
            load_samples=str(self._tmp / "load-samples.jsonl"),
        )

    def start_load(self, users: int | None = None, rate: float | None = None) -> Child:
        assert self._sup is not None
        self.stop_load()
        spec = LoadSpec(
            # never a --target server: it is someone's; only watched
            targets=tuple(
                Target(r.url, r.model) for r in self.running.replicas if r.engine != "external"
            ),
            users=users or self.opts.users,
            rate=self.opts.rate if rate is None else rate,
            duration_s=None,
        )
        child = start_load(self._sup, spec, Path(self.running.load_samples))
        self._children["load"] = child
        self.state = self.running.model_copy(update={"pids": self._sup.pids()})
        return child

    def stop_load(self) -> None:
        child = self._children.pop("load", None)
        if child is None or self._sup is None:
            return
        sub = Supervisor(self._sup.log_dir, [child])
        sub.stop()
        self._sup.children.remove(child)

    def _prometheus_config(
        self,
        monitors: list[dict[str, Any]],
        rule_file: Path,
        am_address: str,
        replica: int = 0,
        port: int | None = None,
    ) -> dict[str, Any]:
        """What the operator generates: external labels `prometheus` and the replica label
        (the pod name; dropped from alerts so an HA pair's alerts deduplicate), the cluster
        label, and remote write when a central store is given."""
        cfg = self.cfg
        prom = cfg.prometheus
        name = "kube-prometheus-stack-prometheus"
        external = {
            "prometheus": f"{cfg.namespaces.monitoring}/{name}",
            prom.replica_label: f"prometheus-{name}-{replica}",
        }
        if prom.cluster_label:
            external[prom.cluster_label] = self.cluster_name
        out: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
                "external_labels": external,
            },
            "rule_files": [str(rule_file)],
            "alerting": {
                "alert_relabel_configs": [{"action": "labeldrop", "regex": prom.replica_label}],
                "alertmanagers": [
                    {"api_version": "v2", "static_configs": [{"targets": [am_address]}]}
                ],
            },
            "scrape_configs": scrape_configs(
                [*monitors, KSM_SERVICE_MONITOR],
                targets_from_manifest(self.manifest),
                default_interval=self.scrape_interval,
                interval_override=FAST["scrape_interval"] if self.opts.profile == "fast" else None,
                secrets=self.epp_secrets,
            ),
        }
        if self.opts.remote_write_url:
            out["remote_write"] = local_remote_write(cfg, self.opts.remote_write_url)
            if port is not None:  # kube-prometheus-stack's selfMonitor: queue health series
                out["scrape_configs"].append(
                    {
                        "job_name": "kube-prometheus-stack-prometheus",
                        "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                    }
                )
        return out

    def targets(self) -> list[dict[str, Any]]:
        with Prometheus(self.prometheus_url, timeout=3.0) as prom:
            return prom.targets()

    def wait_targets_up(self, timeout: float) -> float:
        assert self._sup is not None
        start = time.monotonic()
        s = self.running
        expected = len(s.replicas) + len(s.nodes) + len(s.ray_heads) + len(s.aibrix)
        while True:
            dead = [c.name for c in self._sup.dead()]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited; logs in {self.log_dir}")
            ts: list[dict[str, Any]] = []
            with contextlib.suppress(OSError, ValueError, KeyError, PromError):
                ts = self.targets()
                if len(ts) >= expected and all(t["health"] == "up" for t in ts):
                    return time.monotonic() - start
            if time.monotonic() - start > timeout:
                down = [
                    f"{t['labels'].get('pod', t['scrapeUrl'])}: {t.get('lastError') or t['health']}"
                    for t in self.targets()
                    if t["health"] != "up"
                ]
                raise RuntimeError(
                    f"targets not up after {timeout:.0f}s ({len(ts)} of {expected} discovered); "
                    f"{'; '.join(down[:3])}"
                )
            time.sleep(0.25)

    def dead_children(self) -> list[str]:
        return [c.name for c in self._sup.dead()] if self._sup else []

    def _claim_state_file(self) -> Path:
        """This stack's own file: the option, else demo-<pid>.json (demo-<pid>-<n>.json for
        a further stack in this process). Stale files of dead owners are removed."""
        if self.opts.state_file is not None:
            return self.opts.state_file
        state_dir = self._state_dir
        for stale in state_dir.glob(STATE_GLOB):
            with contextlib.suppress(OSError):  # another demo may remove it first
                if read_state(stale) is None and stale.stat().st_mtime < time.time() - 5:
                    stale.unlink()  # its owner is gone (or the file is unreadable)
        n = next(_stack_numbers)
        suffix = "" if n == 1 else f"-{n}"
        return state_dir / f"demo-{os.getpid()}{suffix}.json"

    def _write_state(self) -> None:
        path = self._state_written or self._claim_state_file()
        self.running.write(path)
        self._state_written = path

    def stop(self) -> None:
        """Idempotent: every child, the webhook, the ports, the temp dir, the state file."""
        if self._sup is not None:
            self._sup.stop()  # the real vLLM servers too: they are its children
        self.engines.clear()
        if self.page is not None:
            self.page.stop()
            self.page = None
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None
        if self._state_written is not None:  # only the file this stack wrote
            with contextlib.suppress(OSError):
                self._state_written.unlink()
            self._state_written = None
        self.release()
