"""Kubernetes label-selector matching that explains *why* something does not match."""

from __future__ import annotations

from typing import Any

__all__ = ["explain_mismatch", "fmt_selector"]


def fmt_selector(sel: dict[str, Any] | None) -> str:
    if sel is None:
        return "null"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        vals = ",".join(e.get("values") or [])
        parts.append(
            f"{e.get('key')} {e.get('operator')} ({vals})"
            if vals
            else f"{e.get('key')} {e.get('operator')}"
        )
    return "{" + ", ".join(parts) + "}" if parts else "{} (everything)"


def explain_mismatch(sel: dict[str, Any] | None, labels: dict[str, str]) -> list[str]:
    """Reasons `labels` fail `sel` (empty list = matches). An empty selector matches all."""
    if sel is None:
        return ["a null (unset) selector selects nothing"]
    why: list[str] = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        if k not in labels:
            why.append(f"label {k}={v} is missing")
        elif labels[k] != v:
            why.append(f"label {k} is {labels[k]!r}, selector wants {v!r}")
    for e in sel.get("matchExpressions") or []:
        key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        have = labels.get(key)
        if op == "In" and have not in vals:
            why.append(f"label {key}={have} not in {vals}")
        elif op == "NotIn" and have in vals:
            why.append(f"label {key}={have} is excluded by NotIn {vals}")
        elif op == "Exists" and key not in labels:
            why.append(f"label {key} must exist")
        elif op == "DoesNotExist" and key in labels:
            why.append(f"label {key} must not exist")
    return why
