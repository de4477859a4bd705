"""Lint for `models.<key>.source`: what each model's built overlay must contain.

- every source: the model `vllm serve` loads (its first argument) is what the source provides (hf_id, the synced copy, the claim),
  and no container sets a cloud credential as a literal env value (keys never in git);
- `s3`: the `model-sync` init container with a pinned image syncs the configured URI (from
  the configured `endpoint_url`), and the pod runs as its own ServiceAccount of the same
  overlay carrying the configured annotations; when none names a cloud identity (IRSA /
  GKE or Azure workload identity) a warning says the sync runs as an EKS Pod Identity
  association on that ServiceAccount, or else the node's IAM role;
- `pvc`: the claim is mounted read-only; the bundle does not create it, so for a deployed
  model a warning says to create it (with the weights) before syncing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

from observability.config import BundleConfig, ModelProfile
from observability.kube import VLLM_CONTAINER
from observability.lint.findings import Finding
from observability.lint.kustomize import _build, find_kubectl
from observability.render.deploy import SYNC_CONTAINER, model_path

__all__ = ["CREDENTIAL_ENV", "IDENTITY_ANNOTATIONS", "check", "check_overlay"]

IDENTITY_ANNOTATIONS = (
    "eks.amazonaws.com/role-arn",
    "iam.gke.io/gcp-service-account",
    "azure.workload.identity/client-id",
)
CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
    "AZURE_CLIENT_SECRET",
)


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def check_overlay(
    key: str,
    profile: ModelProfile,
    objects: list[dict[str, Any]],
    file: str,
    deployed: bool = True,
) -> list[Finding]:
    """Findings for one model's built overlay (`kubectl kustomize` output)."""
    out: list[Finding] = []
    deploys = [o for o in objects if o.get("kind") == "Deployment"]
    if not deploys:
        return [Finding("source", file, "builds no Deployment: re-run `obsctl render`")]
    dep = deploys[0]
    obj = f"Deployment/{dep['metadata'].get('namespace', '')}/{dep['metadata']['name']}"
    spec = dep["spec"]["template"]["spec"]
    for c in _containers(spec):
        for env in c.get("env") or []:
            if env.get("name") in CREDENTIAL_ENV and "value" in env:
                out.append(
                    Finding(
                        "source",
                        file,
                        f"container {c['name']} sets {env['name']} as a literal value: "
                        "remove it; credentials come from the ServiceAccount's identity",
                        obj,
                        "spec.template.spec.containers.env",
                    )
                )
    vllm = next((c for c in spec.get("containers") or [] if c["name"] == VLLM_CONTAINER), None)
    args = (vllm or {}).get("args") or []
    want = model_path(key, profile)
    got = args[0] if args and not str(args[0]).startswith("-") else None
    if got != want:
        out.append(
            Finding(
                "source",
                file,
                f"vLLM serves {got!r} (its first argument) but source {profile.source} provides {want!r}: "
                "re-run `obsctl render`",
                obj,
                "args",
            )
        )
    if profile.source == "s3" and profile.s3 is not None:
        out += _s3(profile, spec, objects, file, obj)
    if profile.source == "pvc" and profile.pvc is not None:
        out += _pvc(profile, spec, dep["metadata"].get("namespace", ""), file, obj, deployed)
    return out


def _s3(
    profile: ModelProfile, spec: dict[str, Any], objects: list[dict[str, Any]], file: str, obj: str
) -> list[Finding]:
    assert profile.s3 is not None
    out: list[Finding] = []
    sync = next((c for c in spec.get("initContainers") or [] if c["name"] == SYNC_CONTAINER), None)
    if sync is None or profile.s3.uri not in (sync.get("command") or []):
        out.append(
            Finding(
                "source",
                file,
                f"no {SYNC_CONTAINER} init container syncing {profile.s3.uri}: "
                "re-run `obsctl render`",
                obj,
                "spec.template.spec.initContainers",
            )
        )
    if profile.s3.endpoint_url and not _has_endpoint(sync, profile.s3.endpoint_url):
        out.append(
            Finding(
                "source",
                file,
                f"{SYNC_CONTAINER} does not pass --endpoint-url {profile.s3.endpoint_url}: "
                "re-run `obsctl render`",
                obj,
                "spec.template.spec.initContainers",
            )
        )
    sa_name = spec.get("serviceAccountName", "")
    sas = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ServiceAccount"}
    sa = sas.get(sa_name)
    if sa is None:
        return [
            *out,
            Finding(
                "source",
                file,
                f"the pod runs as ServiceAccount {sa_name or '(default)'}, which the overlay "
                f"does not render: the S3 sync needs the model's own ServiceAccount; "
                "re-run `obsctl render`",
                obj,
                "spec.template.spec.serviceAccountName",
            ),
        ]
    annotations = (sa.get("metadata") or {}).get("annotations") or {}
    missing = sorted(k for k, v in profile.s3.annotations.items() if annotations.get(k) != v)
    if missing:
        out.append(
            Finding(
                "source",
                file,
                f"ServiceAccount {sa_name} lacks the configured annotation "
                f"{', '.join(missing)} of models.<key>.s3.annotations: re-run `obsctl render`",
                obj,
                "spec.template.spec.serviceAccountName",
            )
        )
    elif not set(annotations) & set(IDENTITY_ANNOTATIONS):
        ns = sa["metadata"].get("namespace", "")
        out.append(
            Finding(
                "source",
                file,
                f"no identity annotation: the S3 sync {_target(profile)}runs as an EKS Pod "
                f"Identity association on ServiceAccount {ns}/{sa_name}, or else the node's "
                "IAM role; create the association, or name an identity in "
                f"models.<key>.s3.annotations ({', '.join(IDENTITY_ANNOTATIONS)})",
                obj,
                "spec.template.spec.serviceAccountName",
                severity="warning",
            )
        )
    return out


def _has_endpoint(sync: dict[str, Any] | None, url: str) -> bool:
    cmd = list((sync or {}).get("command") or [])
    return any(a == "--endpoint-url" and b == url for a, b in pairwise(cmd))


def _target(profile: ModelProfile) -> str:
    assert profile.s3 is not None
    return f"to {profile.s3.endpoint_url} " if profile.s3.endpoint_url else ""


def _pvc(
    profile: ModelProfile,
    spec: dict[str, Any],
    namespace: str,
    file: str,
    obj: str,
    deployed: bool,
) -> list[Finding]:
    assert profile.pvc is not None
    claim = profile.pvc.claim_name
    vols = [
        v
        for v in spec.get("volumes") or []
        if (v.get("persistentVolumeClaim") or {}).get("claimName") == claim
    ]
    if not vols or not vols[0]["persistentVolumeClaim"].get("readOnly"):
        return [
            Finding(
                "source",
                file,
                f"claim {claim} is not mounted read-only: re-run `obsctl render`",
                obj,
                "spec.template.spec.volumes",
            )
        ]
    if not deployed:
        return []
    return [
        Finding(
            "source",
            file,
            f"PersistentVolumeClaim {namespace}/{claim} is not created by the bundle: create "
            f"it with the weights under {profile.pvc.path or '/'} before syncing "
            "(ReadOnlyMany to share it between replicas)",
            obj,
            "spec.template.spec.volumes",
            severity="warning",
        )
    ]


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    kubectl = find_kubectl()
    if kubectl is None:
        return []  # the kustomize check already reports the missing kubectl
    from observability import runtimes

    out: list[Finding] = []
    todo: list[tuple[str, ModelProfile, Path, str]] = []
    for key, profile in cfg.models.items():
        if not runtimes.runtime_of(cfg, key).uses_vllm_deployment:
            continue  # rendered by its runtime, which sets its own model source
        d = root / "deploy" / "vllm" / "overlays" / key
        file = f"deploy/vllm/overlays/{key}/kustomization.yaml"
        if not d.is_dir():
            out.append(Finding("source", file, "missing: run `obsctl render`"))
        else:
            todo.append((key, profile, d, file))
    # one `kubectl kustomize` per overlay, a few at a time (each is its own process)
    with ThreadPoolExecutor(max_workers=4) as pool:
        builds = list(pool.map(lambda t: _build(kubectl, root, t[2]), todo))
    for (key, profile, _d, file), build in zip(todo, builds, strict=True):
        if not build.error:  # a failed build is reported by the kustomize check
            out += check_overlay(key, profile, build.objects, file, key in cfg.vllm.deploy)
    return out
