"""vllm.lifecycle: the failures before the first token, from kube-state-metrics.

A model pod that never becomes ready exposes no `/metrics`, so the vLLM rules can only say
"absent". kube-state-metrics (installed by kube-prometheus-stack; the bundle allowlists the
pod and deployment labels below) says why. Model pods are found by namespace and the label
`app.kubernetes.io/instance: <model key>` that every reference workload carries (the models
`vllm.deploy` names, like VLLMMetricsAbsent); the
recording rules here turn that into a `model_name` label so the causes share the labels of
VLLMTargetDown / VLLMMetricsAbsent and Alertmanager can inhibit those.

Every cause alert comes as a pair: `critical` while the model has no ready pod (users are
down, it pages), `warning` while other replicas still serve. VLLMModelPodStarting
(severity `none`, routed to no receiver) marks a pod that is not ready but still inside
its budget (Pending, pulling, downloading, loading): it only mutes TargetDown/MetricsAbsent,
so the page that follows names the cause instead of "absent".
"""

from __future__ import annotations

import json
from typing import Any

from observability.alerting.timing import Timing, scaled, scaled_seconds
from observability.config import BundleConfig
from observability.metrics.kube import GPU_RESOURCE, KSM, KSM_JOB, ksm_label
from observability.rulebase import Scope, alert, record
from observability.runtimes import runtime_of

__all__ = [
    "BUDGET",
    "CAUSES",
    "DEPLOYMENT_INFO",
    "GPU_UNREQUESTED",
    "GROUP",
    "MODEL_INFO",
    "MODEL_POD_LABEL",
    "READY_PODS",
    "RECORDED_FROM",
    "STARTING",
    "group",
]

GROUP = "vllm.lifecycle"
# The pod/deployment label naming the model key on every reference workload (kube.py
# vllm_labels); kube-state-metrics exposes it once allowlisted (render/kps_values.py).
MODEL_POD_LABEL = "app.kubernetes.io/instance"

MODEL_INFO = "namespace_pod:vllm_model:info"
BUDGET = "namespace_pod:vllm_load_budget:seconds"
DEPLOYMENT_INFO = "namespace_deployment:vllm_model:info"
READY_PODS = "namespace_model_name:kube_pod_status_ready:sum"
GPU_UNREQUESTED = "cluster:nvidia_gpu_unrequested:sum"

# What each recording reads (panel descriptions name them; tests/test_lifecycle.py checks
# this against the generated rules).
RECORDED_FROM: dict[str, tuple[str, ...]] = {
    MODEL_INFO: (KSM.POD_LABELS,),
    BUDGET: (KSM.POD_LABELS,),
    DEPLOYMENT_INFO: (KSM.DEPLOYMENT_LABELS,),
    READY_PODS: (KSM.POD_READY, MODEL_INFO),
    GPU_UNREQUESTED: (KSM.NODE_ALLOCATABLE, KSM.RESOURCE_REQUESTS, KSM.POD_PHASE),
}

STARTING = "VLLMModelPodStarting"
# The cause alerts: each mutes TargetDown (same pod) and MetricsAbsent (same model).
CAUSES = (
    "VLLMPodUnschedulable",
    "VLLMPodCrashLooping",
    "VLLMPodCannotStart",
    "VLLMPodOOMKilled",
    "VLLMPodNotReady",
)

# Waiting reasons that mean "will not start without a fix" (image or config), by group.
_CANNOT_START = "ImagePullBackOff|ErrImagePull|InvalidImageName|CreateContainerConfigError"
_WAITING_CAUSES = f"CrashLoopBackOff|{_CANNOT_START}"
_POD = "pod {{ $labels.pod }} of {{ $labels.model_name }} in namespace {{ $labels.namespace }}"


# An always-empty vector: what the per-model recordings hold when vllm.deploy is empty.
_NOTHING = "absent(vector(1))"


def _q(text: str) -> str:
    """A PromQL string literal (JSON escaping is a valid PromQL double-quoted string)."""
    return json.dumps(text)


def _ksm(name: str, matchers: str = "") -> str:
    inner = f'job="{KSM_JOB}"' + (f", {matchers}" if matchers else "")
    return f"{name}{{{inner}}}"


def _model_pods(cfg: BundleConfig, key: str) -> str:
    """Matchers of one model's objects in kube_pod_labels / kube_deployment_labels: its
    namespace and the label its runtime names it by (`app.kubernetes.io/instance: <key>` on
    every reference workload; KServe's own label otherwise)."""
    label, value = runtime_of(cfg, key).model_pod_label(cfg, key)
    return f'namespace="{cfg.model_namespace(key)}", {ksm_label(label)}={_q(value)}'


def _per_model(cfg: BundleConfig, sc: Scope, keys: tuple[str, ...], labels_metric: str) -> str:
    """`<labels_metric>` of every registered model's objects, labelled with its model_name;
    the value is filled in by the caller with `* <n>`."""
    by = sc.by(keys)
    parts = []
    for key, m in cfg.deployed_models:
        sel = _ksm(labels_metric, _model_pods(cfg, key))
        parts.append(
            f'label_replace(group by ({by}) ({sel}), "model_name", {_q(m.served_name)}, "", "")'
        )
    return "\nor\n".join(parts) or _NOTHING


def _budget(cfg: BundleConfig, t: Timing, sc: Scope, pod: tuple[str, ...]) -> str:
    by = sc.by(pod)
    parts = []
    for key, m in cfg.deployed_models:
        sel = _ksm(KSM.POD_LABELS, _model_pods(cfg, key))
        seconds = scaled_seconds(t, m.expected_load_time)
        parts.append(
            f'label_replace(group by ({by}) ({sel}) * {seconds}, "model_name", '
            f'{_q(m.served_name)}, "", "")'
        )
    return "\nor\n".join(parts) or _NOTHING


def _with_model(expr: str, sc: Scope, pod: tuple[str, ...]) -> str:
    return f"({expr})\n* {sc.on(pod)} group_left (model_name) {MODEL_INFO}"


def _split(
    name: str,
    expr: str,
    for_: str,
    summary: str,
    description: str,
    sc: Scope,
) -> list[dict[str, Any]]:
    """The critical/warning pair: critical while the model has no ready pod."""
    model = sc.on(sc.model)
    serving = f"{READY_PODS} > 0"
    return [
        alert(
            name,
            f"({expr})\nunless {model}\n{serving}",
            for_,
            "critical",
            summary,
            description + " The model has no ready pod.",
        ),
        alert(
            name,
            f"({expr})\nand {model}\n{serving}",
            for_,
            "warning",
            summary,
            description + " Other replicas still serve.",
        ),
    ]


def _dur(t: Timing, duration: str) -> str:
    return scaled(t, duration)


def _sum(labels: tuple[str, ...], sc: Scope, expr: str) -> str:
    return f"sum by ({sc.by(labels)}) ({expr})" if labels else f"sum({expr})"


def recording_rules(cfg: BundleConfig, t: Timing, sc: Scope) -> list[dict[str, Any]]:
    pre = (sc.cluster,) if sc.cluster else ()
    pod = (*pre, "namespace", "pod")
    ready = _ksm(KSM.POD_READY, 'condition="true"')
    scheduled_gpu = _ksm(KSM.RESOURCE_REQUESTS, f'resource="{GPU_RESOURCE}", node!=""')
    live = _ksm(KSM.POD_PHASE, 'phase=~"Pending|Running"')
    allocatable = _sum(pre, sc, _ksm(KSM.NODE_ALLOCATABLE, f'resource="{GPU_RESOURCE}"'))
    requested = _sum(pre, sc, f"{scheduled_gpu}\n  * {sc.on(pod)} group_left () ({live} == 1)")
    return [
        record(MODEL_INFO, _per_model(cfg, sc, pod, KSM.POD_LABELS)),
        record(BUDGET, _budget(cfg, t, sc, pod)),
        record(
            DEPLOYMENT_INFO,
            _per_model(cfg, sc, (*pre, "namespace", "deployment"), KSM.DEPLOYMENT_LABELS),
        ),
        record(
            READY_PODS,
            f"sum by ({sc.by(sc.model)}) (\n  {ready}\n  * {sc.on(pod)} group_left (model_name) "
            f"{MODEL_INFO}\n)",
        ),
        # GPUs no live pod claims: allocatable minus the requests of scheduled pods
        # (all of it when nothing requests a GPU).
        record(GPU_UNREQUESTED, f"{allocatable}\n- ({requested}\n  or {allocatable} * 0)"),
    ]


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    pre = (sc.cluster,) if sc.cluster else ()
    pod = (*pre, "namespace", "pod")
    ctr = (*pod, "container")
    deploy = (*pre, "namespace", "deployment")
    on_pod = sc.on(pod)

    unsched = f"max by ({sc.by(pod)}) ({_ksm(KSM.POD_UNSCHEDULABLE)}) == 1"
    gpu_req = _sum(pod, sc, _ksm(KSM.RESOURCE_REQUESTS, f'resource="{GPU_RESOURCE}"'))
    short = f"{gpu_req}\n  > {sc.on(pre)} group_left () {GPU_UNREQUESTED}"
    unschedulable = (
        f'label_replace(({unsched})\n  and {on_pod} ({short}), "reason", "InsufficientGPU", "", "")\n'
        f'or label_replace(({unsched})\n  unless {on_pod} ({short}), "reason", "Unschedulable", "", "")'
    )

    def waiting_on(reasons: str) -> str:
        """Containers (init containers too: the S3 sync) waiting with one of `reasons`;
        the two image-pull reasons alternate, so they become one stable `ImagePull`."""
        parts = [
            f'label_replace({_ksm(m, f"reason=~{_q(reasons)}")}, "reason", "ImagePull", '
            '"reason", "ImagePullBackOff|ErrImagePull")'
            for m in (KSM.WAITING_REASON, KSM.INIT_WAITING_REASON)
        ]
        return f"max by ({sc.by(ctr)}, reason) (\n  {parts[0]}\n  or {parts[1]}\n)"

    oom_killed = _ksm(KSM.LAST_TERMINATED_REASON, 'reason="OOMKilled"')
    oom = (
        f"max by ({sc.by(ctr)}) (increase({_ksm(KSM.RESTARTS)}[{_dur(t, a.oom_window)}])) > 0\n"
        f"and {sc.on(ctr)}\n"
        f"({oom_killed} == 1)"
    )

    # Seconds since the pod's containers last started (since scheduling while an init
    # container still downloads the model and the serving container has not started).
    since = (
        f"time() - (\n  max by ({sc.by(pod)}) ({_ksm(KSM.CONTAINER_STARTED)})\n"
        f"  or max by ({sc.by(pod)}) ({_ksm(KSM.POD_SCHEDULED_TIME)})\n)"
    )
    pod_ready = _ksm(KSM.POD_READY, 'condition="true"')
    not_ready = f"max by ({sc.by(pod)}) ({pod_ready}) == 0"
    stuck_waiting = _ksm(KSM.WAITING_REASON, f"reason=~{_q(_WAITING_CAUSES)}")
    # Not ready past the budget, unless a waiting reason names the cause (CrashLooping /
    # CannotStart own those). Value: the seconds since start; labels gain model_name.
    over_budget = (
        f"(\n{since}\n)\n> {on_pod} group_left (model_name) {BUDGET}\n"
        f"and {on_pod} ({not_ready})\nunless {on_pod} {stuck_waiting}"
    )
    replicas = (
        f"(max by ({sc.by(deploy)}) (\n  {_ksm(KSM.DEPLOYMENT_SPEC_REPLICAS)} - {_ksm(KSM.DEPLOYMENT_READY)}\n) > 0)\n"
        f"* {sc.on(deploy)} group_left (model_name) {DEPLOYMENT_INFO}"
    )
    # Pending (no Ready condition yet), or not ready and not (yet) over budget: exactly
    # the complement of VLLMPodNotReady's condition, so one takes over from the other in
    # the same evaluation and the muted symptoms never see a gap.
    starting = _with_model(
        f"({unsched})\nor (\n  ({not_ready})\n  unless {on_pod}\n  ({over_budget})\n)",
        sc,
        pod,
    )

    rules: list[dict[str, Any]] = [*recording_rules(cfg, t, sc)]
    rules += _split(
        "VLLMPodUnschedulable",
        _with_model(unschedulable, sc, pod),
        _dur(t, a.pod_pending_for),
        "A model pod cannot be scheduled.",
        f"Pod {{{{ $labels.pod }}}} of {{{{ $labels.model_name }}}} in namespace "
        f"{{{{ $labels.namespace }}}} has been unschedulable for more than {a.pod_pending_for} "
        "(reason {{ $labels.reason }}: InsufficientGPU when it requests more nvidia.com/gpu "
        "than the cluster has unrequested).",
        sc,
    )
    rules += _split(
        "VLLMPodCrashLooping",
        _with_model(waiting_on("CrashLoopBackOff"), sc, pod),
        _dur(t, a.container_waiting_for),
        "A model pod is crash-looping.",
        f"Container {{{{ $labels.container }}}} of {_POD} is in CrashLoopBackOff for more than "
        f"{a.container_waiting_for}.",
        sc,
    )
    rules += _split(
        "VLLMPodCannotStart",
        _with_model(waiting_on(_CANNOT_START), sc, pod),
        _dur(t, a.container_waiting_for),
        "A model pod's container cannot start.",
        f"Container {{{{ $labels.container }}}} of {_POD} waits with reason "
        f"{{{{ $labels.reason }}}} for more than {a.container_waiting_for} (image pull or "
        "missing Secret/ConfigMap).",
        sc,
    )
    rules += _split(
        "VLLMPodOOMKilled",
        _with_model(oom, sc, pod),
        "",
        "A model pod was OOMKilled.",
        f"Container {{{{ $labels.container }}}} of {_POD} restarted "
        f"{{{{ $value | humanize }}}} times in the last {a.oom_window}, last terminated by "
        "the OOM killer.",
        sc,
    )
    rules += _split(
        "VLLMPodNotReady",
        over_budget,
        "",  # the budget is the hold time; VLLMModelPodStarting covers the time before
        "A model pod is not ready past its expected load time.",
        "Pod {{ $labels.pod }} of {{ $labels.model_name }} in namespace "
        "{{ $labels.namespace }} is not ready {{ $value | humanizeDuration }} after its "
        "containers started (after scheduling while an init container downloads the model): "
        "longer than the model's expected_load_time.",
        sc,
    )
    rules.append(
        alert(
            "VLLMReplicasUnavailable",
            replicas,
            _dur(t, a.replicas_unavailable_for),
            "warning",
            "A model serves with fewer ready replicas than desired.",
            "Deployment {{ $labels.deployment }} of {{ $labels.model_name }} in namespace "
            "{{ $labels.namespace }} has {{ $value }} fewer ready replicas than desired for "
            f"more than {a.replicas_unavailable_for}.",
        )
    )
    rules.append(
        alert(
            STARTING,
            starting,
            "",
            "none",
            "A model pod is starting (inhibition only, routed to no receiver).",
            "Pod {{ $labels.pod }} of {{ $labels.model_name }} in namespace "
            "{{ $labels.namespace }} is not ready yet and still within its budget; it mutes "
            "VLLMTargetDown and VLLMMetricsAbsent until a cause alert takes over.",
        )
    )
    return {"name": GROUP, "rules": rules}
