"""The whole local stack: simulators, Prometheus, Alertmanager, webhook sink and load.

`LocalStack(options).start()` brings everything up on 127.0.0.1 with reserved ports and a
private temp directory, waits until every scrape target is up, and writes a state file so
`obsctl verify --local` and `obsctl scenario run` can find it. `stop()` (also on Ctrl-C,
SIGTERM, or an exception during start) stops every child, frees every port, and removes
the temp directory and its own state file.

Each stack owns its state file (`.obsctl/demo-<pid>.json`), so two demos in one checkout
never overwrite or remove each other's; `read_state` picks the newest live one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from observability import runtimes
from observability.config import BundleConfig
from observability.load.runner import LoadSpec, Target, start_load
from observability.local import alertmanager as am
from observability.local import rules as rulefiles
from observability.local.binaries import Binaries, find_binaries
from observability.local.pageserver import SnapshotServer
from observability.local.ports import PortAllocator
from observability.local.prometheus import start_prometheus
from observability.local.scrapeconfig import (
    KSM_SERVICE_MONITOR,
    load_service_monitors,
    scrape_configs,
    targets_from_manifest,
)
from observability.local.webhook import WebhookSink
from observability.process import Child, Supervisor, http_ok
from observability.promapi import PromError, Prometheus

# Runtimes the simulator has an exposition for (sim/cluster.py SimModel.runtime).
SIM_RUNTIMES = frozenset({"vllm", "tgi"})

__all__ = [
    "FAST",
    "STATE_DIR",
    "LocalStack",
    "StackOptions",
    "live_states",
    "read_state",
]

# Where stacks write their state, relative to the checkout: `.obsctl/demo-<pid>.json`.
# Readers consider every `demo-*.json` there (the pre-per-stack `demo-state.json` too).
STATE_DIR = Path(".obsctl")
_STATE_GLOB = "demo-*.json"
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
    models: tuple[tuple[str, str], ...] = ()  # (model key, namespace); empty = demo default
    gpus_per_node: int = 2
    load: bool = True
    users: int = 6
    rate: float = 3.0
    state_file: Path | None = None  # None = <state_dir>/demo-<pid>.json
    state_dir: Path | None = None  # None = repo_root/.obsctl
    ready_timeout_s: float = 30.0
    seed: int | None = None


def demo_models(cfg: BundleConfig) -> tuple[tuple[str, str], ...]:
    """Two models, each in the namespace bundle.yaml gives it: the first deployed model and
    another one of the registry, preferring one in a different namespace (one model only
    if the registry has one); plus the registry's first model of each other runtime the
    simulator can serve (TGI), so every exposition the bundle maps shows on the pane. The
    rendered ServiceMonitor selects every model namespace, so the demo scrapes them with
    no change to it."""
    first = cfg.vllm.deploy[0] if cfg.vllm.deploy else next(iter(cfg.models))
    out = [(first, cfg.model_namespace(first))]
    others = [k for k in cfg.models if k != first and cfg.models[k].runtime == "vllm"]
    others.sort(key=lambda k: cfg.model_namespace(k) == out[0][1])  # stable: other ns first
    if others:
        out.append((others[0], cfg.model_namespace(others[0])))
    for runtime in sorted(SIM_RUNTIMES - {"vllm"}):
        key = next((k for k, m in cfg.models.items() if m.runtime == runtime), None)
        if key is not None and all(k != key for k, _ in out):
            out.append((key, cfg.model_namespace(key)))
    return tuple(out)


def _owner_alive(state: dict[str, Any]) -> bool:
    """The writing process still runs (and is not a later process that reused its pid)."""
    try:
        proc = psutil.Process(int(state["pid"]))
        created = proc.create_time()
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False
    started = state.get("started_at")
    # A reused pid belongs to a process created after the demo wrote its state.
    return not isinstance(started, (int, float)) or created <= started + 1.0


def _read_one(path: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(state, dict) or not _owner_alive(state):
        return None
    return {**state, "state_file": str(path)}


def live_states(state_dir: Path) -> list[dict[str, Any]]:
    """Every live demo's state in `state_dir` (owner process alive), newest first; each
    carries `state_file`, the file it came from."""
    found = [s for p in sorted(state_dir.glob(_STATE_GLOB)) if (s := _read_one(p))]
    return sorted(found, key=lambda s: float(s.get("started_at") or 0), reverse=True)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def read_state(path: Path, warn: Any = _stderr) -> dict[str, Any] | None:
    """The running stack's state, or None when there is none (or its owner is gone).

    `path` is one stack's state file, or a state directory (`STATE_DIR` of a checkout):
    then every `demo-*.json` there is considered and the newest live one wins; `warn` gets
    one line naming the others when several demos run."""
    if path.is_dir():
        states = live_states(path)
        if len(states) > 1 and warn is not None:
            others = ", ".join(f"pid {s['pid']}" for s in states[1:])
            warn(
                f"{len(states)} obsctl demo stacks are running; using the newest (pid "
                f"{states[0]['pid']}, Prometheus {states[0].get('prometheus_url')}), not "
                f"{others}: stop the others or pass the URLs explicitly"
            )
        return states[0] if states else None
    return _read_one(path)


@dataclass
class LocalStack:
    opts: StackOptions
    bins: Binaries | None = None
    ports: PortAllocator = field(default_factory=PortAllocator)
    state: dict[str, Any] = field(default_factory=dict)
    webhook: WebhookSink | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    rule_groups: list[dict[str, Any]] = field(default_factory=list)
    am_config: dict[str, Any] = field(default_factory=dict)
    page: SnapshotServer | None = None
    _tmp: Path | None = None
    _state_written: Path | None = None  # the state file this stack wrote (and removes)
    _sup: Supervisor | None = None
    _children: dict[str, Child] = field(default_factory=dict)

    # -- derived settings -------------------------------------------------------------
    @property
    def scrape_interval(self) -> str:
        if self.opts.profile == "fast":
            return FAST["scrape_interval"]
        return self.opts.cfg.prometheus.scrape_interval

    @property
    def evaluation_interval(self) -> str:
        if self.opts.profile == "fast":
            return FAST["evaluation_interval"]
        return self.opts.cfg.prometheus.evaluation_interval

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
    def prometheus_url(self) -> str:
        return self.state["prometheus_url"]

    @property
    def alertmanager_url(self) -> str:
        return self.state["alertmanager_url"]

    @property
    def admin_url(self) -> str:
        return self.state["sim_admin_url"]

    @property
    def log_dir(self) -> Path:
        assert self._tmp is not None
        return self._tmp / "logs"

    # -- lifecycle --------------------------------------------------------------------
    def start(self, progress: Any = None) -> LocalStack:
        say = progress or (lambda _msg: None)
        try:
            self._start(say)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, say: Any) -> None:
        o = self.opts
        self.bins = self.bins or find_binaries()
        self._tmp = Path(tempfile.mkdtemp(prefix="obsctl-demo-"))
        self._sup = Supervisor(self.log_dir)
        models = o.models or demo_models(o.cfg)
        n_replicas = o.replicas * len(models)
        n_nodes = math.ceil(n_replicas / max(o.gpus_per_node, 1))

        # Config first: a bad rule or route fails before any process starts.
        self.rule_groups = rulefiles.groups_for(o.cfg, o.profile)
        rule_file = self._tmp / "rules.yaml"
        rulefiles.write_rule_file(self.rule_groups, rule_file, self.bins.promtool)
        monitors = load_service_monitors(o.repo_root / "servicemonitors")
        if not monitors:
            raise RuntimeError("servicemonitors/ holds no ServiceMonitor: run `obsctl render`")

        self.webhook = WebhookSink(port=self.ports.one()).start()
        self.am_config = am.local_config(o.cfg, self.webhook.url, o.profile)
        am.write_config(self.am_config, self._tmp / "alertmanager.yml", self.bins.amtool)

        sim_port = self.ports.block(n_replicas)
        dcgm_port = self.ports.block(n_nodes)
        admin_port = self.ports.one()
        ksm_port = self.ports.one()
        manifest_file = self._tmp / "manifest.json"
        say(f"starting {n_replicas} simulated vLLM replicas and {n_nodes} DCGM exporters")
        spec = {
            "models": [
                {
                    "key": key,
                    "served_name": o.cfg.models[key].served_name,
                    "namespace": ns,
                    "max_model_len": o.cfg.models[key].max_model_len,
                    "gpu_memory_utilization": o.cfg.models[key].gpu_memory_utilization,
                    "max_num_seqs": o.cfg.models[key].max_num_seqs,
                    "gpus": o.cfg.models[key].gpus,
                    "runtime": o.cfg.models[key].runtime,
                }
                for key, ns in models
            ],
            "replicas": o.replicas,
            "port": sim_port,
            "vllm_version": o.vllm_version,
            "admin_port": admin_port,
            "dcgm_port": dcgm_port,
            "ksm_port": ksm_port,
            "gpus_per_node": o.gpus_per_node,
            "monitoring_namespace": o.cfg.namespaces.monitoring,
            "seed": o.seed or 0,
            "manifest_out": str(manifest_file),
        }
        (self._tmp / "sim.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
        sim = self._sup.start(
            "sim",
            [sys.executable, "-m", "observability.local.simproc", str(self._tmp / "sim.json")],
            cwd=o.repo_root,
        )
        self._children["sim"] = sim
        self._sup.wait_ready(sim, manifest_file.is_file, timeout=o.ready_timeout_s)
        self.manifest = json.loads(manifest_file.read_text(encoding="utf-8"))

        am_port, prom_port = self.ports.one(), self.ports.one()
        say("starting Alertmanager and Prometheus")
        alertmanager = self._sup.start(
            "alertmanager",
            [
                str(self.bins.alertmanager),
                f"--config.file={self._tmp / 'alertmanager.yml'}",
                f"--storage.path={self._tmp / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
        )
        self._children["alertmanager"] = alertmanager
        prometheus, prom_url = start_prometheus(
            self._sup,
            self._prometheus_config(monitors, rule_file, am_port),
            self._tmp,
            prom_port,
            binary=self.bins.prometheus,
            data_dir="prometheus-data",
            extra_args=[
                "--storage.tsdb.retention.time=1d",
                "--web.enable-lifecycle",
                "--log.level=warn",
                # Hidden in 2.42 (accepted): the scrape manager takes the first target set
                # within 1 s of discovery's (fixed 5 s) first update, not up to 5 s later.
                "--scrape.discovery-reload-interval=1s",
                *(["--rules.alert.resend-delay=1s"] if o.profile == "fast" else []),
            ],
        )
        self._children["prometheus"] = prometheus
        am_url = f"http://127.0.0.1:{am_port}"
        self._sup.wait_ready(alertmanager, lambda: http_ok(f"{am_url}/-/ready"), 20)
        # The live snapshot page renders in its own thread, never in the caller's loop.
        self.page = SnapshotServer(
            prom_url, o.cfg, self.scrape_interval, port=self.ports.one()
        ).start()

        self.state = {
            "pid": os.getpid(),
            "started_at": time.time(),
            "profile": o.profile,
            "vllm_version": self.manifest.get("vllm_version", o.vllm_version),
            "prometheus_url": prom_url,
            "alertmanager_url": am_url,
            "webhook_url": self.webhook.url,
            "sim_admin_url": f"http://127.0.0.1:{admin_port}",
            "snapshot_url": self.page.url,
            "scrape_interval": self.scrape_interval,
            "evaluation_interval": self.evaluation_interval,
            "group_wait": am.group_wait_s(self.am_config),
            "replicas": [
                {**r, "url": f"http://127.0.0.1:{r['port']}"} for r in self.manifest["replicas"]
            ],
            "nodes": self.manifest.get("nodes", []),
            "pids": {},
            "ports": [],
            "tmp_dir": str(self._tmp),
            "load_samples": str(self._tmp / "load-samples.jsonl"),
        }
        if o.load:
            self.start_load()
        self.state["pids"] = self._sup.pids()
        self.state["ports"] = self.ports.ports
        self._write_state()
        say("waiting for every scrape target to be up")
        self.wait_targets_up(o.ready_timeout_s)

    def start_load(self, users: int | None = None, rate: float | None = None) -> Child:
        assert self._sup is not None
        self.stop_load()
        spec = LoadSpec(
            targets=tuple(Target(r["url"], r["model"]) for r in self.state["replicas"]),
            users=users or self.opts.users,
            rate=self.opts.rate if rate is None else rate,
            duration_s=None,
        )
        child = start_load(self._sup, spec, Path(self.state["load_samples"]))
        self._children["load"] = child
        self.state["pids"] = self._sup.pids()
        return child

    def stop_load(self) -> None:
        child = self._children.pop("load", None)
        if child is None or self._sup is None:
            return
        sub = Supervisor(self._sup.log_dir, [child])
        sub.stop()
        self._sup.children.remove(child)

    def _prometheus_config(
        self, monitors: list[dict[str, Any]], rule_file: Path, am_port: int
    ) -> dict[str, Any]:
        cfg = self.opts.cfg
        external = {"prometheus": f"{cfg.namespaces.monitoring}/kube-prometheus-stack-prometheus"}
        if cfg.prometheus.cluster_label:
            external[cfg.prometheus.cluster_label] = "local-demo"
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
                "external_labels": external,
            },
            "rule_files": [str(rule_file)],
            "alerting": {
                "alertmanagers": [
                    {"api_version": "v2", "static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
                ]
            },
            "scrape_configs": scrape_configs(
                [*monitors, KSM_SERVICE_MONITOR, *self._runtime_monitors(monitors)],
                targets_from_manifest(self.manifest),
                default_interval=self.scrape_interval,
                interval_override=FAST["scrape_interval"] if self.opts.profile == "fast" else None,
            ),
        }

    def _runtime_monitors(self, loaded: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Monitors of the demo models' runtimes that servicemonitors/ does not hold
        (a registered model no deployment uses yet renders none)."""
        names = {m.get("metadata", {}).get("name") for m in loaded}
        out = []
        for key in {r["model_key"] for r in self.manifest["replicas"]}:
            rt = runtimes.runtime_of(self.opts.cfg, key)
            for mon in rt.demo_monitors(self.opts.cfg).values():
                if mon["metadata"]["name"] not in names:
                    names.add(mon["metadata"]["name"])
                    out.append(mon)
        return out

    def targets(self) -> list[dict[str, Any]]:
        with Prometheus(self.prometheus_url, timeout=3.0) as prom:
            return prom.targets()

    def wait_targets_up(self, timeout: float) -> float:
        assert self._sup is not None
        start = time.monotonic()
        expected = len(self.state["replicas"]) + len(self.state["nodes"])
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
        for stale in state_dir.glob(_STATE_GLOB):
            with contextlib.suppress(OSError):  # another demo may remove it first
                if _read_one(stale) is None and stale.stat().st_mtime < time.time() - 5:
                    stale.unlink()  # its owner is gone (or the file is unreadable)
        n = next(_stack_numbers)
        suffix = "" if n == 1 else f"-{n}"
        return state_dir / f"demo-{os.getpid()}{suffix}.json"

    def _write_state(self) -> None:
        path = self._state_written or self._claim_state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.state, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        self._state_written = path

    def stop(self) -> None:
        """Idempotent: every child, the webhook, the ports, the temp dir, the state file."""
        if self._sup is not None:
            self._sup.stop()
        if self.page is not None:
            self.page.stop()
            self.page = None
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None
        self.ports.release()
        if self._state_written is not None:  # only the file this stack wrote
            with contextlib.suppress(OSError):
                self._state_written.unlink()
            self._state_written = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
