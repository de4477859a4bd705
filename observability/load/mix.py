"""The benchmark mix of the seed project `llama-vllm-deploy` (benchmarking/benchmark_vllm.py).

Three scenarios, short/medium/long generations of 50/150/300 tokens, weighted 10:5:2, over a
set of diverse prompts. Plain data, imported by the locustfile and by the report.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIX", "PROMPTS", "Generation"]


@dataclass(frozen=True)
class Generation:
    name: str
    max_tokens: int
    weight: int


MIX: tuple[Generation, ...] = (
    Generation("short", 50, 10),
    Generation("medium", 150, 5),
    Generation("long", 300, 2),
)

PROMPTS: tuple[str, ...] = (
    "Explain the difference between a process and a thread.",
    "Write a haiku about Kubernetes autoscaling.",
    "Summarise the causes of the French Revolution in three sentences.",
    "What is a KV cache in transformer inference and why does it grow with context length?",
    "Give me a Python function that merges two sorted lists.",
    "Describe how Prometheus computes a histogram quantile.",
    "List five practical tips for reducing cloud GPU costs.",
    "Translate 'observability is a property of systems' into French and German.",
    "What are the trade-offs of tensor parallelism versus pipeline parallelism?",
    "Write a short story opening set on a night train through the Alps.",
    "Explain SLO error budgets to a new on-call engineer.",
    "How does continuous batching improve LLM serving throughput?",
)
