"""GPU layer: GPU nodes exist, a ready dcgm-exporter on each, none on CPU-only nodes."""

from __future__ import annotations

from typing import Any

from observability.verify.context import VerifyContext
from observability.verify.model import Check, Outcome

__all__ = ["CHECKS", "exporter_location", "gpu_capacity", "gpu_nodes"]

GPU_RESOURCE = "nvidia.com/gpu"
DCGM_SELECTOR = {"app.kubernetes.io/name": "dcgm-exporter"}


def gpu_capacity(node: dict[str, Any]) -> int:
    cap = (node.get("status") or {}).get("capacity") or {}
    try:
        return int(str(cap.get(GPU_RESOURCE, "0")))
    except ValueError:
        return 0


def _labelled(ctx: VerifyContext, node: dict[str, Any]) -> bool:
    labels = node.get("metadata", {}).get("labels") or {}
    sel = ctx.cfg.gpu.node_selector
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


def gpu_nodes(ctx: VerifyContext) -> list[dict[str, Any]]:
    """Nodes with GPU capacity or the bundle's GPU node labels."""
    return [n for n in ctx.nodes() if gpu_capacity(n) > 0 or _labelled(ctx, n)]


def _sel_text(ctx: VerifyContext) -> str:
    return ",".join(f"{k}={v}" for k, v in ctx.cfg.gpu.node_selector.items()) or "(none)"


def _nodes(ctx: VerifyContext) -> Outcome:
    nodes = ctx.nodes()
    gpus = gpu_nodes(ctx)
    if not gpus:
        return Outcome.fail(
            f"none of {len(nodes)} nodes has {GPU_RESOURCE} capacity or labels {_sel_text(ctx)}",
            "install the NVIDIA GPU Operator (device plugin + GPU feature discovery) or set "
            "gpu.node_selector in bundle.yaml to the labels your GPU nodes carry",
        )
    no_cap = [n["metadata"]["name"] for n in gpus if gpu_capacity(n) == 0]
    no_label = [n["metadata"]["name"] for n in gpus if not _labelled(ctx, n)]
    total = sum(gpu_capacity(n) for n in gpus)
    ev = f"{len(gpus)} GPU nodes, {total} GPUs"
    if no_cap:
        return Outcome.warn(
            f"{ev}; labelled but no {GPU_RESOURCE} capacity: {', '.join(no_cap[:5])}",
            "the NVIDIA device plugin is not running there (check the gpu-operator pods)",
        )
    if no_label:
        return Outcome.warn(
            f"{ev}; GPUs but without labels {_sel_text(ctx)}: {', '.join(no_label[:5])}",
            "dcgm-exporter and vLLM schedule by gpu.node_selector: label those nodes or "
            "change gpu.node_selector in bundle.yaml",
        )
    return Outcome.ok(ev)


def _ready(pod: dict[str, Any]) -> bool:
    if (pod.get("status") or {}).get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def exporter_location(ctx: VerifyContext) -> tuple[str, dict[str, str], str]:
    """(namespace, pod labels, how to get it running) of the dcgm-exporter the bundle
    scrapes, per gpu.dcgm_exporter."""
    gpu = ctx.cfg.gpu
    if gpu.dcgm_exporter == "bundled":
        return (
            ctx.ns.monitoring,
            DCGM_SELECTOR,
            "sync the dcgm-exporter Application (argocd app sync dcgm-exporter)",
        )
    svc = gpu.scraped_dcgm_service
    fix = (
        "enable the GPU Operator's exporter (ClusterPolicy spec.dcgmExporter.enabled: true), "
        "or set gpu.dcgm_exporter: bundled"
        if gpu.dcgm_exporter == "gpu-operator"
        else "deploy your dcgm-exporter there, or fix gpu.dcgm_service in bundle.yaml"
    )
    return str(svc.namespace), dict(svc.match_labels or {}), fix


def _exporters(ctx: VerifyContext) -> Outcome:
    cl = ctx.need_cluster()
    ns, selector, how = exporter_location(ctx)
    ds = cl.daemonsets(ns, selector)
    if not ds:
        labels = ",".join(f"{k}={v}" for k, v in selector.items())
        return Outcome.fail(f"no dcgm-exporter DaemonSet in {ns} (label {labels})", how)
    pods = cl.pods(ns, selector)
    gpu_names = {n["metadata"]["name"] for n in gpu_nodes(ctx)}
    by_node: dict[str, list[dict[str, Any]]] = {}
    for p in pods:
        by_node.setdefault((p.get("spec") or {}).get("nodeName") or "<unscheduled>", []).append(p)
    missing = sorted(n for n in gpu_names if not any(_ready(p) for p in by_node.get(n, [])))
    stray = sorted(n for n in by_node if n not in gpu_names)
    problems: list[str] = []
    fixes: list[str] = []
    if missing:
        not_ready = [n for n in missing if n in by_node]
        absent = [n for n in missing if n not in by_node]
        if absent:
            problems.append(f"no exporter pod on GPU nodes {', '.join(absent[:5])}")
            fixes.append(
                "the DaemonSet does not schedule there: add the nvidia.com/gpu toleration "
                f"and nodeSelector {_sel_text(ctx)} (bundle.yaml gpu.*), check node taints"
            )
        if not_ready:
            problems.append(f"exporter not ready on {', '.join(not_ready[:5])}")
            fixes.append(
                f"kubectl -n {ns} logs -l {','.join(f'{k}={v}' for k, v in selector.items())}: "
                "DCGM needs the "
                "NVIDIA driver and container runtime on the node"
            )
    if stray:
        problems.append(f"exporter pods on non-GPU nodes {', '.join(stray[:5])} (they crashloop)")
        fixes.append(
            f"set the dcgm-exporter nodeSelector to {_sel_text(ctx)} (the chart's default "
            "nodeSelector is empty)"
        )
    if problems:
        return Outcome.fail("; ".join(problems), "; ".join(fixes))
    return Outcome.ok(f"{len(gpu_names)} GPU nodes each run a ready dcgm-exporter pod")


CHECKS = [
    Check("gpu.nodes", "gpu", "GPU nodes present", _nodes),
    Check("gpu.exporters", "gpu", "dcgm-exporter on every GPU node", _exporters, ("gpu.nodes",)),
]
