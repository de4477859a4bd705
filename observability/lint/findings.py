"""The one result type every lint check returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

__all__ = ["Finding"]


@dataclass(frozen=True)
class Finding:
    """One problem: where (file, object, field), what, and how to fix it."""

    check: str  # short id of the check, e.g. "schema", "promtool", "metric-contract"
    file: str  # repository-relative path
    message: str  # what is wrong and the fix, one line
    obj: str = ""  # "Kind/namespace/name" or panel title or rule name
    field: str = ""  # dotted path inside the object
    severity: Literal["error", "warning"] = "error"

    def line(self) -> str:
        where = ":".join(p for p in (self.file, self.obj, self.field) if p)
        return f"{self.severity}: [{self.check}] {where}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)
