"""Shared value types: Prometheus durations and Kubernetes names reject bad input with one
line naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from observability.config import ConfigError, parse_config
from observability.duration import DurationError, duration_seconds

RAW = yaml.safe_load((Path(__file__).resolve().parent.parent / "bundle.yaml").read_text())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("1h30m", 5400.0), ("100ms", 0.1), ("1w2d", 777600.0), ("0", 0.0)],
)
def test_prometheus_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "1.5h", "30m1h", "1d1d", " 5m", "-5m", "5 m"])
def test_what_prometheus_rejects_is_rejected(text):
    with pytest.raises(DurationError, match="is not a Prometheus duration"):
        duration_seconds(text)


@pytest.mark.parametrize(
    ("where", "value", "key"),
    [
        (
            ("secrets", "alert_receivers", "name"),
            "Not_A_Valid_Name!!",
            "secrets.alert_receivers.name",
        ),
        (("secrets", "hf_token", "name"), "-leading-dash", "secrets.hf_token.name"),
        (("namespaces", "monitoring"), "Monitoring", "namespaces.monitoring"),
        (("prometheus", "retention"), "15 days", "prometheus.retention"),
        (("alerting", "ttft_slo", "window"), "1.5d", "alerting.ttft_slo.window"),
    ],
)
def test_bad_names_and_durations_fail_with_one_line_naming_the_key(where, value, key):
    data = copy.deepcopy(RAW)
    node = data
    for part in where[:-1]:
        node = node.setdefault(part, {})
    node[where[-1]] = value
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    message = str(err.value)
    assert key in message and repr(value) in message
    assert "\n" not in message
