"""The named fault scenarios: what each injects, where, and which alerts it must raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EPP_TARGET",
    "PRESSURE_KV_BLOCKS",
    "PRESSURE_MAX_TOKENS",
    "PRESSURE_USERS",
    "REAL_ENGINE_ARGS",
    "REAL_FAULTS",
    "REAL_SCENARIOS",
    "SCENARIOS",
    "Scenario",
]

EPP_TARGET = "epp"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    fault: str | None  # simulator fault name; None = load only
    # replica | model | second-model | last-model | node | runtime:<name> | epp (the
    # inference pool's endpoint picker: the stack runs with gateway.inference_pool on) |
    # real (the first real vLLM replica)
    target: str
    expected: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    # alerts the fault genuinely causes besides the expected ones: alert -> why
    tolerated: dict[str, str] = field(default_factory=dict)
    # share of the rule's range window the fault must fill (scenarios/minimum.py; a budget
    # the expression waits out, such as a model's load time, is read from the rule itself)
    window_fraction: float = 0.0
    observe_s: float = 0.0  # benign: how long to watch for false positives
    burst_users: int = 0  # extra back-to-back clients on the targets while the fault lasts
    burst_max_tokens: int | None = None  # their reply length; None = the seed mix's
    # alerts that may fire in Prometheus but Alertmanager must mute (a delivery fails the
    # scenario): alert -> the inhibiting cause
    inhibited: dict[str, str] = field(default_factory=dict)
    # what the stack must run for the fault to exist (scenarios/stack.py): "nixl" = the
    # simulator's NIXL prefill/decode pairs (`--nixl`) behind a disaggregated inference pool
    needs: tuple[str, ...] = ()

    @property
    def needs_pool(self) -> bool:
        """It faults the inference pool's endpoint picker: its stack runs with
        gateway.inference_pool on (local/router.py: with_inference_pool)."""
        return self.target == EPP_TARGET


# A pod kube-state-metrics explains: the symptoms Alertmanager must mute, and the marker.
_LIFECYCLE_MUTED = {
    "VLLMTargetDown": "a pod that is not running exposes no /metrics; its cause mutes it",
    "VLLMMetricsAbsent": "the model's only pod is the target; its cause mutes it",
    "VLLMReplicasUnavailable": "one replica short; the pod-level cause mutes it",
}
_STARTING = {
    "VLLMModelPodStarting": "severity none, null receiver: the inhibition source while the pod "
    "is not ready and no cause alert has taken over",
}
# Watch past the 1m `for` of TargetDown/MetricsAbsent (fast profile), so a leak would show.
_LIFECYCLE_OBSERVE_S = 80.0
# fast profile: VLLMEngineStalled's 1 m window and 1 m `for`, plus a scrape and an evaluation
_SLEEP_OBSERVE_S = 150.0
# The router's symptoms of a fault on the pool's model servers, when the pool routes to
# them (a stack with gateway.inference_pool on: obsctl demo --inference-pool).
_ROUTER_TTFT = {
    "InferencePoolHighTimeToFirstToken": "the pool routes to the slowed model: the router "
    "times its first tokens too",
}


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "benign",
            "load only; nothing but the Watchdog may fire",
            None,
            "replica",
            (),
            observe_s=45.0,
        ),
        Scenario(
            "kv-saturation",
            "one replica's usable KV blocks shrink until the cache is full",
            "kv-pressure",
            "replica",
            ("VLLMKVCacheSaturated",),
            # ~450 usable blocks and enough demand (128 clients back to back, ~900 blocks
            # wanted) to keep them full. The pool holds ~60 sequences, so the one-step dip
            # after a preemption (V1 admits nothing in that step) stays a few percent; with
            # ~220 blocks such dips crossed 0.9 often enough to keep restarting `for`.
            params={"block_fraction": 0.016},
            # The rule takes the median of usage over its window, which crosses the
            # threshold once the cache has been full for half of it.
            window_fraction=0.5,
            burst_users=128,
            tolerated={
                "VLLMRequestPreemptions": "a full cache preempts running sequences to make room",
                "VLLMHighTimeToFirstToken": "a full cache admits no new sequence: 128 clients "
                "queue, and their TTFT includes the wait (it paged at 69 s on a RayService "
                "stack whose simulator shared two busy cores)",
                **_ROUTER_TTFT,
            },
        ),
        Scenario(
            "latency-degradation",
            "every replica of one model steps 100x slower (TTFT and inter-token latency)",
            "slow-gpu",
            "model",
            ("VLLMHighInterTokenLatency", "VLLMHighTimeToFirstToken"),
            # 6 ms steps become 0.6 s: ITL 0.6 s (> 0.2 s), TTFT 0.6-1.2 s (p99 > 1 s). A
            # factor of 10 (60 ms) stays under both thresholds.
            params={"factor": 100.0},
            tolerated={
                "VLLMLatencySLOBurnRate": "slow first tokens burn the TTFT SLO",
                "VLLMHighRequestLatency": "every token is slower, so whole requests are",
                "VLLMQueueBacklog": "slower steps drain the queue slower",
                **_ROUTER_TTFT,
            },
            # p99 over 5m crosses once >1% of the window's observations are slow: a few
            # seconds of slowed tokens after a minute of demo load (more after a long run)
            window_fraction=0.01,
            # Open-loop arrivals: Locust's users wait out their slowed replies (~60 s each),
            # so alone they bring the slowed model a handful of first tokens a minute, and
            # on a busy CI machine too few crossed 1% of the window in time. Short requests
            # back to back keep first tokens coming, as real clients would.
            burst_users=12,
            burst_max_tokens=2,
        ),
        Scenario(
            "error-storm",
            "half the requests of one model fail with HTTP 500",
            "error-storm",
            "model",
            ("VLLMHighErrorRate",),
            params={"ratio": 0.5},
            # a ratio of rates: the first scrape with failures already puts it at ~0.5
            tolerated={
                "InferencePoolRequestErrors": "the pool routes to the failing model: the "
                "router counts its errors too",
            },
        ),
        Scenario(
            "replica-crash",
            "one replica's port closes (the process died)",
            "crash",
            "replica",
            ("VLLMTargetDown",),
        ),
        Scenario(
            "engine-hang",
            "every replica of one model accepts requests but produces no tokens",
            "engine-hang",
            "model",
            ("VLLMEngineStalled",),
            tolerated={
                "VLLMQueueBacklog": "requests pile up behind the hung engine",
                "VLLMHighTimeToFirstToken": "no request gets a first token",
                "VLLMLatencySLOBurnRate": "the missing first tokens burn the TTFT SLO",
                # clients give up on a hung engine, uncounted (sim/metrics.py CLIENT_ABORTS);
                # the requests it holds finish late once it serves again
                "VLLMHighRequestLatency": "requests the hang held finish late",
            },
            window_fraction=1.0,
        ),
        Scenario(
            "sleep-mode",
            "every replica of one model is put to sleep (level 1) while requests keep coming",
            "sleep",
            "model",
            (),
            params={"level": 1},
            tolerated={
                "VLLMQueueBacklog": "requests sent to a sleeping engine wait for /wake_up",
                "VLLMHighTimeToFirstToken": "no request gets a first token while it sleeps",
                "VLLMLatencySLOBurnRate": "the missing first tokens burn the TTFT SLO",
                "VLLMEngineStuckAsleep": "requests wait on engines that are all asleep: the "
                "page that says so (the stalled alert stays quiet)",
            },
            # past VLLMEngineStalled's window and `for`: a sleeping engine is not stalled
            observe_s=_SLEEP_OBSERVE_S,
        ),
        Scenario(
            "nixl-transfer-failures",
            "half the NIXL KV pulls of one model's decode workers fail (prefill/decode pairs)",
            "nixl-transfer-failures",
            "model",
            ("VLLMNixlTransferFailures",),
            params={"ratio": 0.5},
            # a counter rate > 0: the first scrape after a failed pull crosses; short
            # requests back to back keep prompts (one pull each) reaching the decode worker
            burst_users=4,
            burst_max_tokens=2,
            needs=("nixl",),
        ),
        Scenario(
            "metrics-disabled",
            "every replica of one model (the stack's last) stops exposing vllm:* metrics",
            "metrics-disabled",
            # The stack's rules treat every model it runs as deployed (local/models.py), so
            # each has its own VLLMMetricsAbsent; run_scenario fails if another model's
            # fires. With `--models 3` the last model shares its namespace with the first.
            "last-model",
            ("VLLMMetricsAbsent",),
        ),
        Scenario(
            "gpu-xid",
            "a GPU reports XID 79 (fallen off the bus)",
            "gpu-xid",
            "node",
            ("GPUXidErrors",),
            params={"xid": 79},
        ),
        Scenario(
            "gpu-overheat",
            "a GPU runs at 95 C",
            "gpu-overheat",
            "node",
            ("GPUHighTemperature",),
            params={"celsius": 95.0},
        ),
        Scenario(
            "pod-pending-gpu",
            "a replica's pod is recreated and cannot be scheduled: a batch job took every free GPU",
            "pod-pending-gpu",
            "replica",
            ("VLLMPodUnschedulable",),
            tolerated=_STARTING,
            inhibited=_LIFECYCLE_MUTED,
            observe_s=_LIFECYCLE_OBSERVE_S,
        ),
        Scenario(
            "crash-loop",
            "a replica's container exits at start and waits in CrashLoopBackOff",
            "crash-loop",
            "replica",
            ("VLLMPodCrashLooping",),
            params={"reason": "Error"},
            tolerated=_STARTING,
            inhibited=_LIFECYCLE_MUTED,
            observe_s=_LIFECYCLE_OBSERVE_S,
        ),
        Scenario(
            "oom-crash-loop",
            "a replica's container is OOMKilled while loading and crash-loops",
            "crash-loop",
            "replica",
            ("VLLMPodOOMKilled",),
            params={"reason": "OOMKilled"},
            tolerated=_STARTING,
            inhibited={
                **_LIFECYCLE_MUTED,
                "VLLMPodCrashLooping": "the OOM kill is the reason for the crash loop",
            },
            # increase() over the restart counter needs the first restart scraped twice
            window_fraction=0.0,
            observe_s=_LIFECYCLE_OBSERVE_S,
        ),
        Scenario(
            "slow-start",
            "a replica restarts and is still loading the model when its expected_load_time ends",
            "slow-start",
            "replica",
            ("VLLMPodNotReady",),
            tolerated=_STARTING,
            inhibited=_LIFECYCLE_MUTED,
            observe_s=_LIFECYCLE_OBSERVE_S,
        ),
        # The inference router (docs/router.md): faults on the pool's endpoint picker, run
        # on a stack with the pool on. `up`, a gauge and a rate over 0 cross at the first
        # scrape after the fault (window 0); scheduling failures are a ratio of rates. The
        # two rate alerts stay firing for their 5m window after the fault: they run last.
        Scenario(
            "epp-crash",
            "the inference pool's endpoint picker crashes (its metrics port closes)",
            "crash",
            EPP_TARGET,
            ("InferencePoolEPPDown",),
        ),
        Scenario(
            "pool-unready",
            "the endpoint picker sees no ready endpoint in its pool",
            "pool-unready",
            EPP_TARGET,
            ("InferencePoolNoReadyEndpoints",),
        ),
        Scenario(
            "datalayer-errors",
            "the endpoint picker's polls of its endpoints fail (it routes blind)",
            "datalayer-errors",
            EPP_TARGET,
            ("InferencePoolDatalayerPollErrors",),
        ),
        Scenario(
            "scheduling-failures",
            "half the endpoint picker's scheduling attempts fail",
            "scheduling-failures",
            EPP_TARGET,
            ("InferencePoolSchedulingFailures",),
            params={"ratio": 0.5},
            # failing attempts over all attempts, each a 5m rate: with half of them failing
            # the ratio crosses scheduling_failure_ratio (0.05) once the failures fill a
            # tenth of the window (on a stack older than it: 72 s and 78 s pages on a demo
            # that had run 2-3 minutes, 63 s on a fresh one)
            window_fraction=0.1,
        ),
    )
}


# -- a real vLLM (`obsctl scenario run NAME --engine vllm-cpu`, docs/real-engine.md) -------
# The simulator's admin API cannot fault a real engine: these faults are caused the way
# they happen. "pressure": PRESSURE_USERS clients back to back on the real replica, whose
# KV cache is shrunk to PRESSURE_KV_BLOCKS blocks (3,072 tokens of the tiny model) by
# REAL_ENGINE_ARGS; "kill": SIGKILL of the real server's process group.
REAL_FAULTS = ("pressure", "kill")
PRESSURE_KV_BLOCKS = 24
REAL_ENGINE_ARGS = ("--num-gpu-blocks-override", str(PRESSURE_KV_BLOCKS))
# Measured on vllm-cpu 0.32.0 with 24 blocks: 560 clients kept ~540-550 requests waiting
# (the engine runs 8-23), the cache at 1.0 and ~8 preemptions/s within 5 s. The API server
# takes a burst in at its own pace on a busy machine (620 clients crossed 500 waiting ~11 s
# after the start at a load average of 15: VLLMQueueBacklog at 1.20x its minimum); 700
# cross alerting.waiting_requests_warning (500) sooner and stay clear of it.
PRESSURE_USERS = 700
# Replies of 400 tokens (the tiny model serves 512): sequences outgrow their blocks and
# are preempted; short prompts fit one block each, so many are admitted and grow at once.
PRESSURE_MAX_TOKENS = 400
_PRESSURE_TOLERATED = {
    "VLLMKVCacheSaturated": "a full cache: the small KV cache is what makes the backlog",
    "VLLMRequestPreemptions": "a full cache preempts running sequences to make room",
    "VLLMQueueBacklog": "more clients than the small cache admits wait in the queue",
    "VLLMHighTimeToFirstToken": "waiting requests get their first token late",
    "VLLMLatencySLOBurnRate": "the late first tokens burn the TTFT SLO",
    "VLLMHighRequestLatency": "queued and preempted requests take longer end to end",
}


def _pressure(name: str, summary: str, alert: str, fraction: float) -> Scenario:
    return Scenario(
        name,
        summary,
        "pressure",
        "real",
        (alert,),
        tolerated={k: v for k, v in _PRESSURE_TOLERATED.items() if k != alert},
        window_fraction=fraction,
        burst_users=PRESSURE_USERS,
        burst_max_tokens=PRESSURE_MAX_TOKENS,
    )


REAL_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        # the median over the 10s window crosses 0.9 once the cache was full for half of it
        _pressure(
            "kv-saturation",
            "more clients than the real engine's small KV cache holds: the cache fills and "
            "running sequences are preempted",
            "VLLMKVCacheSaturated",
            0.5,
        ),
        _pressure(
            "queue-backlog",
            "more clients than the real engine runs: over 500 requests wait in its queue",
            "VLLMQueueBacklog",
            0.0,
        ),
        # last: the engine does not come back
        Scenario(
            "target-down",
            "the real vLLM server is killed (SIGKILL of its process group)",
            "kill",
            "real",
            ("VLLMTargetDown",),
        ),
    )
}
