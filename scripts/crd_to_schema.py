#!/usr/bin/env python3
"""Turn CustomResourceDefinition YAML into the trimmed, strict JSON schemas `obsctl lint` uses.

Usage (from the repository root)::

    python scripts/crd_to_schema.py CRD.yaml [CRD.yaml ...] [--out observability/lint/schemas]

For every served version of every CRD in the files it writes
`<out>/<group>/<kind lower-case>_<version>.json`: the version's `openAPIV3Schema` with
descriptions and `status` removed (we never render status), `nullable` and
`x-kubernetes-int-or-string` turned into plain JSON-schema types, and
`additionalProperties: false` added to every object that lists `properties` but says
nothing about extra keys (the API server prunes unknown fields silently; we reject them).
Objects marked `x-kubernetes-preserve-unknown-fields` stay open. Record where each CRD
came from in `<out>/SOURCES.md`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

# Keywords kept from the OpenAPI v3 subset CRDs use; everything else (description,
# x-kubernetes-validations (CEL), list/map markers, defaults, examples) is dropped.
_KEEP = {
    "type",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "enum",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "anyOf",
    "allOf",
    "oneOf",
    "not",
}


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads a bare `=` (an enum value in some CRDs) as a string."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


def strict_schema(node: Any) -> Any:
    """A trimmed, strict copy of one OpenAPI v3 schema node."""
    if isinstance(node, list):
        return [strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "properties":
            out[key] = {k: strict_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "allOf", "oneOf"):
            out[key] = strict_schema(value)  # bool additionalProperties passes through
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    return out


def schemas_from_crd(crd: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{relative path: schema} for each version of one CRD."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    out = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        root = dict(version["schema"]["openAPIV3Schema"])
        root["properties"] = {k: v for k, v in root["properties"].items() if k != "status"}
        schema = strict_schema(root)
        schema["$schema"] = "http://json-schema.org/draft-04/schema#"
        schema["title"] = f"{group}/{version['name']} {kind}"
        out[f"{group}/{kind.lower()}_{version['name']}.json"] = schema
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("crds", nargs="+", type=Path, help="CRD YAML files (multi-document ok)")
    ap.add_argument("--out", type=Path, default=Path("observability/lint/schemas"))
    args = ap.parse_args(argv)
    for path in args.crds:
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for rel, schema in schemas_from_crd(doc).items():
                target = args.out / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
                target.write_text(text, encoding="utf-8")
                print(f"wrote {target} ({len(text) // 1024} KiB) from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
