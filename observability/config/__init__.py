"""The one config: `bundle.yaml` loaded into frozen, typed models.

Generators receive a `BundleConfig` as an argument; they never read files or the
environment themselves. Every model forbids unknown keys so a typo is an error that names
the key, not a silently ignored setting. One module per concern:

    types.py       value types sections share (K8sName, Quantity, PinnedImage, ...)
    models.py      models:        the model registry (sources, runtime, autoscaling)
    workload.py    vllm:, gpu:    the reference workload and the GPU nodes
    prometheus.py  prometheus:    scraping, HA, remote write, Thanos
    alerting.py    alerting:, alertmanager:  thresholds, SLO, receivers
    runtimes.py    autoscaling:, runtimes:   KEDA and the per-runtime settings
    gateway.py     gateway:       the inference router (InferencePool, endpoint picker)
    gitops.py      git:, namespaces:, charts:, secrets:, resources:, dashboards:, verify:
    bundle.py      BundleConfig, the whole file and its cross-section rules
    load.py        load_config / parse_config and ConfigError
    reference.py   docs/config-reference.md, generated from the Field descriptions
"""

from __future__ import annotations

from observability.config.alerting import AlertingConfig
from observability.config.bundle import BundleConfig
from observability.config.load import DEFAULT_BUNDLE_PATH, ConfigError, load_config, parse_config
from observability.config.models import ModelProfile
from observability.config.prometheus import RemoteWrite
from observability.config.runtime_names import RUNTIME_TRAITS, RUNTIMES, RuntimeName
from observability.config.types import HelmChart, ResourceSpec
from observability.config_errors import KeyProblem
from observability.duration import duration_seconds

__all__ = [
    "DEFAULT_BUNDLE_PATH",
    "RUNTIMES",
    "RUNTIME_TRAITS",
    "AlertingConfig",
    "BundleConfig",
    "ConfigError",
    "HelmChart",
    "KeyProblem",
    "ModelProfile",
    "RemoteWrite",
    "ResourceSpec",
    "RuntimeName",
    "duration_seconds",
    "load_config",
    "parse_config",
]
