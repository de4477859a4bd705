"""Find the mappings a check reads anywhere inside a parsed YAML document."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["mappings_where"]


def mappings_where(
    doc: Any, wanted: Callable[[dict[str, Any]], bool], path: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, mapping) for every mapping `wanted` accepts, outermost first; the
    inside of an accepted mapping is not searched."""
    if isinstance(doc, dict):
        if wanted(doc):
            yield path, doc
            return
        for key, value in doc.items():
            yield from mappings_where(value, wanted, f"{path}.{key}" if path else str(key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from mappings_where(value, wanted, f"{path}[{i}]")
