"""Schema checks: core kinds against the Kubernetes OpenAPI schemas (strict), custom kinds
against the CRD schemas vendored in `schemas/` (see schemas/SOURCES.md).

Validators are built once per kind and cached; every error of an object is reported (not
only the first), each naming the field. Unknown fields are errors in both.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from observability.lint.findings import Finding
from observability.lint.manifests import Manifest, field_path

__all__ = [
    "KUBERNETES_VERSION",
    "SCHEMA_VERSIONS",
    "is_core_group",
    "supported_kubernetes_versions",
    "validate_core",
    "validate_custom",
]

# The Kubernetes version whose OpenAPI schemas core kinds are checked against (strict).
# kube-prometheus-stack 88.x needs >= 1.25; pick what your clusters run with --kubernetes-version.
KUBERNETES_VERSION = "1.33"
SCHEMA_VERSIONS = {
    "monitoring.coreos.com": "prometheus-operator 0.93.1 (kube-prometheus-stack 88.5.3)",
    "argoproj.io": "Argo CD v3.5.1",
    "ray.io": "KubeRay v1.4.2",
    "keda.sh": "KEDA v2.17.2",
    "leaderworkerset.x-k8s.io": "LeaderWorkerSet v0.10.0",
    "grafana.integreatly.org": "Grafana Operator v5.24.0",
}


def _kv_dir(version: str) -> Any:
    return resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}.0-local-strict"
    )


@cache
def _core_registry(version: str) -> Registry:
    defs = json.loads(_kv_dir(version).joinpath("_definitions.json").read_text(encoding="utf-8"))
    return Resource.from_contents(defs) @ Registry()


def _core_file(api_version: str, kind: str) -> str:
    # kubernetes-validate file naming: rbac.authorization.k8s.io/v1 -> rbac-v1
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{api}.json"


@cache
def _core_validator(version: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    path = _kv_dir(version).joinpath(_core_file(api_version, kind))
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    registry = Resource.from_contents(schema) @ _core_registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def supported_kubernetes_versions() -> list[str]:
    base = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = [re.match(r"^v(\d+\.\d+)\.0-local-strict$", p.name) for p in base.iterdir()]
    return sorted((m.group(1) for m in found if m), key=lambda v: tuple(map(int, v.split("."))))


def is_core_group(api_version: str) -> bool:
    """apps/v1, v1, rbac.authorization.k8s.io/v1 ...: groups Kubernetes itself serves."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _crd_path(api_version: str, kind: str) -> str:
    group, _, ver = api_version.rpartition("/")
    return f"{group}/{kind.lower()}_{ver}.json"


@cache
def _crd_validator(api_version: str, kind: str) -> jsonschema.Validator | None:
    path = resources.files("observability.lint").joinpath("schemas", _crd_path(api_version, kind))
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema)


def _describe(err: ValidationError) -> tuple[str, str]:
    """(field, message) for one schema error, naming an unknown field itself."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = set((err.schema.get("properties") or {}).keys())
        extra = sorted(k for k in err.instance if k not in known)
        if extra:
            return field_path([*path, extra[0]]), (
                f"unknown field {extra[0]!r}: remove it or fix its spelling"
                + (f" (also {', '.join(map(repr, extra[1:]))})" if extra[1:] else "")
            )
    if err.validator in ("anyOf", "oneOf") and err.context:
        inner = best_match(err.context)
        return field_path(path), f"{inner.message}"
    if err.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        if missing:
            return field_path([*path, missing[0]]), f"required field {missing[0]!r} is missing"
    if err.validator == "type":
        want = err.validator_value
        want_txt = " or ".join(
            w for w in (want if isinstance(want, list) else [want]) if w != "null"
        )
        return field_path(path), f"wrong type: {err.instance!r} is not {want_txt}"
    return field_path(path), err.message


def _findings(m: Manifest, validator: jsonschema.Validator, check: str, what: str) -> list[Finding]:
    out = []
    errors = sorted(validator.iter_errors(m.obj), key=lambda e: list(map(str, e.absolute_path)))
    for err in errors:
        field, msg = _describe(err)
        out.append(Finding(check, m.file, f"{msg} ({what})", m.id, field))
    return out


def validate_core(m: Manifest, version: str = KUBERNETES_VERSION) -> list[Finding] | None:
    """Findings for a core-group object, or None when its group is a CRD's."""
    api, kind = str(m.obj["apiVersion"]), str(m.obj["kind"])
    if not is_core_group(api):
        return None
    validator = _core_validator(version, api, kind)
    if validator is None:
        return [
            Finding(
                "schema",
                m.file,
                f"Kubernetes {version} has no kind {kind} in {api}: fix apiVersion or kind",
                m.id,
                "apiVersion",
            )
        ]
    return _findings(m, validator, "schema", f"Kubernetes {version} {kind} schema, strict")


def validate_custom(m: Manifest) -> list[Finding]:
    api, kind = str(m.obj["apiVersion"]), str(m.obj["kind"])
    validator = _crd_validator(api, kind)
    if validator is None:
        return [
            Finding(
                "crd",
                m.file,
                f"no schema for {kind} {api}: vendor its CRD with scripts/crd_to_schema.py "
                "(see observability/lint/schemas/SOURCES.md)",
                m.id,
                "apiVersion",
            )
        ]
    group = api.split("/")[0]
    what = f"{kind} CRD schema, {SCHEMA_VERSIONS.get(group, group)}"
    return _findings(m, validator, "crd", what)
