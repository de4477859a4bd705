"""Every bundle.yaml problem in one run, each on one line with its line and column.

Generic over the typed models in `observability/config/`: a key added there needs no
change here. The YAML is composed into nodes first (PyYAML keeps each node's start mark),
so every pydantic error location maps back to where the user typed it:

    bundle.yaml:41:3: unknown key 'alerting.kv_cache_warnig_ratio': did you mean 'kv_cache_warning_ratio'? ...

Cross-field checks in model validators raise `KeyProblem` to name the key they are about
(relative to the model that raises it) and to report several problems at once; a plain
ValueError is reported at the model's own key.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["KeyProblem", "Located", "format_errors", "load_yaml_with_marks"]

Path_ = tuple[str, ...]


class KeyProblem(ValueError):
    """One or more problems, each at a dotted key relative to the validating model."""

    def __init__(self, *items: tuple[str, str]) -> None:
        self.items = list(items)
        super().__init__("; ".join(f"{k}: {m}" for k, m in self.items))


@dataclass(frozen=True)
class Located:
    """Where a key and its value start (1-based line and column)."""

    key: tuple[int, int]
    value: tuple[int, int]


def _pos(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _walk(node: yaml.Node, path: Path_, marks: dict[Path_, Located], dups: list[str]) -> None:
    if isinstance(node, yaml.MappingNode):
        first: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            here = (*path, key)
            if key in first:
                line, col = _pos(key_node.start_mark)
                dups.append(
                    f"{line}:{col}: duplicate key '{'.'.join(here)}' (first at line "
                    f"{first[key][0]}): keep one, YAML would silently use the last"
                )
            first.setdefault(key, _pos(key_node.start_mark))
            marks[here] = Located(_pos(key_node.start_mark), _pos(value_node.start_mark))
            _walk(value_node, here, marks, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            here = (*path, str(i))
            marks[here] = Located(_pos(item.start_mark), _pos(item.start_mark))
            _walk(item, here, marks, dups)


def load_yaml_with_marks(text: str) -> tuple[Any, dict[Path_, Located], list[str]]:
    """(data, marks by key path, duplicate-key problems as `line:col: message`).

    Raises yaml.YAMLError on a syntax error (the caller reports it with its mark)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    marks: dict[Path_, Located] = {}
    dups: list[str] = []
    if node is not None:
        _walk(node, (), marks, dups)
    return data, marks, dups


# --- pydantic errors -> lines ---------------------------------------------------------


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types an annotation may hold (Optional/Union/Annotated removed)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(tp) for t in _unwrap(a) if t is not type(None)]
    return [tp]


def _child(tp: Any, part: str) -> Any | None:
    for t in _unwrap(tp):
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = t.model_fields.get(part)
            if field is not None:
                return field.annotation
        origin = typing.get_origin(t)
        if origin is dict:
            return typing.get_args(t)[1]
        if origin in (list, tuple, set, frozenset):
            return typing.get_args(t)[0]
    return None


def _allowed_keys(model: type[BaseModel], path: Path_) -> list[str]:
    tp: Any = model
    for part in path:
        tp = _child(tp, part)
        if tp is None:
            return []
    keys: list[str] = []
    for t in _unwrap(tp):
        if isinstance(t, type) and issubclass(t, BaseModel):
            keys += list(t.model_fields)
    return keys


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'? " if close else ""


def _clean_loc(loc: tuple[Any, ...], marks: dict[Path_, Located]) -> Path_:
    """The loc as user keys: union-member tags and `[key]` markers dropped."""
    out: list[str] = []
    for part in loc:
        text = str(part)
        if text.endswith("[key]"):
            continue
        here = (*out, text)
        # Keep a part when the YAML has it, or when it is the last (a missing key).
        if not marks or here in marks or part is loc[-1]:
            out.append(text)
    return tuple(out)


def _where(source: str, marks: dict[Path_, Located], path: Path_, on_key: bool) -> str:
    for n in range(len(path), -1, -1):
        loc = marks.get(path[:n])
        if loc is not None:
            line, col = loc.key if (on_key or n < len(path)) else loc.value
            return f"{source}:{line}:{col}"
    return f"{source}:1:1" if marks else source


def _scalar(v: Any) -> bool:
    return v is not None and not isinstance(v, dict | list)


def _lines_for(
    err: dict[str, Any], model: type[BaseModel], marks: dict[Path_, Located], source: str
) -> list[tuple[str, str]]:
    path = _clean_loc(err["loc"], marks)
    key = ".".join(path) or "(top level)"
    kind = err["type"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, KeyProblem):
        out = []
        for rel, msg in cause.items:
            sub = path + tuple(p for p in rel.split(".") if p)
            out.append(
                (_where(source, marks, sub, False), f"invalid value for '{'.'.join(sub)}': {msg}")
            )
        return out
    if kind == "extra_forbidden":
        hint = _suggest(path[-1], _allowed_keys(model, path[:-1]))
        return [
            (
                _where(source, marks, path, True),
                f"unknown key '{key}': {hint}remove it or fix the spelling "
                "(every key is documented in docs/config-reference.md)",
            )
        ]
    if kind == "missing":
        return [(_where(source, marks, path, True), f"missing required key '{key}': add it")]
    msg = err["msg"].removeprefix("Value error, ")
    got = err.get("input")
    got_txt = f" (got {got!r})" if _scalar(got) else ""
    hint = ""
    if kind == "literal_error" and isinstance(got, str):
        expected = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
        hint = _suggest(got, expected).replace("? ", "?")
        hint = f"; {hint}" if hint else ""
    return [
        (_where(source, marks, path, False), f"invalid value for '{key}': {msg}{got_txt}{hint}")
    ]


def _sort_key(line: str) -> tuple[int, int, str]:
    m = re.match(r"^.*?:(\d+):(\d+): ", line)
    return (int(m.group(1)), int(m.group(2)), line) if m else (0, 0, line)


def format_errors(
    err: ValidationError,
    model: type[BaseModel],
    marks: dict[Path_, Located],
    source: str,
) -> list[str]:
    """One line per problem, `source:line:col: message`, in file order, no duplicates."""
    lines: list[str] = []
    for e in err.errors():
        for where, msg in _lines_for(e, model, marks, source):
            line = f"{where}: {msg}"
            if line not in lines:
                lines.append(line)
    return sorted(lines, key=_sort_key)
