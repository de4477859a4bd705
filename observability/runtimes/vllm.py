"""`vllm`: the plain Deployment rendered by render/deploy.py; vLLM's own names, no mapping."""

from __future__ import annotations

from observability.runtimes.base import Runtime

__all__ = ["VllmRuntime"]


class VllmRuntime(Runtime):
    name = "vllm"
    demo_default = True  # the demo's extra models are plain vLLM Deployments
