"""Alertmanager config: amtool check-config, routing of every alert, secrets as files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from observability.alerting.alertmanager import (
    SECRET_DIR,
    alertmanager_config,
    kps_alertmanager_values,
)
from observability.alerting.rules import rule_groups
from observability.config import parse_config


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["amtool", *args], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture(scope="module")
def am_file(tmp_path_factory, bundle) -> Path:
    path = tmp_path_factory.mktemp("am") / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(alertmanager_config(bundle)))
    return path


def test_committed_copy_passes_amtool_check_config(repo_root: Path) -> None:
    proc = _amtool("check-config", str(repo_root / "alerts/alertmanager.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_receivers_with_webhook_urls_pass_check_config(bundle, tmp_path):
    data = bundle.model_dump()
    data["alerting"]["receivers"] = {
        "ticket_webhook_url": "http://tickets.example:8080/alerts",
        "heartbeat_webhook_url": "https://hc-ping.example/abc",
        "webhook_token_from_secret": True,
    }
    path = tmp_path / "am.yaml"
    path.write_text(yaml.safe_dump(alertmanager_config(parse_config(data))))
    proc = _amtool("check-config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


EXPECTED_RECEIVER = {"critical": "pager", "warning": "chat", "info": "ticket", "none": "null"}


def _alerts(bundle):
    seen = set()
    for g in rule_groups(bundle):
        for r in g["rules"]:
            if "alert" in r and (r["alert"], r["labels"]["severity"]) not in seen:
                seen.add((r["alert"], r["labels"]["severity"]))
                yield r["alert"], r["labels"]


def test_every_alert_routes_by_severity(bundle, am_file):
    for name, labels in _alerts(bundle):
        want = "heartbeat" if name == "Watchdog" else EXPECTED_RECEIVER[labels["severity"]]
        args = [f"{k}={v}" for k, v in {**labels, "alertname": name}.items()]
        proc = _amtool("config", "routes", "test", f"--config.file={am_file}", *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == want, (name, labels, proc.stdout)


def test_grouping_and_inhibitions(bundle):
    cfg = alertmanager_config(bundle)
    assert cfg["route"]["group_by"] == ["alertname", "namespace", "model_name"]
    inhibit = {tuple(r["source_matchers"]): r for r in cfg["inhibit_rules"]}
    crit = inhibit[('severity="critical"',)]
    assert crit["target_matchers"] == ['severity="warning"'] and "alertname" in crit["equal"]
    down = inhibit[('alertname="VLLMTargetDown"',)]
    assert "VLLMHighTimeToFirstToken" in down["target_matchers"][0]
    assert "VLLMQueueBacklog" in down["target_matchers"][0]
    assert down["equal"] == ["namespace", "model_name"]


def test_credentials_come_from_the_mounted_secret(bundle):
    values = kps_alertmanager_values(bundle)
    secret = bundle.secrets.alert_receivers.name
    assert values["alertmanagerSpec"]["secrets"] == [secret]
    text = yaml.safe_dump(values["config"])
    for key in ("routing_key_file", "api_url_file"):
        assert f"{key}: {SECRET_DIR}/{secret}/" in text
    assert "routing_key:" not in text and "api_url:" not in text


def test_cluster_label_is_grouped_and_equal(bundle):
    data = bundle.model_dump()
    data["prometheus"].update(cluster_label="cluster", cluster_name="test")
    cfg = alertmanager_config(parse_config(data))
    assert "cluster" in cfg["route"]["group_by"]
    assert all("cluster" in r["equal"] for r in cfg["inhibit_rules"])
