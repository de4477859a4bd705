"""A real vLLM in the loop: a tiny model made on the spot and a supervised CPU vLLM server
(`obsctl demo --engine vllm-cpu`, tests/test_real_engine.py, docs/real-engine.md)."""
