"""The runtimes that can serve a model (`models.<key>.runtime`): their names, once, and the
few facts parsing a model needs of each."""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["RUNTIMES", "RUNTIME_TRAITS", "RuntimeName", "RuntimeTraits"]


class RuntimeTraits(NamedTuple):
    """What parsing a model must know of the runtime that serves it. The plug-ins
    (observability/runtimes/) sit above config and import it, so these few facts are data
    here, asked by the validators below, instead of comparisons with a runtime's name."""

    # one serving replica spans `models.<key>.nodes` pods (a leader and its workers)
    spans_pods: bool = False
    # the label its router matches against the served name (so that name must be a valid
    # label value and Service name); "" when nothing routes on the name
    routing_label: str = ""


# What can serve a model (models.<key>.runtime), in the order monitors and mappings render:
# the one list of runtimes. Each name has one plug-in in observability/runtimes/ (REGISTRY
# is checked against it).
RUNTIME_TRAITS: dict[str, RuntimeTraits] = {
    "vllm": RuntimeTraits(),
    "rayservice": RuntimeTraits(),
    "aibrix": RuntimeTraits(routing_label="model.aibrix.ai/name"),
    "tgi": RuntimeTraits(),
    "kserve": RuntimeTraits(),
    "lws": RuntimeTraits(spans_pods=True),
}
RUNTIMES: tuple[str, ...] = tuple(RUNTIME_TRAITS)
RuntimeName = Literal[RUNTIMES]  # type: ignore[valid-type]  # the table above, as a type
