"""Kubernetes access for verify: connect like kubectl, read objects, reach Services.

Uses the official `kubernetes` client (kubeconfig + context, or the in-cluster service
account). Responses are read with `_preload_content=False` and parsed as plain JSON dicts:
the generated model classes cost milliseconds per object, which matters with hundreds of
pods, and the checks only need a few fields. Services are reached through the API
server's service proxy (`/api/v1/namespaces/<ns>/services/<scheme>:<name>:<port>/proxy/`),
so no port-forward is needed and RBAC needs only `get` on `services/proxy`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from collections.abc import Callable
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from observability.promapi import Call, PromError, Response, Transport
from observability.verify.model import CheckFailed

__all__ = ["Cluster", "ClusterUnreachable", "ProxyTransport", "label_selector"]

RBAC_FIX = (
    "apply deploy/verify/ (read-only ClusterRole for verify) and run as that "
    "ServiceAccount, or use a kubeconfig user allowed to read it"
)


class ClusterUnreachable(Exception):
    """The Kubernetes API cannot be used at all (exit 2)."""


def label_selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")


def _net_error(err: BaseException) -> str:
    """`NewConnectionError: Failed to establish a new connection: [Errno 111] Connection
    refused`, without urllib3's `<...HTTPSConnection object at 0x...>` reprs."""
    reason = getattr(err, "reason", None) or err
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x: test it first.
    if not isinstance(reason, urllib3.exceptions.NewConnectionError) and isinstance(
        reason, urllib3.exceptions.TimeoutError | TimeoutError
    ):
        return "timed out"
    return f"{type(reason).__name__}: {_OBJECT_REPR.sub('', str(reason))}"


_KUBECONFIG_FIX = "pass --kubeconfig/--context, or --local with --prometheus-url"


def _kubeconfig_paths(kubeconfig: str | None) -> list[str]:
    if kubeconfig:
        return [p for p in kubeconfig.split(os.pathsep) if p]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def check_kubeconfig(kubeconfig: str | None, context: str | None) -> None:
    """What the kubernetes client would trip over, as one line with the fix: a missing or
    unparsable file, an unknown context, a user whose `exec` credential plugin is not
    installed (the client only logs that one and then connects without credentials)."""
    docs: list[tuple[str, dict]] = []
    for path in _kubeconfig_paths(kubeconfig):
        try:
            with open(path, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh)
        except FileNotFoundError:
            if kubeconfig or len(_kubeconfig_paths(kubeconfig)) == 1:
                raise ClusterUnreachable(
                    f"kubeconfig {path} does not exist: {_KUBECONFIG_FIX}"
                ) from None
            continue
        except (OSError, UnicodeDecodeError) as err:
            raise ClusterUnreachable(
                f"cannot read kubeconfig {path} ({type(err).__name__}: {err}): {_KUBECONFIG_FIX}"
            ) from None
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or type(err).__name__
            raise ClusterUnreachable(
                f"kubeconfig {path} is not valid YAML{where} ({problem}): fix it, or "
                f"{_KUBECONFIG_FIX}"
            ) from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ClusterUnreachable(
                f"kubeconfig {path} is a {type(doc).__name__}, not a kubeconfig mapping "
                f"(clusters, contexts, users): {_KUBECONFIG_FIX}"
            )
        docs.append((path, doc))

    def named(key: str) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for _path, doc in docs:
            for item in doc.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    out.setdefault(item["name"], item)
        return out

    where = ", ".join(p for p, _ in docs) or "kubeconfig"
    wanted = context or next(
        (d.get("current-context") for _p, d in docs if d.get("current-context")), None
    )
    contexts = named("contexts")
    if wanted is not None and not isinstance(wanted, str):
        raise ClusterUnreachable(
            f"{where}: current-context is a {type(wanted).__name__}, not a context name: "
            f"set it to one of: {', '.join(contexts) or 'none defined'} (or pass --context)"
        )
    if not wanted:
        raise ClusterUnreachable(
            f"{where} sets no current-context: pass --context NAME (one of: "
            f"{', '.join(contexts) or 'none defined'})"
        )
    if wanted not in contexts:
        raise ClusterUnreachable(
            f"{where} has no context {wanted!r} (contexts: {', '.join(contexts) or 'none'}): "
            "pass --context NAME or run `kubectl config use-context NAME`"
        )
    ctx = contexts[wanted].get("context") or {}
    user_name = ctx.get("user") if isinstance(ctx, dict) else None
    user_name = user_name if isinstance(user_name, str) else None
    entry = named("users").get(user_name) if user_name else None
    user = entry.get("user") if isinstance(entry, dict) else None
    exec_ = user.get("exec") if isinstance(user, dict) else None
    if isinstance(exec_, dict):
        command = exec_.get("command")
        if not isinstance(command, str) or not command:
            raise ClusterUnreachable(
                f"{where}: user {user_name!r} has an exec credential plugin without a "
                "command: fix users[].user.exec.command"
            )
        if shutil.which(command) is None:
            raise ClusterUnreachable(
                f"{where}: user {user_name!r} gets credentials from `{command}`, which is not "
                "installed or not on PATH: install it (e.g. gke-gcloud-auth-plugin, aws, "
                "kubelogin) or fix users[].user.exec.command"
            )


class ProxyTransport(Transport):
    """A Service port reached through the API server's service proxy: a promapi Transport
    on the kubeconfig's authenticated client (token, client certificate or exec plugin)."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str,
        port: str | int,
        scheme: str = "http",
    ) -> None:
        self._api = api
        self.namespace, self.service, self.port = namespace, name, port
        self._base = f"/api/v1/namespaces/{namespace}/services/{scheme}:{name}:{port}/proxy"
        self.label = f"service {namespace}/{name}:{port} (API server proxy)"
        self.query_method = "GET"  # verify's RBAC grants `get` on services/proxy, not `create`

    def send(self, call: Call) -> Response:
        # The API server strips Authorization after authenticating us, so credentials for
        # the backend cannot travel this way (see docs/verify.md: use --grafana-url).
        params = list((call.params or {}).items())
        req = self._api.param_serialize(
            call.method,
            self._base + call.path,
            query_params=[] if call.form else params,
            post_params=params if call.form else None,
            header_params={
                "Accept": "application/json, text/plain, */*",
                **({"Content-Type": "application/x-www-form-urlencoded"} if call.form else {}),
                **(call.headers or {}),
            },
            auth_settings=["BearerToken"],
        )
        timeout, where = call.timeout, f"{self.label}{call.path}"
        try:
            resp = self._api.call_api(*req, _request_timeout=(min(3.0, timeout), timeout))
            resp.read()
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ReadTimeoutError):
            raise PromError(
                f"{where} did not answer within {timeout:g}s",
                "the pod behind the Service hangs or is overloaded: check its logs and limits",
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise PromError(
                f"{where} unreachable: {_net_error(err)}",
                "the Kubernetes API server stopped answering mid-run: check connectivity",
                unreachable=True,
            ) from None
        return Response(resp.status, resp.data or b"", where)


# Nodes and pods are the lists that grow with the fleet (500 nodes, 1,000 pods: a few MB
# each): `resourceVersion=0` lets the API server answer from its watch cache, as
# client-go's reflectors do for their first list, instead of a quorum read of etcd. At
# most a moment old, which a health check can afford.
_CACHED = {"resource_version": "0"}


class Cluster:
    """Read-only view of one cluster. Every call has a timeout; errors become CheckFailed."""

    def __init__(self, api: client.ApiClient, timeout: float = 5.0) -> None:
        self.api = api
        self.timeout = timeout
        self.host = api.configuration.host

    # The generated API classes import hundreds of model modules (seconds on a busy
    # machine): built on first use, so an unreachable cluster exits 2 without that cost.
    def load_api_classes(self) -> None:
        """Import the API classes now (after ping), not inside a check's time budget."""
        for api in (self.core, self.apps, self.crs, self.ext):
            assert api is not None

    @functools.cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @functools.cached_property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @functools.cached_property
    def crs(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @functools.cached_property
    def autoscaling(self) -> client.AutoscalingV2Api:
        return client.AutoscalingV2Api(self.api)

    @functools.cached_property
    def ext(self) -> client.ApiextensionsV1Api:
        return client.ApiextensionsV1Api(self.api)

    # -- connecting -----------------------------------------------------------------
    @classmethod
    def connect(
        cls,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool | None = None,
        timeout: float = 5.0,
    ) -> Cluster:
        """kubeconfig (+context) like kubectl, or the pod's service account in a cluster.
        Raises ClusterUnreachable with a one-line reason."""
        cfg = client.Configuration()
        if in_cluster is None:
            in_cluster = (
                kubeconfig is None
                and "KUBERNETES_SERVICE_HOST" in os.environ
                and not os.environ.get("KUBECONFIG")
                and not os.path.exists(os.path.expanduser("~/.kube/config"))
            )
        if not in_cluster:
            check_kubeconfig(kubeconfig, context)
        try:
            if in_cluster:
                config.load_incluster_config(client_configuration=cfg)
            else:
                config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=cfg
                )
        except Exception as err:  # the client raises anything from YAML to base64 errors
            where = "in-cluster service account" if in_cluster else (kubeconfig or "kubeconfig")
            raise ClusterUnreachable(
                f"cannot load {where} ({type(err).__name__}: {err}): pass "
                "--kubeconfig/--context, or use --local with --prometheus-url for the local stack"
            ) from None
        cfg.retries = 0  # fail fast: an unreachable API must exit 2 within seconds
        return cls(client.ApiClient(cfg), timeout)

    def ping(self) -> str:
        """The server version; ClusterUnreachable if the API does not answer."""
        try:
            resp = client.VersionApi(self.api).get_code(
                _preload_content=False, _request_timeout=(min(3.0, self.timeout), self.timeout)
            )
            return json.loads(resp.data).get("gitVersion", "?")
        except ApiException as err:
            if err.status in (401, 403):
                raise ClusterUnreachable(
                    f"Kubernetes API at {self.host} refused our credentials (HTTP {err.status}): "
                    "refresh your kubeconfig login"
                ) from None
            raise ClusterUnreachable(
                f"Kubernetes API at {self.host} answered HTTP {err.status}: {err.reason}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise ClusterUnreachable(
                f"Kubernetes API at {self.host} unreachable: {_net_error(err)}: check "
                "--context/--kubeconfig, VPN and `kubectl cluster-info`"
            ) from None

    # -- reading --------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run one API call, return parsed JSON; None for 404."""
        try:
            resp = fn(
                *args,
                **kw,
                _preload_content=False,
                _request_timeout=(min(3.0, self.timeout), self.timeout),
            )
            return json.loads(resp.data)
        except ApiException as err:
            if err.status == 404:
                return None
            if err.status in (401, 403):
                raise CheckFailed(
                    f"not allowed to read {what} (HTTP {err.status})", RBAC_FIX
                ) from None
            raise CheckFailed(
                f"API server answered HTTP {err.status} reading {what}: {err.reason}",
                "check the API server health (kubectl get --raw /readyz)",
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise CheckFailed(
                f"reading {what} failed: {_net_error(err)}",
                "the API server stopped answering: check connectivity and its load",
            ) from None

    def _items(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> list[dict]:
        body = self._call(what, fn, *args, **kw)
        return list((body or {}).get("items") or [])

    def nodes(self) -> list[dict]:
        return self._items("nodes", self.core.list_node, **_CACHED)

    def namespace(self, name: str) -> dict | None:
        return self._call(f"namespace {name}", self.core.read_namespace, name)

    def pods(self, namespace: str, selector: dict[str, str]) -> list[dict]:
        sel = label_selector(selector)
        return self._items(
            f"pods in {namespace} ({sel})",
            self.core.list_namespaced_pod,
            namespace,
            label_selector=sel,
            **_CACHED,
        )

    def services(self, namespace: str, selector: dict[str, str] | None = None) -> list[dict]:
        sel = label_selector(selector or {})
        kw = {"label_selector": sel} if sel else {}
        return self._items(
            f"services in {namespace}", self.core.list_namespaced_service, namespace, **kw
        )

    def secret(self, namespace: str, name: str) -> dict | None:
        return self._call(
            f"secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace
        )

    def configmap(self, namespace: str, name: str) -> dict | None:
        return self._call(
            f"configmap {namespace}/{name}", self.core.read_namespaced_config_map, name, namespace
        )

    def deployments(self, namespace: str, selector: dict[str, str]) -> list[dict]:
        sel = label_selector(selector)
        return self._items(
            f"deployments in {namespace} ({sel})",
            self.apps.list_namespaced_deployment,
            namespace,
            label_selector=sel,
        )

    def hpa(self, namespace: str, name: str) -> dict | None:
        return self._call(
            f"horizontalpodautoscaler {namespace}/{name}",
            self.autoscaling.read_namespaced_horizontal_pod_autoscaler,
            name,
            namespace,
        )

    def daemonsets(self, namespace: str, selector: dict[str, str]) -> list[dict]:
        sel = label_selector(selector)
        return self._items(
            f"daemonsets in {namespace} ({sel})",
            self.apps.list_namespaced_daemon_set,
            namespace,
            label_selector=sel,
        )

    def crd(self, name: str) -> dict | None:
        return self._call(f"CRD {name}", self.ext.read_custom_resource_definition, name)

    def custom(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict | None:
        return self._call(
            f"{plural}.{group} {namespace}/{name}",
            self.crs.get_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
        )

    def customs(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> list[dict]:
        if namespace:
            return self._items(
                f"{plural}.{group} in {namespace}",
                self.crs.list_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
            )
        return self._items(
            f"{plural}.{group}", self.crs.list_cluster_custom_object, group, version, plural
        )

    def proxy(
        self, namespace: str, name: str, port: str | int, scheme: str = "http"
    ) -> ProxyTransport:
        return ProxyTransport(self.api, namespace, name, port, scheme)

    def close(self) -> None:
        self.api.close()
