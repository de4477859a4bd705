"""Panel queries out of dashboard JSON, Grafana variables substituted, parsed by promtool.

The snapshot, the empty-panel check, lint and the bench all read the *rendered* JSON
through `panel_queries`, so they evaluate exactly what Grafana would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = [
    "PanelQuery",
    "iter_panels",
    "panel_queries",
    "promtool_parse_errors",
    "substitute",
]

_VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class PanelQuery:
    panel_id: int
    title: str
    kind: str
    ref: str
    expr: str
    legend: str
    instant: bool
    fmt: str


def iter_panels(dashboard: Mapping) -> Iterator[dict]:
    """Every non-row panel, including panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries(dashboard: Mapping) -> list[PanelQuery]:
    return [
        PanelQuery(
            panel_id=p["id"],
            title=p["title"],
            kind=p["type"],
            ref=t.get("refId", ""),
            expr=t["expr"],
            legend=t.get("legendFormat", ""),
            instant=bool(t.get("instant")),
            fmt=t.get("format", "time_series"),
        )
        for p in iter_panels(dashboard)
        for t in p.get("targets", [])
        if t.get("expr")
    ]


def substitute(
    expr: str,
    rate_interval: str = "5m",
    range_: str = "6h",
    values: Mapping[str, str] | None = None,
) -> str:
    """Replace Grafana variables the way Grafana would for "All" selections.

    Template variables become their value (default `.*`, the dashboards' allValue);
    `$__rate_interval`/`$__interval` the given window; `$__range` the time range.
    """
    values = dict(values or {})
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": rate_interval,
        "__range": range_,
    }

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in builtins:
            return builtins[name]
        return values.get(name, ".*")

    return _VAR_RE.sub(repl, expr)


def promtool_parse_errors(exprs: Mapping[str, str], promtool: str = "promtool") -> dict[str, str]:
    """key -> promtool's parse error for every expression that does not parse.

    promtool has no bare "parse" command, so each expression becomes a recording rule in
    its own group; promtool stops at the first bad rule, so failed groups are dropped and
    the rest re-checked until the file passes.
    """
    exe = shutil.which(promtool)
    if exe is None:
        raise FileNotFoundError("promtool not found: install Prometheus (Debian: prometheus)")
    errors: dict[str, str] = {}
    pending = dict(exprs)
    with tempfile.TemporaryDirectory(prefix="obsctl-parse-") as tmp:
        path = Path(tmp) / "rules.yaml"
        while pending:
            keys = list(pending)
            groups = [
                {"name": f"g{i}", "rules": [{"record": "dashboard:expr", "expr": pending[k]}]}
                for i, k in enumerate(keys)
            ]
            path.write_text(yaml.safe_dump({"groups": groups}, width=100000))
            proc = subprocess.run(
                [exe, "check", "rules", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if proc.returncode == 0:
                break
            failed = {int(i): msg for i, msg in _GROUP_ERR.findall(proc.stdout + proc.stderr)}
            if not failed:
                raise RuntimeError(f"promtool check rules failed: {proc.stderr.strip()[:300]}")
            for i, msg in failed.items():
                errors[keys[i]] = msg.strip()
                pending.pop(keys[i])
    return errors


_GROUP_ERR = re.compile(r'group "g(\d+)", rule \d+, "[^"]*": (.*)')
