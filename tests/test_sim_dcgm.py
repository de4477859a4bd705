"""DCGM exporter simulator: values follow the replica on each GPU, not constants or noise.

Layout (gpus_per_node=2, one replica per model): gpu-node-0 holds `busy` (gmu 0.9, the
only replica we load) on GPU 0 and `quiet` (gmu 0.6) on GPU 1; gpu-node-1 holds `other`
on GPU 0 and nothing on GPU 1. Power (tau 5 s) and temperature (tau 60 s) lag in wall
seconds, so the load phase runs at time_scale 1 for a few seconds.
"""

from __future__ import annotations

import threading
import time
from itertools import pairwise

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sim_helpers import scrape, sim_config, value

from observability.httppool import shared_client
from observability.sim import SimModel, SimThread
from observability.sim.latency import DEFAULT_PROFILE, load_profile

pytestmark = pytest.mark.timeout(90)

SPEC = load_profile(DEFAULT_PROFILE).gpu
IDLE_W, MAX_W = SPEC.idle_power_w, SPEC.max_power_w
AMBIENT, MAX_C = SPEC.ambient_c, SPEC.max_load_c
TOTAL_MIB = SPEC.memory_mib
GMU = {"busy": 0.9, "quiet": 0.6, "other": 0.75}
POD_LABELS = ("container", "namespace", "pod")
BASE_LABELS = (
    "gpu",
    "UUID",
    "pci_bus_id",
    "device",
    "modelName",
    "Hostname",
    "DCGM_FI_DRIVER_VERSION",
)

Gpus = dict[tuple[str, str], dict[str, float]]  # (Hostname, gpu) -> field -> value


@pytest.fixture(scope="module")
def sim(make_sim) -> SimThread:
    models = tuple(
        SimModel(key, f"org/{key}-8b", namespace=f"ns-{key}", gpu_memory_utilization=g)
        for key, g in GMU.items()
    )
    s = make_sim(sim_config(models, replicas=1, gpus_per_node=2, time_scale=1.0))
    for node in s.manifest["nodes"]:
        _scrape(node["dcgm_port"])  # the first scrape starts each GPU's clock
    return s


def _scrape(port: int) -> str:
    resp = shared_client().get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert resp.status_code == 200
    return resp.text


def _parse(text: str) -> tuple[Gpus, dict[tuple[str, str], dict[str, str]]]:
    values: Gpus = {}
    labels: dict[tuple[str, str], dict[str, str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.labels["Hostname"], s.labels["gpu"])
            # keyed by family: the parser names a counter's sample `<name>_total`, while
            # dcgm-exporter keeps the field name (no suffix) on the wire
            values.setdefault(key, {})[fam.name] = s.value
            prev = labels.setdefault(key, dict(s.labels))
            assert prev == s.labels, f"{fam.name} labels differ from the other fields of {key}"
    return values, labels


def _node(sim: SimThread, i: int) -> dict:
    return sim.manifest["nodes"][i]


def _replica(sim: SimThread, key: str) -> dict:
    return next(r for r in sim.manifest["replicas"] if r["model_key"] == key)


def _gpu_of(sim: SimThread, key: str) -> tuple[str, str]:
    r = _replica(sim, key)
    return r["node"], str(r["gpus"][0]["index"])


def _sample(sim: SimThread, node: int = 0) -> Gpus:
    return _parse(_scrape(_node(sim, node)["dcgm_port"]))[0]


def _fault(sim: SimThread, fault: str, target: str, **params: object) -> None:
    admin = f"http://127.0.0.1:{sim.cfg.admin_port}"
    body = {"fault": fault, "target": target, "params": params}
    assert shared_client().post(f"{admin}/faults", json=body, timeout=5).status_code == 200


def _clear(sim: SimThread) -> None:
    assert httpx.delete(f"http://127.0.0.1:{sim.cfg.admin_port}/faults", timeout=5).is_success


class _Load:
    """`clients` back-to-back streaming completions; stop() closes the open streams."""

    def __init__(self, port: int, model: str, clients: int) -> None:
        self.stop_event = threading.Event()
        self.tokens = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(port, model), daemon=True)
            for _ in range(clients)
        ]

    def _run(self, port: int, model: str) -> None:
        body = {
            "model": model,
            "prompt": "explain how continuous batching keeps a GPU busy " * 8,
            "max_tokens": 400,
            "ignore_eos": True,
            "stream": True,
        }
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while not self.stop_event.is_set():
                try:
                    with client.stream("POST", "/v1/completions", json=body) as resp:
                        if resp.status_code != 200:
                            self.errors.append(f"status {resp.status_code}")
                            return
                        for line in resp.iter_lines():
                            if self.stop_event.is_set():
                                break  # leaving the block closes the stream: a cancel
                            if line.startswith("data: {"):
                                with self._lock:
                                    self.tokens += 1
                except httpx.HTTPError as err:
                    self.errors.append(repr(err))
                    return

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self._threads:
            t.join(10)


def test_labels_identify_gpu_and_only_used_gpus_carry_the_pod(sim):
    reps = {r["pod"]: r for r in sim.manifest["replicas"]}
    seen_pods = set()
    for i in (0, 1):
        text = _scrape(_node(sim, i)["dcgm_port"])
        _, labels = _parse(text)
        assert len(labels) == 2  # gpus_per_node
        for (host, gpu), lbl in labels.items():
            assert host == _node(sim, i)["node"]
            assert lbl["device"] == f"nvidia{gpu}"
            assert lbl["modelName"] == SPEC.model_name
            assert lbl["DCGM_FI_DRIVER_VERSION"] == SPEC.driver_version
            assert lbl["UUID"].startswith("GPU-")
            used_by = [r for r in reps.values() if r["node"] == host and int(gpu) in _indices(r)]
            if used_by:
                (r,) = used_by
                assert set(lbl) == {*BASE_LABELS, *POD_LABELS}
                assert (lbl["pod"], lbl["namespace"], lbl["container"]) == (
                    r["pod"],
                    r["namespace"],
                    "vllm",
                )
                assert lbl["UUID"] == r["gpus"][0]["uuid"]
                seen_pods.add(lbl["pod"])
            else:
                assert set(lbl) == set(BASE_LABELS), f"unused GPU {host}/{gpu} has pod labels"
        # dcgm-exporter's template order: fixed labels first, then the sorted extras
        line = next(ln for ln in text.splitlines() if ln.startswith("DCGM_FI_DEV_GPU_TEMP{"))
        names = [p.split("=")[0] for p in line[line.index("{") + 1 : line.index("}")].split(",")]
        assert names[: len(BASE_LABELS)] == list(BASE_LABELS)
        assert names[len(BASE_LABELS) :] == sorted(names[len(BASE_LABELS) :])
    assert seen_pods == set(reps)  # every replica's GPU is labelled with its pod
    # the unused GPU is node 1's GPU 1
    assert _replica(sim, "other")["node"] == _node(sim, 1)["node"]


def _indices(r: dict) -> set[int]:
    return {g["index"] for g in r["gpus"]}


def test_idle_gpus_show_preallocation_and_idle_physics(sim):
    time.sleep(1.0)
    for i in (0, 1):
        host = _node(sim, i)["node"]
        gpus = _sample(sim, i)
        for (h, gpu), v in gpus.items():
            assert v["DCGM_FI_DEV_GPU_UTIL"] == 0, (h, gpu)
            assert v["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] == 0
            assert v["DCGM_FI_DEV_POWER_USAGE"] == pytest.approx(IDLE_W, abs=1)
            assert v["DCGM_FI_DEV_GPU_TEMP"] == pytest.approx(AMBIENT, abs=0.5)
            assert v["DCGM_FI_DEV_XID_ERRORS"] == 0
            used, free = v["DCGM_FI_DEV_FB_USED"], v["DCGM_FI_DEV_FB_FREE"]
            reserved = v["DCGM_FI_DEV_FB_RESERVED"]
            # used + free + reserved = total (NVML v2), or used + free = total (v1)
            assert TOTAL_MIB - reserved <= used + free <= TOTAL_MIB, (h, gpu, used, free)
        # vLLM preallocates gpu_memory_utilization x total even with no request in flight
        for key, gmu in GMU.items():
            if _replica(sim, key)["node"] == host:
                used = gpus[_gpu_of(sim, key)]["DCGM_FI_DEV_FB_USED"]
                assert used == pytest.approx(gmu * TOTAL_MIB, abs=0.01 * TOTAL_MIB), key
    unused = _sample(sim, 1)[(_node(sim, 1)["node"], "1")]
    assert unused["DCGM_FI_DEV_FB_USED"] < 0.01 * TOTAL_MIB


def test_load_drives_utilization_power_and_temperature_with_lag(sim):
    busy, quiet = _gpu_of(sim, "busy"), _gpu_of(sim, "quiet")
    rep = _replica(sim, "busy")
    load = _Load(rep["port"], rep["model"], clients=4)
    idle = _sample(sim)
    energy0 = idle[busy]["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"]
    load.start()
    t_start = time.monotonic()
    loaded = []
    stamps = [t_start]
    for _ in range(6):
        time.sleep(1.0)
        loaded.append(_sample(sim))
        stamps.append(time.monotonic())
    load.stop()
    assert not load.errors, load.errors
    assert load.tokens > 100, "the load generator did not stream"
    # the last streams end when the engine says so (on a busy machine a straggler ran past
    # load.stop() and showed as 1% in the first quiet sample)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and value(
        scrape(rep["port"]), "vllm:num_requests_running", model_name=rep["model"]
    ):
        time.sleep(0.1)
    _sample(sim)  # splits the utilization window at the end of the load
    after = []
    for _ in range(4):
        time.sleep(1.0)
        after.append(_sample(sim))

    def series(samples: list[Gpus], gpu: tuple[str, str], name: str) -> list[float]:
        return [s[gpu][name] for s in samples]

    util = series(loaded, busy, "DCGM_FI_DEV_GPU_UTIL")
    power = series(loaded, busy, "DCGM_FI_DEV_POWER_USAGE")
    temp = series(loaded, busy, "DCGM_FI_DEV_GPU_TEMP")
    span_w, span_c = MAX_W - IDLE_W, MAX_C - AMBIENT

    # utilization follows the engine: busy while streams run, the profiling ratio agrees
    assert min(util[1:]) >= 50, util
    for s in loaded:
        assert s[busy]["DCGM_FI_PROF_GR_ENGINE_ACTIVE"] == pytest.approx(
            s[busy]["DCGM_FI_DEV_GPU_UTIL"] / 100, abs=0.011
        )
        assert s[busy]["DCGM_FI_DEV_SM_CLOCK"] > idle[busy]["DCGM_FI_DEV_SM_CLOCK"]

    # power lags: the first second is far below what the utilization asks for, then it climbs
    assert power[0] - IDLE_W < 0.4 * span_w * util[0] / 100, (power, util)
    assert power[0] > IDLE_W + 1
    assert power[-1] - IDLE_W > 1.8 * (power[0] - IDLE_W), power
    assert power[-1] > IDLE_W + 0.3 * span_w, power
    # temperature lags more than power and rises every sample while the load lasts
    assert all(b > a for a, b in pairwise([AMBIENT, *temp])), temp
    assert (temp[-1] - AMBIENT) / span_c < (power[-1] - IDLE_W) / span_w, (temp, power)
    assert temp[-1] < MAX_C

    # energy is the integral of power: each window adds between the power at its ends
    energy = [energy0, *series(loaded, busy, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION")]
    for k in range(1, len(energy)):
        dt = stamps[k] - stamps[k - 1]
        lo, hi = sorted(([IDLE_W, *power])[k - 1 : k + 1])
        assert 0.8 * lo * dt * 1000 <= energy[k] - energy[k - 1] <= 1.2 * hi * dt * 1000

    # after the load: utilization drops to 0 at once, power decays (no jump to idle),
    # temperature stays up (60 s time constant)
    u_after = series(after, busy, "DCGM_FI_DEV_GPU_UTIL")
    p_after = series(after, busy, "DCGM_FI_DEV_POWER_USAGE")
    t_after = series(after, busy, "DCGM_FI_DEV_GPU_TEMP")
    assert u_after == [0] * len(after), u_after
    assert all(b < a for a, b in pairwise(p_after)), p_after
    assert p_after[0] - IDLE_W > 0.4 * (power[-1] - IDLE_W), (power[-1], p_after)
    assert p_after[-1] - IDLE_W > 0.2 * (power[-1] - IDLE_W), p_after
    assert p_after[-1] - IDLE_W < 0.8 * (p_after[0] - IDLE_W), p_after
    assert min(t_after) > AMBIENT + 0.8 * (temp[-1] - AMBIENT), (temp, t_after)
    assert max(abs(b - a) for a, b in pairwise([temp[-1], *t_after])) < 1.0

    # the neighbour GPU (same node, idle replica) never moved
    for s in [*loaded, *after]:
        q = s[quiet]
        assert q["DCGM_FI_DEV_GPU_UTIL"] == 0
        assert q["DCGM_FI_DEV_POWER_USAGE"] == pytest.approx(IDLE_W, abs=0.01)
        assert q["DCGM_FI_DEV_GPU_TEMP"] == pytest.approx(AMBIENT, abs=0.01)
        assert q["DCGM_FI_DEV_FB_USED"] == idle[quiet]["DCGM_FI_DEV_FB_USED"]
        # the busy GPU's framebuffer is the same preallocation under load
        assert s[busy]["DCGM_FI_DEV_FB_USED"] == idle[busy]["DCGM_FI_DEV_FB_USED"]


def test_gpu_overheat_raises_temperature_on_the_target_node_only(sim):
    target = _node(sim, 1)["node"]
    before0, before1 = _sample(sim, 0), _sample(sim, 1)
    try:
        _fault(sim, "gpu-overheat", target, celsius=97)
        hot, spared = _sample(sim, 1), _sample(sim, 0)
        for gpu, v in hot.items():
            assert v["DCGM_FI_DEV_GPU_TEMP"] == 97, gpu
            assert v["DCGM_FI_DEV_MEMORY_TEMP"] >= 97
            assert v["DCGM_FI_DEV_XID_ERRORS"] == 0
            assert v["DCGM_FI_DEV_FB_USED"] == before1[gpu]["DCGM_FI_DEV_FB_USED"]
        for gpu, v in spared.items():
            assert v["DCGM_FI_DEV_GPU_TEMP"] < 90, gpu
            assert v["DCGM_FI_DEV_GPU_TEMP"] == pytest.approx(
                before0[gpu]["DCGM_FI_DEV_GPU_TEMP"], abs=1.0
            )
    finally:
        _clear(sim)
    cooled = _sample(sim, 1)
    assert all(v["DCGM_FI_DEV_GPU_TEMP"] < 90 for v in cooled.values())


def test_gpu_xid_sets_last_code_on_the_target_node_only(sim):
    target, other = _node(sim, 1)["node"], _node(sim, 0)["node"]
    try:
        _fault(sim, "gpu-xid", target, xid=79)
        hit, spared = _sample(sim, 1), _sample(sim, 0)
        assert {v["DCGM_FI_DEV_XID_ERRORS"] for v in hit.values()} == {79}
        assert {v["DCGM_FI_DEV_XID_ERRORS"] for v in spared.values()} == {0}
        assert all(h == other for h, _ in spared)
        # a gauge of the *last* XID: a second error replaces the code (no sum, no count)
        _fault(sim, "gpu-xid", target, xid=48)
        hit = _sample(sim, 1)
        assert {v["DCGM_FI_DEV_XID_ERRORS"] for v in hit.values()} == {48}
        # the XID changes nothing else on the GPU
        before = _sample(sim, 1)
        for gpu, v in before.items():
            assert v["DCGM_FI_DEV_FB_USED"] == hit[gpu]["DCGM_FI_DEV_FB_USED"]
    finally:
        _clear(sim)


def test_xid_stays_after_the_fault_is_cleared(sim):
    target = _node(sim, 1)["node"]
    try:
        _fault(sim, "gpu-xid", target, xid=31)
        assert {v["DCGM_FI_DEV_XID_ERRORS"] for v in _sample(sim, 1).values()} == {31}
    finally:
        _clear(sim)
    assert {v["DCGM_FI_DEV_XID_ERRORS"] for v in _sample(sim, 1).values()} == {31}
