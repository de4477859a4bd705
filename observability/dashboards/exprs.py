"""Panel queries out of dashboard JSON, Grafana variables substituted, parsed by promtool.

The snapshot, the empty-panel check, lint and the bench all read the *rendered* JSON
through `panel_queries`, so they evaluate exactly what Grafana would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from observability import tmpdirs
from observability.config import duration_seconds

__all__ = [
    "BUILTIN_VARIABLES",
    "PanelQuery",
    "UnknownVariable",
    "iter_panels",
    "panel_queries",
    "promtool_parse_errors",
    "substitute",
    "template_values",
    "used_variables",
]

# `$x`, `${x}`, `${x:format}` and the deprecated `[[x]]` (as metrics/promql_ast.py reads them).
_VAR_RE = re.compile(r"\$\{(\w+)(?::[\w-]+)?\}|\$(\w+)|\[\[(\w+)(?::[\w-]+)?\]\]")
# Grafana's global variables a query may use without defining them.
BUILTIN_VARIABLES = frozenset(
    {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms"}
)


class UnknownVariable(ValueError):
    """A query names a `$variable` the dashboard does not define. Grafana leaves such a
    name in the query text, where it matches nothing (or fails to parse), so the panel
    is silently empty or unfiltered: an error, never a `.*`."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(
            f"${name} is not a variable of this dashboard (defined: "
            f"{', '.join('$' + k for k in known) or 'none'}): fix the query or add the variable"
        )


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


def used_variables(text: str) -> list[str]:
    """Every `$name` / `${name}` / `${name:format}` in `text`, in order, once each."""
    return list(
        dict.fromkeys(m.group(1) or m.group(2) or m.group(3) for m in _VAR_RE.finditer(text))
    )


def template_values(dashboard: Mapping, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each template variable of `dashboard` -> what Grafana sends for "All" (the
    variable's `allValue`, else `.*`), with `values` pinning some. Pinning a variable the
    dashboard does not define raises `UnknownVariable`."""
    defined = [v["name"] for v in dashboard.get("templating", {}).get("list", []) if v.get("name")]
    out: dict[str, str] = {}
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "datasource":
            out[v["name"]] = str(v.get("query", ""))
        else:
            out[v["name"]] = v.get("allValue") or ".*"
    for name, value in (values or {}).items():
        if name not in out:
            raise UnknownVariable(name, defined)
        out[name] = value
    return out


def substitute(
    expr: str,
    values: Mapping[str, str],
    rate_interval: str = "5m",
    range_: str = "6h",
) -> str:
    """Replace Grafana variables the way Grafana would.

    `values` holds every template variable of the dashboard (`template_values`); a name
    that is neither there nor a builtin raises `UnknownVariable`. `$__rate_interval`/
    `$__interval` become the given window, `$__range` the time range.
    """
    range_s = str(int(duration_seconds(range_)))
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": rate_interval,
        "__interval_ms": str(int(duration_seconds(rate_interval) * 1000)),
        "__range": range_,
        "__range_s": range_s,
        "__range_ms": str(int(range_s) * 1000),
    }

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in builtins:
            return builtins[name]
        if name not in values:
            raise UnknownVariable(name, sorted(values))
        return values[name]

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
    with tmpdirs.temporary_directory(prefix="obsctl-parse-") as tmp:
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
