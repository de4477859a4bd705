"""Format values the way the panel's Grafana unit would, for axes and stat numbers."""

from __future__ import annotations

__all__ = ["fmt"]


def _short(v: float) -> str:
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def fmt(value: float | None, unit: str) -> str:
    if value is None or value != value:  # None or NaN
        return "No data"
    if unit == "s":
        if abs(value) < 1:
            return f"{value * 1000:.3g} ms"
        return f"{value:.3g} s"
    if unit == "percentunit":
        return f"{value * 100:.3g}%"
    if unit == "reqps":
        return f"{_short(value)} req/s"
    if unit == "currencyUSD":
        return f"${value:,.4g}" if abs(value) < 1000 else f"${_short(value)}"
    if unit == "mbytes":
        return f"{value / 1024:.3g} GiB" if abs(value) >= 1024 else f"{value:.3g} MiB"
    if unit == "watt":
        return f"{value:.3g} W"
    if unit == "celsius":
        return f"{value:.3g} °C"
    if unit.startswith("suffix:"):
        return f"{_short(value)} {unit.removeprefix('suffix:').strip()}"
    return _short(value)
