"""Recording rules that write the normalised vLLM names from a runtime's own names.

A mapping keeps every label of the source series (target labels such as namespace and
pod, the runtime's own labels such as Ray's WorkerId) and only renames the family, so a
counter stays a counter: `rate()` over the recorded series sees the same values and the
same resets as over the source. Aggregations downstream (`sum by (namespace,
model_name)`) drop the runtime's extra labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from observability.metrics.names import SIGNALS, Signal

__all__ = ["forwarded_families", "rename_rules"]

_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("",), "gauge": ("",)}


def forwarded_families(
    exposes: Callable[[str], bool], rename: Callable[[str], str]
) -> list[Signal]:
    """Canonical family names (each Signal's v1/v0 name) whose runtime name is exposed."""
    out: list[Signal] = []
    for sig in SIGNALS.values():
        for name in sig.names:
            if exposes(rename(name)):
                out.append(Signal(sig.key, name, None, sig.kind))
    return out


def rename_rules(
    families: Iterable[Signal], sources: Callable[[str], tuple[str, ...]]
) -> list[dict[str, Any]]:
    """One rule per series name: `record: <canonical>` from `src1 or src2 ...`.

    `sources(name)` gives the runtime's exposed names of a canonical family name, the
    preferred first (the `or` keeps it where a version exposes both)."""
    rules: list[dict[str, Any]] = []
    for fam in families:
        name = fam.v1 or ""
        for suffix in _SUFFIXES[fam.kind]:
            srcs = [s + suffix for s in sources(name)]
            rules.append({"record": name + suffix, "expr": " or ".join(srcs)})
    return rules
