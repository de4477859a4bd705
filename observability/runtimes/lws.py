"""`lws`: multi-node vLLM on a LeaderWorkerSet (kubernetes-sigs/lws, `leaderworkerset.x-k8s.io/v1`).

One serving replica is a *group* of `models.<key>.nodes` pods: a leader that runs the Ray
head and `vllm serve` with the Ray executor (tensor parallel over its pod's `gpus`, pipeline
parallel over the `nodes`), and `nodes - 1` workers that only join the leader's Ray cluster
(`ray start --address=$(LWS_LEADER_ADDRESS):6379 --block`). `vllm.replicas` groups. The shape
is upstream's docs/examples/vllm (GPU/lws.yaml) with the bundle's Pod Security, probes and
labels. Read from kubernetes-sigs/lws v0.10.0 (commit 2161f38ff333f9e24d3c44adef7cd5d9787cac00):

- labels on every pod of a set (api/leaderworkerset/v1/leaderworkerset_types.go; set by the
  controller and its pod webhook, pkg/webhooks/pod_webhook.go): `leaderworkerset.sigs.k8s.io/name`
  (the set), `.../group-index` (the group), `.../worker-index` (`0` is the leader,
  pkg/utils/pod/pod_utils.go LeaderPod), `.../group-key`;
- env on every container (pod_utils.go AddLWSVariables): `LWS_LEADER_ADDRESS`
  (`<set>-<group>.<subdomain>.<namespace>`), `LWS_GROUP_SIZE`, `LWS_WORKER_INDEX`;
- pod names: leaders `<set>-<group>` (a StatefulSet), workers `<set>-<group>-<worker>` (one
  StatefulSet per group, named after its leader); the controller creates a headless Service
  named after the set, so the set is `vllm-<key>-lws` and `vllm-<key>` stays ours.

Only the leader serves `/metrics` (vLLM's API server). The Service `vllm-<key>` carries the
vLLM Service labels and selects leaders only (`worker-index: "0"`), so the bundle's vLLM
ServiceMonitor scrapes one target per group (job `vllm`): VLLMTargetDown on the leader is
"the group is down", and VLLMMetricsAbsent the model. Workers carry neither the vLLM labels
nor `app.kubernetes.io/instance`, so the lifecycle rules (vllm.lifecycle: model pods by that
label) and their ready-pod count see leaders only; a worker that is not ready (or missing)
pages `VLLMMultiNodeGroupDegraded`, from kube-state-metrics' `kube_pod_labels` (the LWS
labels allowlisted, render/kps_values.py) and `kube_pod_status_ready`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from observability.duration import duration_seconds
from observability.kube import (
    PART_OF,
    VLLM_CONTAINER,
    VLLM_PORT_NAME,
    argocd_application,
    gpu_pod_spec,
    helm_source,
    http_probe,
    resources,
    restricted_container_security,
    startup_failures,
    vllm_labels,
    vllm_service_name,
)
from observability.metrics.kube import KSM, KSM_JOB, ksm_label
from observability.rulebase import alert
from observability.runtimes.base import PanelScope, Runtime, RuntimePanel, SimPod

if TYPE_CHECKING:
    from observability.alerting.timing import Timing
    from observability.config import BundleConfig
    from observability.rulebase import Scope

__all__ = [
    "API_VERSION",
    "CONTROLLER_APP",
    "CONTROLLER_NAMESPACE",
    "GROUP_DEGRADED",
    "GROUP_INDEX",
    "SET_NAME",
    "WORKER_INDEX",
    "LwsRuntime",
    "leader_pod_labels",
    "leaderworkerset",
    "lws_name",
    "worker_pod_labels",
]

NAME = "lws"
API_VERSION = "leaderworkerset.x-k8s.io/v1"
KIND = "LeaderWorkerSet"
# Pod labels the LWS controller sets (v0.10.0 leaderworkerset_types.go)
SET_NAME = "leaderworkerset.sigs.k8s.io/name"
GROUP_INDEX = "leaderworkerset.sigs.k8s.io/group-index"
WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"
LEADER_INDEX = "0"
# The chart's CRD (crds/) carries a conversion webhook pointing at Service
# lws-webhook-service in lws-system: release `lws` in that namespace, as upstream installs it.
CONTROLLER_APP = "lws"
CONTROLLER_NAMESPACE = "lws-system"
RAY_PORT = 6379
RAY_PORT_NAME = "ray-gcs"
WORKER_CONTAINER = "ray-worker"
WORKER_NAME = "vllm-ray-worker"  # the workers' app.kubernetes.io/name (not vLLM's: no /metrics)
GROUP_DEGRADED = "VLLMMultiNodeGroupDegraded"
SET_NAME_L = ksm_label(SET_NAME)
_HOME = "/home/vllm"


def lws_name(key: str) -> str:
    """The LeaderWorkerSet; not `vllm-<key>`, the name of the headless Service the
    controller creates for it (and of our leader Service)."""
    return f"{vllm_service_name(key)}-lws"


def leader_pod_labels(key: str) -> dict[str, str]:
    """The vLLM Service's labels (the ServiceMonitor and lifecycle rules find the leader)."""
    return {**vllm_labels(key), "app.kubernetes.io/component": "leader"}


def worker_pod_labels(key: str) -> dict[str, str]:
    """No vLLM labels and no model instance label: workers serve no metrics and are not
    model pods to the lifecycle rules; the LWS labels tie them to their group."""
    return {
        "app.kubernetes.io/name": WORKER_NAME,
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/part-of": PART_OF,
    }


def _vllm_command(cfg: BundleConfig, key: str) -> str:
    m = cfg.models[key]
    args = [
        m.hf_id,
        "--served-model-name",
        m.served_name,
        "--max-model-len",
        str(m.max_model_len),
        "--gpu-memory-utilization",
        str(m.gpu_memory_utilization),
        "--max-num-seqs",
        str(m.max_num_seqs),
        "--port",
        str(cfg.vllm.port),
        "--tensor-parallel-size",
        str(m.gpus),
        "--pipeline-parallel-size",
        str(m.nodes),
        "--distributed-executor-backend",
        "ray",
    ]
    quoted = " ".join(json.dumps(a) if any(c in a for c in " $'\"\\") else a for a in args)
    # The Ray head first; vLLM's placement group needs every worker's GPUs, so wait until
    # the group's LWS_GROUP_SIZE nodes have joined.
    return (
        f"ray start --head --port={RAY_PORT} --disable-usage-stats && "
        'until [ "$(python3 -c \'import ray; ray.init(address="auto", logging_level=40); '
        'print(sum(n["Alive"] for n in ray.nodes()))\')" = "$LWS_GROUP_SIZE" ]; '
        "do sleep 5; done && "
        f"exec vllm serve {quoted}"
    )


def _env(cfg: BundleConfig, key: str) -> list[dict[str, Any]]:
    hf = cfg.secrets.hf_token
    ref: dict[str, Any] = {"name": hf.name, "key": hf.key}
    if cfg.models[key].hf_token_optional:
        ref["optional"] = True
    return [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": ref}},
        {"name": "HF_HOME", "value": f"{_HOME}/.cache/huggingface"},
        {"name": "HOME", "value": _HOME},
    ]


def _pod_spec(cfg: BundleConfig, key: str, container: dict[str, Any]) -> dict[str, Any]:
    gpus = cfg.models[key].gpus
    res = resources(cfg.resources.vllm)
    res["requests"]["nvidia.com/gpu"] = gpus
    res["limits"]["nvidia.com/gpu"] = gpus
    container = {
        "image": f"{cfg.vllm.image}:{cfg.vllm.image_tag}",
        "imagePullPolicy": "IfNotPresent",
        **container,
        "env": _env(cfg, key),
        "resources": res,
        # Ray writes its session under /tmp/ray and caches under HOME: emptyDirs, the root
        # file system stays read-only.
        "securityContext": restricted_container_security(),
        "volumeMounts": [
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "home", "mountPath": _HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return gpu_pod_spec(
        cfg,
        [container],
        [
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": cfg.vllm.shm_size}},
            {"name": "home", "emptyDir": {"sizeLimit": cfg.vllm.model_cache_size}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
        ],
    )


def leaderworkerset(cfg: BundleConfig, key: str) -> dict[str, Any]:
    m = cfg.models[key]
    startup = startup_failures(duration_seconds(m.expected_load_time))
    leader = _pod_spec(
        cfg,
        key,
        {
            "name": VLLM_CONTAINER,
            "command": ["sh", "-c", _vllm_command(cfg, key)],
            "ports": [
                {"name": VLLM_PORT_NAME, "containerPort": cfg.vllm.port, "protocol": "TCP"},
                {"name": RAY_PORT_NAME, "containerPort": RAY_PORT, "protocol": "TCP"},
            ],
            "startupProbe": http_probe(VLLM_PORT_NAME, 10, startup),
            "readinessProbe": http_probe(VLLM_PORT_NAME, 5, 3),
            "livenessProbe": http_probe(VLLM_PORT_NAME, 10, 6),
        },
    )
    worker = _pod_spec(
        cfg,
        key,
        {
            "name": WORKER_CONTAINER,
            "command": [
                "sh",
                "-c",
                f"exec ray start --address=$(LWS_LEADER_ADDRESS):{RAY_PORT} "
                "--disable-usage-stats --block",
            ],
        },
    )
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": lws_name(key), "labels": leader_pod_labels(key)},
        "spec": {
            "replicas": cfg.vllm.replicas,
            "leaderWorkerTemplate": {
                "size": m.nodes,
                # A worker that restarts loses its Ray actors: restart the whole group.
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": leader_pod_labels(key)},
                    "spec": leader,
                },
                "workerTemplate": {
                    "metadata": {"labels": worker_pod_labels(key)},
                    "spec": worker,
                },
            },
        },
    }


def service(cfg: BundleConfig, key: str) -> dict[str, Any]:
    """`vllm-<key>`: the vLLM Service labels (the vLLM ServiceMonitor selects it), leaders
    only."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": vllm_service_name(key), "labels": vllm_labels(key)},
        "spec": {
            "type": "ClusterIP",
            "selector": {
                **vllm_labels(key),
                SET_NAME: lws_name(key),
                WORKER_INDEX: LEADER_INDEX,
            },
            "ports": [
                {
                    "name": VLLM_PORT_NAME,
                    "port": cfg.vllm.port,
                    "targetPort": VLLM_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }


def network_policy(cfg: BundleConfig, key: str) -> dict[str, Any]:
    """The gateway and monitoring reach vLLM's port; the group's pods reach each other on
    every port (Ray's GCS, object manager, workers and NCCL pick ports at run time)."""

    def ns(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    group = {"podSelector": {"matchLabels": {SET_NAME: lws_name(key)}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": lws_name(key), "labels": vllm_labels(key)},
        "spec": {
            "podSelector": {"matchLabels": {SET_NAME: lws_name(key)}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [ns(cfg.namespaces.gateway), ns(cfg.namespaces.monitoring)],
                    "ports": [{"port": VLLM_PORT_NAME, "protocol": "TCP"}],
                },
                {"from": [group]},
            ],
        },
    }


def pod_templates(obj: dict[str, Any]) -> list[tuple[str, dict[str, str], set[str]]]:
    """(pod name, labels, named ports) of group 0's leader and first worker, with the labels
    the controller adds (template labels kept)."""
    name = str((obj.get("metadata") or {}).get("name"))
    lwt = (obj.get("spec") or {}).get("leaderWorkerTemplate") or {}
    worker_tpl = lwt.get("workerTemplate") or {}
    leader_tpl = lwt.get("leaderTemplate") or worker_tpl
    out = []
    for pod, tpl, index in (
        (f"{name}-0", leader_tpl, LEADER_INDEX),
        (f"{name}-0-1", worker_tpl, "1"),
    ):
        if index != LEADER_INDEX and int(lwt.get("size") or 1) < 2:
            continue
        own = dict((tpl.get("metadata") or {}).get("labels") or {})
        labels = {**own, SET_NAME: name, GROUP_INDEX: "0", WORKER_INDEX: index}
        containers = (tpl.get("spec") or {}).get("containers") or []
        ports = {p.get("name") for c in containers for p in c.get("ports") or [] if p.get("name")}
        out.append((pod, labels, ports))
    return out


def controller_application(cfg: BundleConfig) -> dict[str, Any]:
    """The release's chart from registry.k8s.io (its published values pin the controller
    image of the release, hack/push-chart.sh); CRDs from the chart's crds/."""
    app = argocd_application(
        cfg,
        CONTROLLER_APP,
        namespace=CONTROLLER_NAMESPACE,
        wave=-1,  # before the LeaderWorkerSets (wave 1) that need its CRD and webhook
        source=helm_source(cfg.runtimes.lws.chart, CONTROLLER_APP),
        sync_options=("CreateNamespace=true", "RespectIgnoreDifferences=true"),
    )
    # The controller's internal cert manager injects its CA into the CRD's conversion
    # webhook and the webhook configurations: not drift for self-heal to undo.
    app["spec"]["ignoreDifferences"] = [
        {
            "group": "apiextensions.k8s.io",
            "kind": "CustomResourceDefinition",
            "jqPathExpressions": [".spec.conversion.webhook.clientConfig.caBundle"],
        },
        {
            "group": "admissionregistration.k8s.io",
            "kind": "MutatingWebhookConfiguration",
            "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"],
        },
        {
            "group": "admissionregistration.k8s.io",
            "kind": "ValidatingWebhookConfiguration",
            "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle"],
        },
    ]
    return app


def _q(text: str) -> str:
    return json.dumps(text)


def group_degraded_rules(cfg: BundleConfig, t: Timing, sc: Scope) -> list[dict[str, Any]]:
    """VLLMMultiNodeGroupDegraded per group: a worker not ready past the model's load budget
    since it was scheduled (or never scheduled), or fewer pods than `nodes`. Critical while
    no group of the model has all its pods ready (the model is down), else a warning."""
    pre = (sc.cluster,) if sc.cluster else ()
    pod = (*pre, "namespace", "pod")
    group_idx = ksm_label(GROUP_INDEX)
    worker_idx = ksm_label(WORKER_INDEX)
    grp = (*pre, "namespace", "model_name", "group")
    model = (*pre, "namespace", "model_name")
    ready = f'max by ({sc.by(pod)}) ({KSM.POD_READY}{{job="{KSM_JOB}", condition="true"}})'
    sched = f'max by ({sc.by(pod)}) ({KSM.POD_SCHEDULED_TIME}{{job="{KSM_JOB}"}})'
    degraded, healthy = [], []
    for key, m in cfg.deployed_models:
        if m.runtime != NAME:
            continue

        def pods_of(extra: str = "", key: str = key, m: Any = m) -> str:
            """One series per pod of the set (value 1): pod, group, model_name."""
            sel = (
                f'{KSM.POD_LABELS}{{job="{KSM_JOB}", namespace="{cfg.model_namespace(key)}", '
                f'{ksm_label(SET_NAME)}="{lws_name(key)}"{extra}}}'
            )
            grouped = f'label_replace({sel}, "group", "$1", "{group_idx}", "(.*)")'
            return (
                f"label_replace(max by ({sc.by((*pod, 'group'))}) ({grouped}), "
                f'"model_name", {_q(m.served_name)}, "", "")'
            )

        pods = pods_of()
        workers = pods_of(f', {worker_idx}!="{LEADER_INDEX}"')
        # the lifecycle rules' load budget (alerting.timing.scaled_seconds)
        budget = max(10, round(duration_seconds(m.expected_load_time) * t.lifecycle_scale))
        # `unless ready == 1`, not `* ready == 0`: a Pending pod has no Ready condition,
        # so kube-state-metrics has no kube_pod_status_ready series for it at all
        not_ready = (
            f"({workers})\nunless {sc.on(pod)} ({ready} == 1)\n"
            f"unless {sc.on(pod)} (time() - {sched} < {budget})"
        )
        missing = f"count by ({sc.by(grp)}) ({pods}) < {m.nodes}"
        degraded.append(
            f'label_replace(\n{not_ready},\n"reason", "worker_not_ready", "", "")\n'
            f'or label_replace(\n{missing},\n"reason", "pods_missing", "", "")'
        )
        # groups with `nodes` ready pods (a Pending pod, with no Ready series, is not one)
        full = (
            f"count by ({sc.by(grp)}) (({pods}) * {sc.on(pod)} group_left () ({ready} == 1))"
            f" >= {m.nodes}"
        )
        healthy.append(f"count by ({sc.by(model)}) ({full})")
    if not degraded:
        return []
    expr = "\nor\n".join(f"({d})" for d in degraded)
    serving = "\nor\n".join(f"({h})" for h in healthy)
    text = (
        "Group {{ $labels.group }} of {{ $labels.model_name }} in namespace "
        "{{ $labels.namespace }} (LeaderWorkerSet) cannot serve: {{ $labels.reason }}"
        "{{ if $labels.pod }} (pod {{ $labels.pod }}){{ end }}. vLLM's pipeline needs every "
        "pod of the group; the controller recreates the group (RecreateGroupOnPodRestart)."
    )
    return [
        alert(
            GROUP_DEGRADED,
            f"({expr})\nunless {sc.on(model)}\n({serving})",
            t.target_down_for,
            "critical",
            "A multi-node model group is broken and no group of the model serves.",
            text + " No group of the model has all its pods ready.",
        ),
        alert(
            GROUP_DEGRADED,
            f"({expr})\nand {sc.on(model)}\n({serving})",
            t.target_down_for,
            "warning",
            "A multi-node model group is broken; other groups still serve.",
            text + " Other groups still serve.",
        ),
    ]


class LwsRuntime(Runtime):
    name = NAME
    pod_kinds: ClassVar[dict[str, Any]] = {KIND: pod_templates}
    uses_vllm_deployment = False
    # the leader's vLLM Service is the vLLM one (job vllm): nothing else to map or monitor

    def workload_path(self, key: str) -> str:
        return f"deploy/{NAME}/{key}"

    def workload(self, cfg: BundleConfig, key: str) -> dict[str, Any]:
        files = {
            "leaderworkerset.yaml": leaderworkerset(cfg, key),
            "service.yaml": service(cfg, key),
            "networkpolicy.yaml": network_policy(cfg, key),
        }
        return self.kustomized(cfg, key, files)

    def applications(self, cfg: BundleConfig) -> list[dict[str, Any]]:
        return [controller_application(cfg)] if cfg.runtimes.lws.install_controller else []

    def ksm_pod_labels(self) -> tuple[str, ...]:
        return (SET_NAME, GROUP_INDEX, WORKER_INDEX)

    def alert_rules(self, cfg: BundleConfig, t: Timing, sc: Scope) -> list[dict[str, Any]]:
        return group_degraded_rules(cfg, t, sc)

    def rbac_rules(self) -> list[tuple[str, list[str], list[str]]]:
        return [("leaderworkerset.x-k8s.io", ["leaderworkersets"], ["get"])]

    # -- the local demo ------------------------------------------------------------------
    def demo_overrides(self, key: str) -> dict[str, Any]:
        # a leader and one worker per group: a worker to lose
        return {"nodes": 2}

    def sim_pods(self, key: str, nodes: int, group: int, hash_: str, suffix: str) -> list[SimPod]:
        """Group `group` of the set: the leader `<set>-<group>` (vLLM's API server, the
        vLLM Service's labels) and workers `<set>-<group>-<n>`, as the LWS controller names
        and labels them; no Deployment owns them (StatefulSets)."""
        name = lws_name(key)
        lws = {SET_NAME: name, GROUP_INDEX: str(group)}
        leader = {
            "app.kubernetes.io/name": VLLM_CONTAINER,
            "app.kubernetes.io/instance": key,
            **lws,
            WORKER_INDEX: LEADER_INDEX,
        }
        pods = [SimPod(f"{name}-{group}", VLLM_CONTAINER, leader)]
        for w in range(1, nodes):
            labels = {"app.kubernetes.io/name": WORKER_NAME, **lws, WORKER_INDEX: str(w)}
            pods.append(SimPod(f"{name}-{group}-{w}", WORKER_CONTAINER, labels))
        return pods

    panel_row = "LeaderWorkerSet groups"

    def panels(self, s: PanelScope) -> list[RuntimePanel]:
        """Group size and ready pods per group, from kube-state-metrics (the workers serve
        no /metrics of their own)."""
        sel = ", ".join(
            m for m in (s.matchers("namespace"), f'job="{KSM_JOB}"', f'{SET_NAME_L}!=""') if m
        )
        group_l = ksm_label(GROUP_INDEX)
        grp = s.by("namespace", SET_NAME_L, group_l)
        on_pod = s.by("namespace", "pod")
        ready_sel = ", ".join(
            m for m in (s.matchers(), f'job="{KSM_JOB}"', 'condition="true"') if m
        )
        ready = f"max by ({on_pod}) ({KSM.POD_READY}{{{ready_sel}}})"

        def pods(extra: str = "") -> str:
            return f"max by ({on_pod}, {SET_NAME_L}, {group_l}) ({KSM.POD_LABELS}{{{sel}{extra}}})"

        def ready_of(p: str) -> str:
            # pods without a Ready condition (Pending) count as not ready
            return (
                f"(sum by ({grp}) ({p} * on ({on_pod}) group_left () {ready})\n"
                f" or count by ({grp}) ({p}) * 0)"
            )

        workers = pods(f', {ksm_label(WORKER_INDEX)}!="{LEADER_INDEX}"')
        legend = f"{{{{namespace}}}} {{{{{SET_NAME_L}}}}} group {{{{{group_l}}}}}"
        reads = f"Reads {KSM.POD_LABELS} and {KSM.POD_READY} (kube-state-metrics)"
        return [
            RuntimePanel(
                "LWS group pods: size and ready",
                "Pods per LeaderWorkerSet group (the leader and its workers) and how many are "
                "ready; fewer ready than the size breaks the group "
                f"(VLLMMultiNodeGroupDegraded). {reads}",
                "none",
                (
                    (f"count by ({grp}) ({pods()})", f"{legend} size"),
                    (ready_of(pods()), f"{legend} ready"),
                ),
                min=0,
                width=12,
            ),
            RuntimePanel(
                "LWS workers not ready",
                "Worker pods (worker-index above 0) not ready per group: one is enough to stop "
                f"the group's pipeline; the leader's own health is VLLMTargetDown. {reads}",
                "none",
                ((f"count by ({grp}) ({workers})\n- {ready_of(workers)}", legend),),
                min=0,
                width=12,
            ),
        ]
