"""N replicas + their nodes' DCGM exporters + the admin API, on one asyncio loop.

One aiohttp application serves every port; a handler finds its replica, exporter or admin
role from the local port the request arrived on, so a replica costs one listening socket
and a few objects, not a server of its own. Every exporter (DCGM per node,
kube-state-metrics, Ray heads, AIBrix components) is an `Exporter` (sim/exporter.py):
the cluster answers `/metrics` on its port with its exposition and its content type.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from observability.metrics.catalog import Catalog, vllm_catalog
from observability.runtimes import get as get_runtime
from observability.runtimes.base import SIM_RAY, SIM_TGI, SimPod
from observability.sim.admin import add_admin_routes
from observability.sim.aibrix import CONTROLLER, GATEWAY, AibrixComponent
from observability.sim.api import Replica, add_replica_routes, http_metrics_middleware
from observability.sim.dcgm import Gpu, Node
from observability.sim.engine import Engine, EngineConfig
from observability.sim.epp import EndpointPicker, endpoint_pickers, manifest_entry
from observability.sim.exporter import Exporter
from observability.sim.faults import LIFECYCLE_FAULTS, Faults
from observability.sim.flags import SimFlags, nixl_role
from observability.sim.ksm import KsmNode, KsmPod, KubeState
from observability.sim.kvcache import KVCache
from observability.sim.latency import DEFAULT_PROFILE, load_profile
from observability.sim.metrics import ReplicaMetrics, set_created_series
from observability.sim.ray import RayHead, RayServeStats
from observability.sim.tgi import TgiMetrics

if TYPE_CHECKING:
    from observability.config import ModelProfile

__all__ = ["SimCluster", "SimConfig", "SimModel", "SimThread", "gpu_nodes"]


@dataclass(frozen=True)
class SimModel:
    key: str
    served_name: str
    namespace: str = "vllm"
    max_model_len: int = 8192
    gpu_memory_utilization: float = 0.9
    max_num_seqs: int = 128
    gpus: int = 1
    nodes: int = 1  # pods per replica (an LWS group: a leader and nodes-1 workers)
    runtime: str = "vllm"  # models.<key>.runtime: how the replica's metrics are exposed
    # the runtime exporter release imitated (Runtime.sim_exporter: RayService's Ray version
    # decides its naming generation); "" = the runtime's default
    exporter: str = ""
    inference_pool: bool = False  # routed by the pool's endpoint picker (SimConfig.epp_port)

    @property
    def workload(self) -> str:
        """Deployment/Service name stem and container name of the model's pods (TGI's
        workload is `tgi-<key>`, every other runtime's pods are vLLM's)."""
        return get_runtime(self.runtime).pod_stem

    @classmethod
    def from_profile(
        cls, key: str, profile: ModelProfile, namespace: str, exporter: str = ""
    ) -> SimModel:
        """The one place a bundle.yaml model profile becomes simulator settings."""
        return cls(
            exporter=exporter,
            key=key,
            served_name=profile.served_name,
            namespace=namespace,
            max_model_len=profile.max_model_len,
            gpu_memory_utilization=profile.gpu_memory_utilization,
            max_num_seqs=profile.max_num_seqs,
            gpus=profile.gpus,
            nodes=profile.nodes,
            runtime=profile.runtime,
            inference_pool=profile.inference_pool is not None,
        )


@dataclass(frozen=True)
class SimConfig:
    models: tuple[SimModel, ...]
    replicas: int = 1
    port: int = 8000
    vllm_version: str = "latest"
    admin_port: int = 9300
    dcgm_port: int = 9400
    ksm_port: int = 0  # 0: no fake kube-state-metrics
    head_port: int = 9500  # first port of the Ray head pods (one per rayservice model)
    aibrix_port: int = (
        0  # first of two ports (gateway plugins, controller) when an aibrix model runs
    )
    aibrix_namespace: str = "aibrix-system"
    # the inference pool's endpoint picker (0: none); it requires `epp_token` as bearer
    epp_port: int = 0
    epp_pool: str = "vllm-pool"
    epp_namespace: str = "vllm"
    epp_token: str = ""
    epp_service: str = ""  # default <pool>-epp, as llm-d-router's chart names it
    epp_port_name: str = "http-metrics"
    epp_generation: str = "0.10.0"  # sim/epp.py GENERATIONS: an older router's names
    gpus_per_node: int = 4
    monitoring_namespace: str = "monitoring"
    seed: int = 0
    time_scale: float = 1.0
    profile: str = DEFAULT_PROFILE
    host: str = "127.0.0.1"
    faults: tuple[tuple[str, str, tuple[tuple[str, Any], ...]], ...] = ()
    flags: SimFlags = field(default_factory=SimFlags)  # serve flags and KV connectors


def gpu_nodes(models: tuple[SimModel, ...], replicas: int, gpus_per_node: int) -> int:
    """GPU nodes (DCGM exporters, one port each) the cluster creates: every pod of every
    replica holds its model's `gpus` (an LWS group `nodes` pods)."""
    gpus = sum(replicas * m.nodes * m.gpus for m in models)
    return max(1, math.ceil(gpus / max(gpus_per_node, 1)))


def _suffix(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


@dataclass
class SimCluster:
    cfg: SimConfig
    replicas: list[Replica] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    version: str = ""

    def __post_init__(self) -> None:
        catalog = vllm_catalog(self.cfg.vllm_version)
        self.version = catalog.version
        set_created_series(not catalog.version.startswith("0.7."))
        self._profile = load_profile(self.cfg.profile)
        self._rng = random.Random(self.cfg.seed)
        self.faults = Faults([], [])
        self.faults.listeners.append(self._apply_faults)
        self.heads: list[RayHead] = []
        self.pods: dict[str, SimPod] = {}  # every model pod, serving or not, by name
        self._pod_model: dict[str, str] = {}  # pod -> model key
        for model in self.cfg.models:
            self._add_model(model, catalog)
        self.ksm = self._kube_state()
        self.aibrix = self._aibrix_components()
        self.epp = self._endpoint_picker()
        self.faults.replicas = set(self.pods) | {
            c.pod for c in (*self.aibrix, *self.heads, *self.epp)
        }
        self.faults.nodes = {n.name for n in self.nodes}
        self._replica_at: dict[int, Replica] = {r.port: r for r in self.replicas}
        exporters: list[Exporter] = [*self.nodes, *self.heads, *self.aibrix, *self.epp]
        if self.cfg.ksm_port:
            exporters.append(self.ksm)
        self.exporters: dict[int, Exporter] = {e.port: e for e in exporters}
        self._sites: dict[int, web.TCPSite] = {}
        self._runner: web.AppRunner | None = None
        self._crashed: set[int] = set()
        self._tasks: set[asyncio.Future[Any]] = set()

    # --- construction -----------------------------------------------------------------------
    def _add_model(self, model: SimModel, catalog: Catalog) -> None:
        """The model's replicas (and its Ray head, for a Ray runtime), each on free GPUs."""
        rng = self._rng
        rs_hash = _suffix(rng, 10)
        rt = get_runtime(model.runtime)
        ray = rt.sim_mode == SIM_RAY
        pinned = rt.sim_vllm_version(model.exporter)
        model_catalog = vllm_catalog(pinned) if pinned else catalog
        ray_version = model.exporter or RayServeStats.ray_version
        if ray:
            cluster = f"vllm-{model.key}-raycluster-{_suffix(rng, 5)}"
            head = RayHead(
                f"{cluster}-head-{_suffix(rng, 5)}",
                model.namespace,
                model.key,
                self.cfg.head_port + len(self.heads),
                ray_version=ray_version,
            )
            self.heads.append(head)
        for group in range(self.cfg.replicas):
            suffix = _suffix(rng, 5)
            pods = (
                [
                    SimPod(
                        f"{cluster}-gpu-group-worker-{suffix}",
                        model.workload,
                        {},
                        f"{model.workload}-{model.key}",
                    )
                ]
                if ray
                else rt.sim_pods(model.key, model.nodes, group, rs_hash, suffix)
            )
            pod = pods[0].name
            role = nixl_role(group, self.cfg.replicas) if self.cfg.flags.nixl else ""
            metrics, engine = self._engine(model, model_catalog, role)
            placed = []
            for p in pods:  # every pod of the group holds its GPUs; the engine drives them
                self.pods[p.name] = p
                self._pod_model[p.name] = model.key
                held = [self._free_gpu() for _ in range(model.gpus)]
                for _, gpu in held:
                    gpu.engine = engine
                    gpu.gpu_memory_utilization = model.gpu_memory_utilization
                    gpu.pod = {
                        "pod": p.name,
                        "namespace": model.namespace,
                        "container": p.container,
                    }
                placed += held
            replica = Replica(
                pod,
                model.namespace,
                model.key,
                model.served_name,
                self.cfg.port + len(self.replicas),
                placed[0][0].name,
                model_catalog.version,
                engine,
                metrics,
                self.faults,
                model.max_model_len,
                runtime=model.runtime,
                serve=RayServeStats(_suffix(rng, 8), ray_version=ray_version) if ray else None,
            )
            self.replicas.append(replica)
            if replica.serve is not None:
                replica.serve.application = model.served_name  # as serveConfigV2 names it
                head.replicas.append(replica.serve)

    def _engine(self, model: SimModel, catalog: Catalog, role: str = "") -> tuple[Any, Engine]:
        """One replica's metrics and engine, its KV cache sized from the GPU profile."""
        profile = self._profile
        kv = KVCache(
            profile.num_gpu_blocks(model.gpu_memory_utilization, model.gpus), profile.block_size
        )
        info = {
            "block_size": str(profile.block_size),
            "gpu_memory_utilization": str(model.gpu_memory_utilization),
            "num_gpu_blocks": str(kv.num_blocks),
            "num_cpu_blocks": "0",
            "cache_dtype": "auto",
            "enable_prefix_caching": "True",
            "is_attention_free": "False",
            "swap_space_bytes": str(4 * 1024**3),
            "cpu_offload_gb": "0",
            "calculate_kv_scales": "False",
        }
        metrics: Any = (
            TgiMetrics(model.max_model_len, model.max_model_len - 1)
            if get_runtime(model.runtime).sim_mode == SIM_TGI
            else ReplicaMetrics(
                catalog,
                model.served_name,
                info,
                model.max_model_len,
                self.cfg.flags,
                role,
                (profile.block_size, profile.kv_bytes_per_token, kv.num_blocks),
            )
        )
        engine = Engine(
            profile,
            kv,
            EngineConfig(
                max_num_seqs=model.max_num_seqs,
                max_model_len=model.max_model_len,
                time_scale=self.cfg.time_scale,
            ),
            metrics,
            seed=self._rng.randrange(2**31),
        )
        if self.cfg.flags.kv_cache_metrics and getattr(metrics, "flagged", None):
            kv.clock, kv.observer = engine.now, metrics.flagged.block_residency
        return metrics, engine

    def _free_gpu(self) -> tuple[Node, Gpu]:
        """The first GPU no engine holds; GPUs are taken in order and never given back, so
        when there is none the cluster gets a node (with its DCGM exporter's port)."""
        free = next(((n, g) for n in self.nodes for g in n.gpus if g.engine is None), None)
        if free is not None:
            return free
        idx = len(self.nodes)
        node = Node(f"gpu-node-{idx}", [], self.faults, self.cfg.dcgm_port + idx)
        for i in range(self.cfg.gpus_per_node):
            uid = hashlib.sha1(f"{self.cfg.seed}/{idx}/{i}".encode()).hexdigest()
            node.gpus.append(
                Gpu(
                    i,
                    f"GPU-{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}",
                    f"00000000:{0x18 + i * 0x10:02X}:00.0",
                    self._profile.gpu,
                )
            )
        self.nodes.append(node)
        return node, node.gpus[0]

    def _kube_state(self) -> KubeState:
        models = {m.key: m for m in self.cfg.models}
        node_of = {g.pod["pod"]: n.name for n in self.nodes for g in n.gpus if g.pod}
        return KubeState(
            [
                KsmPod(
                    p.name,
                    models[self._pod_model[name]].namespace,
                    self._pod_model[name],
                    node_of.get(name, ""),
                    models[self._pod_model[name]].gpus,
                    container=p.container,
                    deployment=p.deployment,
                    labels=p.labels or None,
                )
                for name, p in self.pods.items()
            ],
            [KsmNode(n.name, len(n.gpus)) for n in self.nodes],
            self.faults,
            started_at=time.time(),
            port=self.cfg.ksm_port,
        )

    def _aibrix_components(self) -> list[AibrixComponent]:
        """The AIBrix gateway plugins and controller when an aibrix model runs; the gateway
        counts what its replicas answer."""
        if not any(get_runtime(m.runtime).sim_gateway for m in self.cfg.models):
            return []
        base = self.cfg.aibrix_port or self.cfg.head_port + 100
        components = [
            AibrixComponent.make(c, self.cfg.aibrix_namespace, base + i, self.cfg.seed)
            for i, c in enumerate((GATEWAY, CONTROLLER))
        ]
        for r in self.replicas:
            if get_runtime(r.runtime).sim_gateway:
                r.gateway = components[0]
        return components

    def _endpoint_picker(self) -> list[EndpointPicker]:
        """The pool's EPP (SimConfig.epp_port), fed by the pool's models' replicas."""
        members = [r for r in self.replicas if self._model(r).inference_pool] or self.replicas
        return endpoint_pickers(self.cfg, members, lambda r: r.port not in self._crashed)

    # --- identity ---------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        gpus_of: dict[str, list[dict[str, Any]]] = {}
        for node in self.nodes:
            for g in node.gpus:
                if g.pod:
                    gpus_of.setdefault(g.pod["pod"], []).append({"index": g.index, "uuid": g.uuid})
        return {
            "replicas": [
                {
                    "pod": r.pod,
                    "namespace": r.namespace,
                    "service": f"{self._model(r).workload}-{r.model_key}",
                    "container": self.pods[r.pod].container,
                    "model": r.model,
                    "model_key": r.model_key,
                    "port": r.port,
                    "node": r.node,
                    "gpus": gpus_of.get(r.pod, []),
                    "runtime": r.runtime,
                }
                for r in self.replicas
            ],
            "aibrix": [
                {"component": c.component, "pod": c.pod, "namespace": c.namespace, "port": c.port}
                for c in self.aibrix
            ],
            "epp": [manifest_entry(self.cfg, e) for e in self.epp],
            "ray_heads": [
                {
                    "pod": h.pod,
                    "namespace": h.namespace,
                    "model_key": h.model_key,
                    "port": h.port,
                    "node": "cpu-node-0",
                }
                for h in self.heads
            ],
            "nodes": [
                {
                    "node": n.name,
                    "dcgm_port": n.port,
                    "namespace": self.cfg.monitoring_namespace,
                    "pod": f"dcgm-exporter-{hashlib.sha1(n.name.encode()).hexdigest()[:5]}",
                    "service": "dcgm-exporter",
                }
                for n in self.nodes
            ],
            "vllm_version": self.version,
            **(
                {
                    "kube_state_metrics": {
                        "port": self.cfg.ksm_port,
                        "namespace": self.cfg.monitoring_namespace,
                        "pod": "kube-prometheus-stack-kube-state-metrics-5d9c7b8f4-x2x7q",
                        "service": "kube-prometheus-stack-kube-state-metrics",
                        "node": self.nodes[0].name if self.nodes else "",
                    }
                }
                if self.cfg.ksm_port
                else {}
            ),
        }

    def _model(self, r: Replica) -> SimModel:
        return next(m for m in self.cfg.models if m.key == r.model_key)

    @staticmethod
    def _port(request: web.Request) -> int | None:
        """The local port the request arrived on: which replica, exporter or admin it asks."""
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        return sock[1] if sock else None

    def _replica(self, request: web.Request) -> Replica | None:
        port = self._port(request)
        return self._replica_at.get(port) if port is not None else None

    def _is_admin(self, request: web.Request) -> bool:
        return self._port(request) == self.cfg.admin_port

    # --- faults -------------------------------------------------------------------------------
    def _apply_faults(self) -> None:
        self.ksm.on_faults_changed()
        for r in self.replicas:
            slow = self.faults.get("slow-gpu", r.pod)
            r.engine.slow_factor = slow.params["factor"] if slow else 1.0
            kvp = self.faults.get("kv-pressure", r.pod)
            frac = kvp.params["block_fraction"] if kvp else 1.0
            r.engine.kv.limit = max(2, int(r.engine.kv.num_blocks * frac))
            asleep = self.faults.get("sleep", r.pod)
            r.engine.set_hung(self.faults.get("engine-hang", r.pod) is not None or bool(asleep))
            level = asleep.params["level"] if asleep else 0
            if isinstance(r.metrics, ReplicaMetrics) and r.metrics.sleep_level(level):
                r.engine.abort_all(r.inflight)  # /sleep's default mode aborts (vLLM >= 0.26)
            # a pod that is not scheduled, crash-looping or still loading has no listener
            crashed = any(self.faults.get(f, r.pod) for f in ("crash", *LIFECYCLE_FAULTS))
            if crashed != (r.port in self._crashed):
                self._spawn(self._crash(r) if crashed else self._restart(r.port))
        for e in self.epp:
            e.unready = self.faults.get("pool-unready", e.pod) is not None
            failing = self.faults.get("scheduling-failures", e.pod)
            e.failure_ratio = failing.params["ratio"] if failing else 0.0
            e.datalayer_errors = self.faults.get("datalayer-errors", e.pod) is not None
        for r in (r for r in self.replicas if getattr(r.metrics, "flagged", None)):
            nixl = self.faults.get("nixl-transfer-failures", r.pod)
            r.metrics.flagged.nixl_failure_ratio = nixl.params["ratio"] if nixl else 0.0
        for c in (*self.aibrix, *self.heads, *self.epp):
            crashed = self.faults.get("crash", c.pod) is not None
            if crashed != (c.port in self._crashed):
                self._spawn(self._crash_port(c.port) if crashed else self._restart(c.port))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _crash(self, r: Replica) -> None:
        """A replica dies: its requests are aborted, its port goes down (`_crash_port`)."""
        r.engine.abort_all(r.inflight)
        await self._crash_port(r.port)

    async def _crash_port(self, port: int) -> None:
        """Behave like a dead process: no listener, and every open connection to the port
        (Prometheus keeps its scrape connection alive) is reset, so `up` drops to 0."""
        self._set_crashed(port, True)
        site = self._sites.pop(port, None)
        if site is not None:
            await site.stop()
        server = self._runner.server if self._runner is not None else None
        for conn in list(server.connections if server is not None else ()):
            transport = conn.transport
            sock = transport.get_extra_info("sockname") if transport is not None else None
            if transport is not None and sock and sock[1] == port:
                transport.abort()  # RST, like the kernel closing a dead process's sockets

    async def _restart(self, port: int) -> None:
        self._set_crashed(port, False)
        await self._listen(port)

    def _set_crashed(self, port: int, crashed: bool) -> None:
        """Mark the port down or up; a Ray replica's head reports it unhealthy meanwhile."""
        if crashed:
            self._crashed.add(port)
        else:
            self._crashed.discard(port)
        replica = self._replica_at.get(port)
        if replica is not None and replica.serve is not None:
            replica.serve.healthy = not crashed

    # --- lifecycle ----------------------------------------------------------------------------
    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, self.cfg.host, port, reuse_address=True)
        await site.start()
        self._sites[port] = site

    async def start(self, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        middlewares = [self._port_middleware, http_metrics_middleware(self._replica)]
        app = web.Application(middlewares=middlewares, client_max_size=16 * 1024 * 1024)
        add_replica_routes(app, self._replica)
        add_admin_routes(app, self._is_admin, self.manifest, self.faults)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        ports = [self.cfg.admin_port, *self.exporters, *self._replica_at]
        for i, port in enumerate(ports, 1):
            try:
                await self._listen(port)
            except OSError as err:
                await self.stop()
                raise OSError(
                    f"port {port} on {self.cfg.host} is not free ({err.strerror}): "
                    "pick other ports with --port/--dcgm-port/--admin-port"
                ) from None
            if progress:
                progress(i, len(ports))
        for fault, target, params in self.cfg.faults:
            self.faults.add(fault, target, dict(params))
        return self.manifest()

    @web.middleware
    async def _port_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Dispatch by the port a request arrived on: a crashed pod's port resets the
        connection, an exporter's port answers `/metrics` (404 otherwise), a replica's or the
        admin port goes on to the routes, any other port is 404."""
        port = self._port(request)
        if port in self._crashed:
            # a request that raced the crash on a connection accepted before it: no answer
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError(f"the pod on port {port} is crashed")
        exporter = self.exporters.get(port) if port is not None else None
        if exporter is not None:
            if request.path != "/metrics":
                raise web.HTTPNotFound()
            authorised = getattr(exporter, "authorised", None)
            if authorised is not None and not authorised(request.headers.get("Authorization")):
                raise web.HTTPUnauthorized()  # the EPP's /metrics without a valid token
            body = exporter.exposition()
            return web.Response(body=body, headers={"Content-Type": exporter.content_type})
        if self._replica(request) is None and not self._is_admin(request):
            raise web.HTTPNotFound()
        return await handler(request)

    async def stop(self) -> None:
        for r in self.replicas:
            r.engine.abort_all(r.inflight)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._sites.clear()


class SimThread:
    """Run a SimCluster on a background thread's loop (tests, demo): `with SimThread(cfg)`."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.loop = asyncio.new_event_loop()
        self.cluster: SimCluster | None = None
        self.manifest: dict[str, Any] = {}
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> dict[str, Any]:
        self._thread.start()
        self.cluster = self.call(lambda: SimCluster(self.cfg))
        self.manifest = asyncio.run_coroutine_threadsafe(self.cluster.start(), self.loop).result(30)
        return self.manifest

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the sim loop and return its result (for inspecting engine state)."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def stop(self) -> None:
        if self.cluster is not None:
            asyncio.run_coroutine_threadsafe(self.cluster.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> SimThread:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
