"""The bundle's Alertmanager config with every receiver pointed at the local webhook.

Routes, grouping, inhibitions and time intervals are kept as rendered; only the
receivers' integrations change (each receiver posts to `<webhook>/<receiver name>` so a
scenario can tell which route delivered) and global keys that read secret files are
dropped. The fast profile shortens group_wait/group_interval so detection is measured in
seconds; the standard profile keeps them.
"""

from __future__ import annotations

import copy
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from observability.alerting.alertmanager import alertmanager_config
from observability.config import BundleConfig, duration_seconds

__all__ = ["FAST_GROUP_INTERVAL", "FAST_GROUP_WAIT", "local_config", "write_config"]

FAST_GROUP_WAIT = "1s"
FAST_GROUP_INTERVAL = "5s"
_KEEP_GLOBAL = {"resolve_timeout"}


def _bundle_config(cfg: BundleConfig) -> dict[str, Any]:
    return copy.deepcopy(alertmanager_config(cfg))


def _walk_routes(route: dict[str, Any], fn: Any) -> None:
    fn(route)
    for child in route.get("routes") or []:
        _walk_routes(child, fn)


def local_config(cfg: BundleConfig, webhook_url: str, profile: str = "standard") -> dict[str, Any]:
    conf = _bundle_config(cfg)
    conf["global"] = {k: v for k, v in (conf.get("global") or {}).items() if k in _KEEP_GLOBAL}
    conf.pop("templates", None)  # template files live in the cluster's Secret, not here
    receivers = []
    for rcv in conf.get("receivers") or []:
        name = rcv["name"]
        url = f"{webhook_url.rstrip('/')}/{urllib.parse.quote(name, safe='')}"
        receivers.append(
            {
                "name": name,
                "webhook_configs": [{"url": url, "send_resolved": True, "max_alerts": 0}],
            }
        )
    conf["receivers"] = receivers
    if profile == "fast":

        def shorten(route: dict[str, Any]) -> None:
            for key, fast in (
                ("group_wait", FAST_GROUP_WAIT),
                ("group_interval", FAST_GROUP_INTERVAL),
            ):
                if key in route or route is conf["route"]:
                    now = duration_seconds(route.get(key, "1h"))
                    route[key] = fast if duration_seconds(fast) < now else route[key]

        _walk_routes(conf["route"], shorten)
    return conf


def group_wait_s(conf: dict[str, Any], default: float = 30.0) -> float:
    """The root route's group_wait in seconds (Alertmanager's default is 30s)."""
    gw = conf.get("route", {}).get("group_wait")
    return duration_seconds(gw) if gw else default


def write_config(conf: dict[str, Any], path: Path, amtool: Path | None = None) -> None:
    path.write_text(yaml.safe_dump(conf, sort_keys=False), encoding="utf-8")
    if amtool is not None:
        res = subprocess.run(
            [str(amtool), "check-config", str(path)], capture_output=True, text=True, timeout=30
        )
        if res.returncode != 0:
            msg = (res.stderr or res.stdout).strip().splitlines()
            raise RuntimeError(f"amtool rejects the Alertmanager config: {' '.join(msg[-3:])}")
