"""`vllm`: the plain Deployment rendered by render/deploy.py; vLLM's own names, no mapping."""

from __future__ import annotations

from observability.runtimes.base import Runtime

__all__ = ["VllmRuntime"]


class VllmRuntime(Runtime):
    name = "vllm"
