"""vLLM observability bundle: config, renderers, lint, simulators, local stack, verify."""

__version__ = "0.1.0"
