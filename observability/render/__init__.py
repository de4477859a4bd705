"""Generators for every committed artifact, one module per stage, and the registry."""

from observability.render.registry import (
    RenderResult,
    apply,
    check,
    render_all,
    render_objects,
    seed_hand_written,
)

__all__ = ["RenderResult", "apply", "check", "render_all", "render_objects", "seed_hand_written"]
