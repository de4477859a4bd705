"""Before-you-apply lint warnings: example repo URL, receivers that reach nobody."""

from __future__ import annotations

from observability.config import BundleConfig, parse_config
from observability.lint import readiness


def _with(bundle: BundleConfig, **receivers: str) -> BundleConfig:
    data = bundle.model_dump(mode="json")
    data["alerting"]["receivers"].update(receivers)
    data["git"]["repo_url"] = "https://github.com/acme/vllm-observability-bundle.git"
    return parse_config(data)


def test_committed_bundle_warns_about_the_example_repo_and_silent_receivers(bundle, tmp_path):
    findings = readiness.check(tmp_path, bundle)
    assert [(f.check, f.obj or f.field, f.severity) for f in findings] == [
        ("receivers", "heartbeat", "warning"),
        ("receivers", "ticket", "warning"),
        ("readiness", "git.repo_url", "warning"),
    ]
    assert findings[0].message.startswith(
        "receiver 'heartbeat' gets the Watchdog (heartbeat) but has no integration"
    )
    assert "set alerting.receivers.heartbeat_webhook_url" in findings[0].message
    assert "set it to your fork" in findings[2].message


def test_configured_fork_has_no_warnings(bundle, tmp_path):
    cfg = _with(
        bundle,
        heartbeat_webhook_url="https://hc-ping.com/0000",
        ticket_webhook_url="https://tickets.example.internal/am",
    )
    assert readiness.check(tmp_path, cfg) == []


def test_only_the_receiver_left_empty_is_named(bundle, tmp_path):
    cfg = _with(bundle, heartbeat_webhook_url="https://hc-ping.com/0000")
    assert [f.obj for f in readiness.check(tmp_path, cfg)] == ["ticket"]
