"""Render stage: deploy/verify/, the least privilege `obsctl verify` needs in a cluster.

One read-only ClusterRole listing exactly what verify reads (get/list, plus `get` on
`services/proxy` for the API server's service proxy to Prometheus, Alertmanager, Grafana
and vLLM), a Role that may read only the Grafana admin Secret, the ServiceAccount and
bindings. The CronJob running verify in-cluster is a kustomize Component under
`deploy/verify/cronjob/`, included only when `verify.cronjob: true` in bundle.yaml.
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.config import BundleConfig
from observability.dashboards import DASHBOARDS
from observability.render import dashboards

__all__ = ["NAME", "RULES", "artifacts"]

NAME = "obsctl-verify"
PART_OF = "vllm-observability"

# (apiGroup, resources, verbs): keep in sync with observability/verify/k8s.py; the test
# suite runs verify against a fake API server that enforces exactly these rules.
RULES: list[tuple[str, list[str], list[str]]] = [
    ("", ["nodes", "pods", "services"], ["get", "list"]),
    ("", ["namespaces"], ["get"]),
    ("", ["services/proxy"], ["get"]),
    ("apps", ["deployments", "daemonsets"], ["get", "list"]),
    ("apiextensions.k8s.io", ["customresourcedefinitions"], ["get"]),
    ("argoproj.io", ["applications"], ["get"]),
    ("monitoring.coreos.com", ["prometheuses", "alertmanagers"], ["get", "list"]),
    ("monitoring.coreos.com", ["servicemonitors", "podmonitors", "prometheusrules"], ["get"]),
]


def rules_for(cfg: BundleConfig) -> list[tuple[str, list[str], list[str]]]:
    """RULES plus what the runtime and autoscaling checks read, when the bundle uses them."""
    out = list(RULES)
    deployed = dict.fromkeys(runtimes.runtime_of(cfg, k) for k in cfg.vllm.deploy)
    out += [rule for rt in deployed for rule in rt.rbac_rules() if rule not in out]
    if cfg.pool.enabled:  # router.inferencepool reads the pool's status
        out.append(("inference.networking.k8s.io", ["inferencepools"], ["get"]))
    if cfg.autoscaling.keda.enabled:
        out.append(("keda.sh", ["scaledobjects"], ["get"]))
        out.append(("autoscaling", ["horizontalpodautoscalers"], ["get"]))
    return out


def _delivery_rule(cfg: BundleConfig) -> dict[str, Any]:
    """`get` on exactly the dashboard objects the bundle renders: the sidecar's ConfigMaps,
    or the GrafanaDashboards the Grafana Operator applies."""
    files = sorted(DASHBOARDS)
    if cfg.dashboards.delivery == "grafana-operator":
        group, resource = dashboards.GRAFANA_DASHBOARD_API.split("/")[0], "grafanadashboards"
        names = [f.removesuffix(".json") for f in files]
    else:
        group, resource = "", "configmaps"
        names = [dashboards.configmap_name(f) for f in files]
    return {"apiGroups": [group], "resources": [resource], "resourceNames": names, "verbs": ["get"]}


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": PART_OF}


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    if namespace:
        m["namespace"] = namespace
    m["labels"] = _labels()
    return m


def rbac(cfg: BundleConfig) -> list[dict[str, Any]]:
    ns = cfg.namespaces.monitoring
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, ns)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(NAME),
            "rules": [{"apiGroups": [g], "resources": r, "verbs": v} for g, r, v in rules_for(cfg)]
            + [{"nonResourceURLs": ["/version"], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(NAME),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": NAME,
            },
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(f"{NAME}-grafana-secret", ns),
            # Only the Grafana admin Secret, only `get`: verify logs in to Grafana with it;
            # and the bundle's own dashboard objects (grafana.delivery).
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [cfg.secrets.grafana_admin.name],
                    "verbs": ["get"],
                },
                _delivery_rule(cfg),
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(f"{NAME}-grafana-secret", ns),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": f"{NAME}-grafana-secret",
            },
            "subjects": subject,
        },
    ]


# The Dockerfile's ENTRYPOINT and the CronJob's arguments (tests run them in the venv).
VERIFY_COMMAND = ("obsctl",)
VERIFY_ARGS = ("verify", "--in-cluster", "--json", "--config", "/workspace/repo/bundle.yaml")


def cronjob(cfg: BundleConfig) -> dict[str, Any]:
    v = cfg.verify
    repo, rev = cfg.git.repo_url, cfg.git.revision
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = [{"name": "work", "mountPath": "/workspace"}, {"name": "tmp", "mountPath": "/tmp"}]
    res = {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    }
    # The API token only in the verify container (not the git clone), by a projected
    # volume at the path the kubernetes client reads, instead of the automatic mount.
    sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    token_volume = {
        "name": "api-token",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ]
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(NAME, cfg.namespaces.monitoring),
        "spec": {
            "schedule": v.schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 600,
                    "template": {
                        "metadata": {"labels": _labels()},
                        "spec": {
                            "serviceAccountName": NAME,
                            "automountServiceAccountToken": False,
                            "restartPolicy": "Never",
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 65532,
                                "runAsGroup": 65532,
                                "fsGroup": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            # Clone the same revision Argo CD syncs, so verify checks the
                            # bundle.yaml that was deployed.
                            "initContainers": [
                                {
                                    "name": "clone",
                                    "image": v.git_image,
                                    "imagePullPolicy": "Always",
                                    "args": [
                                        "clone",
                                        "--depth=1",
                                        f"--branch={rev}",
                                        repo,
                                        "/workspace/repo",
                                    ],
                                    "env": [{"name": "HOME", "value": "/tmp"}],
                                    "securityContext": restricted,
                                    "resources": res,
                                    "volumeMounts": mounts,
                                }
                            ],
                            "containers": [
                                {
                                    "name": "verify",
                                    # obsctl is installed in the image (Dockerfile);
                                    # nothing is installed at run time.
                                    "image": v.image,
                                    "imagePullPolicy": "Always",
                                    "workingDir": "/workspace/repo",
                                    "command": list(VERIFY_COMMAND),
                                    "args": list(VERIFY_ARGS),
                                    "env": [{"name": "HOME", "value": "/tmp"}],
                                    "securityContext": restricted,
                                    "resources": res,
                                    "volumeMounts": [
                                        *mounts,
                                        {
                                            "name": "api-token",
                                            "mountPath": sa_dir,
                                            "readOnly": True,
                                        },
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "work", "emptyDir": {}},
                                {"name": "tmp", "emptyDir": {}},
                                token_volume,
                            ],
                        },
                    },
                }
            },
        },
    }


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["rbac.yaml"],
    }
    if cfg.verify.cronjob:
        kustomization["components"] = ["cronjob"]
    return {
        "deploy/verify/kustomization.yaml": kustomization,
        "deploy/verify/rbac.yaml": rbac(cfg),
        "deploy/verify/cronjob/kustomization.yaml": {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "resources": ["cronjob.yaml"],
        },
        "deploy/verify/cronjob/cronjob.yaml": cronjob(cfg),
    }
