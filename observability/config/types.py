"""The value types bundle.yaml sections share, each checked in one place.

A field declares what it holds (`K8sName`, `Quantity`, `PinnedImage`, ...) and carries that
type's check and message; the small models several sections embed (a Helm chart, a
component's resources, a Secret key) live here too. `ConfigModel` is every model's base: it
forbids unknown keys, so a typo is an error that names the key.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "ChartVersion",
    "ConfigModel",
    "HelmChart",
    "HttpUrl",
    "K8sName",
    "PinnedImage",
    "PinnedTag",
    "Quantity",
    "QuantityOrBlank",
    "ResourceSpec",
    "SecretKeyRef",
    "check_http_url",
    "check_k8s_name",
    "is_k8s_name",
]


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


# -- Kubernetes names (RFC 1123 labels: namespaces, Services, Secrets, PVCs) ---------------
_K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_k8s_name(value: str) -> bool:
    return bool(_K8S_NAME_RE.match(value)) and len(value) <= 63


def check_k8s_name(value: str) -> str:
    if not is_k8s_name(value):
        raise ValueError(f"{value!r} is not a valid Kubernetes name (lower-case, digits, '-')")
    return value


K8sName = Annotated[
    str,
    AfterValidator(check_k8s_name),
    Field(description="Kubernetes object or namespace name (RFC 1123 label)"),
]


# -- Kubernetes quantities (requests, limits, volume sizes) --------------------------------
_QUANTITY_RE = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")


def check_quantity(value: str) -> str:
    if not _QUANTITY_RE.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 512Mi, 8Gi)")
    return value


def check_quantity_or_blank(value: str) -> str:
    """A quantity, or empty for "unset" (a memory limit that defaults to the request)."""
    return check_quantity(value) if value else value


Quantity = Annotated[str, AfterValidator(check_quantity)]
QuantityOrBlank = Annotated[str, AfterValidator(check_quantity_or_blank)]


# -- pinned images and charts: never `latest`, never a range -------------------------------
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")


def _pin_problem(value: str) -> str | None:
    """Why the image reference `value` is not pinned (None: it is). Pinned: `name:tag` with
    a tag other than latest, or `name@sha256:<64 hex>` (a registry port is not a tag)."""
    ref, at, digest = value.partition("@")
    name, _, tag = ref.rpartition("/")[2].partition(":")
    if at and name:
        return None if _DIGEST_RE.fullmatch(digest) else ": a digest is sha256: and 64 hex digits"
    if not name or not tag or tag == "latest":
        return (
            " is not a pinned image: use name:tag (e.g. amazon/aws-cli:2.17.0, never latest) "
            "or a digest (name@sha256:...)"
        )
    return None


def check_pinned_image(value: str) -> str:
    problem = _pin_problem(value)
    if problem:
        raise ValueError(f"{value!r}{problem}")
    return value


def check_pinned_tag(value: str) -> str:
    """The tag half of an image whose name is another key (`image` + `image_tag`)."""
    if _pin_problem(f"image:{value}"):
        raise ValueError(
            f"pin an exact image tag such as v0.11.0 or 2.58.0-py312-cu130, not {value!r}"
        )
    return value


def check_chart_version(value: str) -> str:
    # a leading v as some OCI charts are tagged (llm-d-router's: v0.10.0)
    if not re.match(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$", value):
        raise ValueError(f"{value!r} is not an exact chart version (pin e.g. 1.2.3)")
    return value


PinnedImage = Annotated[str, AfterValidator(check_pinned_image)]
PinnedTag = Annotated[str, AfterValidator(check_pinned_tag)]
ChartVersion = Annotated[str, AfterValidator(check_chart_version)]


# -- URLs ----------------------------------------------------------------------------------
def check_http_url(value: str) -> str:
    """An http(s) URL with a host (remote-write url, s3 endpoint_url)."""
    if not re.match(r"^https?://[^\s/]+\S*$", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(check_http_url)]


# -- models several sections embed ---------------------------------------------------------
class HelmChart(ConfigModel):
    """A Helm chart Argo CD installs, pinned to one version."""

    repo_url: str = Field(description="Helm repository URL")
    chart: str = Field(description="Chart name in that repository")
    version: ChartVersion = Field(description="Exact chart version; ranges are not allowed")


class ResourceSpec(ConfigModel):
    """Requests for one component; a memory limit equal to the request unless set."""

    cpu: Quantity = Field(description="CPU request, e.g. 500m")
    memory: Quantity = Field(description="Memory request, e.g. 512Mi")
    memory_limit: QuantityOrBlank = Field(
        "", description="Memory limit; empty: equal to the request"
    )


class SecretKeyRef(ConfigModel):
    """One key of a Secret in the namespace that reads it."""

    name: K8sName = Field(description="Secret name")
    key: str = Field(description="Key inside the Secret")
