"""docs/config-reference.md: every bundle.yaml key with its type, default and meaning, read
from the models' Field descriptions, so the page cannot drift from the code.

    python -m observability.config.reference           # rewrite docs/config-reference.md
    python -m observability.config.reference --check   # exit 1 when the page is stale

tests/test_config_reference.py fails when the committed page differs from this output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types as at
from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from observability.config.bundle import BundleConfig

__all__ = ["REFERENCE_PATH", "Key", "all_keys", "reference_markdown"]

REFERENCE_PATH = Path("docs/config-reference.md")
REGENERATE = "python -m observability.config.reference"

# A field type's check (AfterValidator function) -> the words the page uses for the type.
_CHECKED = {
    "check_k8s_name": "Kubernetes name",
    "check_quantity": "quantity",
    "check_quantity_or_blank": "quantity or empty",
    "check_pinned_image": "pinned image",
    "check_pinned_tag": "pinned image tag",
    "check_chart_version": "exact version",
    "check_http_url": "http(s) URL",
    "check_duration": "duration",
    "_on_bucket_edge": "bucket edge",
    "_on_ttft_edge": "bucket edge",
}
_PLAIN = {str: "string", int: "integer", float: "number", bool: "boolean"}
_BOUNDS = {at.Ge: ">=", at.Gt: ">", at.Le: "<=", at.Lt: "<", at.MaxLen: "length <="}


@dataclass(frozen=True)
class Key:
    path: str
    type: str
    default: str
    description: str


def _bound(m: Any) -> str:
    value = getattr(m, dataclasses.fields(m)[0].name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _type(tp: Any, metadata: list[Any] = ()) -> str:  # type: ignore[assignment]
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _type(typing.get_args(tp)[0], [*tp.__metadata__, *metadata])
    checks = [m.func.__qualname__.split(".")[0] for m in metadata if isinstance(m, AfterValidator)]
    named = [_CHECKED[c] for c in checks if c in _CHECKED]
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(_type(a, metadata) for a in args) + " (optional)"
    if origin is list:
        return f"list of {_type(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of {_type(typing.get_args(tp)[1])}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping"
    base = named[0] if named else _PLAIN.get(tp, getattr(tp, "__name__", str(tp)))
    bounds = [f"{_BOUNDS[type(m)]} {_bound(m)}" for m in metadata if type(m) in _BOUNDS]
    return f"{base} ({', '.join(bounds)})" if bounds else base


def _value(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, BaseModel):
        return ""
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, str):
        return f'`"{v}"`' if v == "" or " " in v or "*" in v else f"`{v}`"
    if isinstance(v, float) and v.is_integer():
        v = int(v) if v >= 1 else v
    return f"`{json.dumps(v, separators=(', ', ': ')) if isinstance(v, dict | list) else v}`"


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def nested_model(tp: Any) -> tuple[str, type[BaseModel]] | None:
    """The model a field holds and the path step into it: `.`, `.<key>.` or `[].`."""
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return ".", tp
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = nested_model(arg)
            if found:
                return found
    if origin is dict and nested_model(typing.get_args(tp)[1]):
        return ".<key>.", typing.get_args(tp)[1]
    if origin is list and nested_model(typing.get_args(tp)[0]):
        return "[].", typing.get_args(tp)[0]
    return None


def all_keys(
    model: type[BaseModel] = BundleConfig, prefix: str = "", parent: BaseModel | None = None
) -> Iterator[Key]:
    """Every key under `model`, depth first in declaration order. Under a section that has
    a default (`parent`), a key's default is the one that section's default carries."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        default = getattr(parent, name) if parent is not None else _default(info)
        shown = "required" if default is PydanticUndefined else _value(default)
        yield Key(path, _type(info.annotation, list(info.metadata)), shown, info.description or "")
        inner = nested_model(info.annotation)
        if inner:
            own = default if inner[0] == "." and isinstance(default, BaseModel) else None
            yield from all_keys(inner[1], path + inner[0], own)


def _doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    return (
        " ".join(doc.split("\n\n")[0].split()) if doc and model.__doc__ != BaseModel.__doc__ else ""
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown() -> str:
    lines = [
        "# bundle.yaml reference",
        "",
        f"<!-- Generated by `{REGENERATE}` from the Field descriptions in",
        "observability/config/. Do not edit: change the models and regenerate. -->",
        "",
        "Every key `bundle.yaml` accepts, section by section, with its type, default and",
        "meaning. `<key>` stands for a key you choose (a model's name); `[]` for each item of",
        "a list. A key marked required has no default; a section with a default may be left",
        "out. Unknown keys are errors (see [config.md](config.md)).",
    ]
    for name, info in BundleConfig.model_fields.items():
        step = nested_model(info.annotation)
        assert step is not None, name
        lines += ["", f"## `{name}`", "", _doc(step[1]) or _cell(info.description or "")]
        lines += ["", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        own = _default(info)
        section = own if isinstance(own, BaseModel) else None
        for k in all_keys(step[1], name + step[0], section):
            lines.append(
                f"| `{k.path}` | {_cell(k.type)} | {_cell(k.default)} | {_cell(k.description)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the page is stale")
    parser.add_argument("--out", type=Path, default=REFERENCE_PATH)
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is stale: run `{REGENERATE}` and commit it", file=sys.stderr)
            return 1
        print(f"ok: {args.out} matches the models")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
