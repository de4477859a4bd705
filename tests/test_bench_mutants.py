"""bench/mutants.py's rule for equivalent mutants: a mutant that only changes annotations
nothing evaluates is EQUIVALENT without being run; any other change is judged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import mutants

pytest.importorskip("cosmic_ray")

SRC = """from __future__ import annotations


class Model:
    field: int | None = None


def f(x: int | None = None, y: int = 1 | 2) -> str | None:
    z: int | None = x
    return x | y
"""


def _all_mutants(source: str, operator: str) -> list[str]:
    out = []
    for occurrence in range(50):
        m = mutants.Mutant("m.py", operator, occurrence, 0)
        mutated = mutants.mutate(m, source)
        if mutated is None:
            return out
        out.append(mutated)
    raise AssertionError("more occurrences than expected")


def test_only_unevaluated_annotations_are_equivalent():
    got = [
        (mutants.diff_lines(SRC, m)[1][1:].strip(), mutants.annotation_only(SRC, m))
        for m in _all_mutants(SRC, "core/ReplaceBinaryOperator_BitOr_Sub")
    ]
    assert got == [
        ("def f(x: int - None = None, y: int = 1 | 2) -> str | None:", True),  # argument
        ("def f(x: int | None = None, y: int = 1 - 2) -> str | None:", False),  # default
        ("def f(x: int | None = None, y: int = 1 | 2) -> str - None:", True),  # return
        ("return x - y", False),  # the body
    ]
    # cosmic-ray leaves variable annotations alone; the rule still tells them apart:
    # a local variable's is never evaluated, a class body's is (pydantic's model fields)
    local = SRC.replace("z: int | None", "z: int - None")
    field = SRC.replace("field: int | None", "field: int - None")
    assert mutants.annotation_only(SRC, local) and not mutants.annotation_only(SRC, field)


def test_without_future_annotations_every_mutant_is_run():
    src = SRC.removeprefix("from __future__ import annotations\n")
    assert not any(
        mutants.annotation_only(src, m)
        for m in _all_mutants(src, "core/ReplaceBinaryOperator_BitOr_Sub")
    )


def test_a_real_annotation_mutant_is_classified_and_a_body_one_is_not():
    """Over a real module: the `X | None` of fmt_selector's argument is classified, a
    comparison in its body is judged."""
    path = "observability/verify/selectors.py"
    source = (mutants.ROOT / path).read_text(encoding="utf-8")
    found = {}
    for m in mutants.enumerate_mutants([path]):
        mutated = mutants.mutate(m, source)
        changed = mutants.diff_lines(source, mutated)[1][1:].strip()
        if changed.startswith("def fmt_selector(") and "|" not in changed.split(")")[0]:
            found["annotation"] = mutants.annotation_only(source, mutated)
        if m.operator == "core/ReplaceComparisonOperator_Eq_NotEq":
            found["body"] = mutants.annotation_only(source, mutated)
    assert found == {"annotation": True, "body": False}
