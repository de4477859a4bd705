"""Grid positions and panel ids, computed: rows of panels flowing left to right."""

from __future__ import annotations

from dataclasses import dataclass, field

from grafanalib import core as g

from observability.dashboards.panels import PanelSpec, build

__all__ = ["GRID_WIDTH", "Layout", "laid_out"]

GRID_WIDTH = 24  # Grafana's grid columns


@dataclass
class Layout:
    """Places rows top to bottom: an expanded `RowPanel` followed by its panels, or a
    collapsed one holding them (Grafana queries them only once the row is opened). A
    collapsed row's panels keep the places they take when it is open, so the rows below
    stay where they would be and the snapshot, which shows every row open, lays them out
    the same."""

    panels: list[g.Panel] = field(default_factory=list)
    _y: int = 0
    _next_id: int = 1

    def _id(self) -> int:
        i = self._next_id
        self._next_id += 1
        return i

    def row(self, title: str, specs: list[PanelSpec], collapsed: bool = False) -> None:
        row = g.RowPanel(
            title=title,
            id=self._id(),
            gridPos=g.GridPos(h=1, w=GRID_WIDTH, x=0, y=self._y),
            collapsed=collapsed,
        )
        self.panels.append(row)
        placed = row.panels if collapsed else self.panels
        self._y += 1
        x, line_h = 0, 0
        for spec in specs:
            if spec.width > GRID_WIDTH:
                raise ValueError(f"panel {spec.title!r} is wider than the grid")
            if x + spec.width > GRID_WIDTH:
                self._y += line_h
                x, line_h = 0, 0
            grid = g.GridPos(h=spec.height, w=spec.width, x=x, y=self._y)
            placed.append(build(spec, grid, self._id()))
            x += spec.width
            line_h = max(line_h, spec.height)
        self._y += line_h


def laid_out(
    rows: list[tuple[str, list[PanelSpec]]], collapsed: frozenset[str] = frozenset()
) -> list[g.Panel]:
    """The panels of `rows` placed top to bottom, the rows titled in `collapsed` closed."""
    layout = Layout()
    for title, specs in rows:
        layout.row(title, specs, collapsed=title in collapsed)
    return layout.panels
