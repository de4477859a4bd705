"""Locust user for `obsctl load`: streams OpenAI completions and records per-token timing.

Run by `observability.load.runner` in a locust subprocess (gevent monkey-patching stays out
of the obsctl process). Configuration comes from environment variables set by the runner:

- OBSCTL_LOAD_TARGETS: JSON list of {"url": base URL, "model": served model name}
- OBSCTL_LOAD_SAMPLES: path of a JSONL file; one line per request (timings in seconds)
- OBSCTL_LOAD_USER_RATE: requests per second per user (0 = back to back)
- OBSCTL_LOAD_STREAM: "1" to stream (TTFT and inter-token latency need it)
- OBSCTL_LOAD_API: "completions" or "chat"
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Iterator

from locust import FastHttpUser, constant, constant_throughput

from observability.load.mix import MIX, PROMPTS

_TARGETS = json.loads(os.environ.get("OBSCTL_LOAD_TARGETS", "[]"))
_SAMPLES = open(os.environ.get("OBSCTL_LOAD_SAMPLES", os.devnull), "a", buffering=1)  # noqa: SIM115
_RATE = float(os.environ.get("OBSCTL_LOAD_USER_RATE", "0"))
_STREAM = os.environ.get("OBSCTL_LOAD_STREAM", "1") == "1"
_API = os.environ.get("OBSCTL_LOAD_API", "completions")
_next_target = itertools.cycle(_TARGETS or [{"url": "", "model": ""}])


def _body(model: str, prompt: str, max_tokens: int) -> dict[str, object]:
    body: dict[str, object] = {"model": model, "max_tokens": max_tokens, "temperature": 0.7}
    if _API == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if _STREAM:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _lines(resp: object) -> Iterator[bytes]:
    """SSE lines as they arrive (FastResponse.readline splits on CRLF; SSE uses LF)."""
    raw = resp._response  # type: ignore[attr-defined]
    while True:
        line = raw.readline(b"\n")
        if not line:
            return
        line = line.strip()
        if line:
            yield line


def _chunk_text(chunk: dict[str, object]) -> str:
    out = ""
    for choice in chunk.get("choices") or []:  # type: ignore[union-attr]
        out += choice.get("text") or (choice.get("delta") or {}).get("content") or ""
    return out


def _make_task(name: str, max_tokens: int):  # type: ignore[no-untyped-def]
    def run(self: OpenAIUser) -> None:
        self._generate(name, max_tokens)

    run.__name__ = f"generate_{name}"
    return run


class OpenAIUser(FastHttpUser):
    # FastHttpUser (geventhttpclient), not HttpUser: requests goes through the
    # urllib3-future that grafana-client pulls in, whose traffic police fails under gevent.
    wait_time = constant_throughput(_RATE) if _RATE > 0 else constant(0)
    network_timeout = 120.0
    connection_timeout = 10.0
    # The seed's 10:5:2 weighting of short/medium/long generations. Set in the class body:
    # locust's metaclass expands the weights only there.
    tasks = {_make_task(g.name, g.max_tokens): g.weight for g in MIX}  # noqa: RUF012

    def _generate(self, name: str, max_tokens: int) -> None:
        target = next(_next_target)
        url = f"{target['url']}/v1/{'chat/completions' if _API == 'chat' else 'completions'}"
        sample: dict[str, object] = {
            "t": time.time(),
            "scenario": name,
            "target": target["url"],
            "ok": False,
            "ttft": None,
            "itl": [],
            "tokens": 0,
        }
        start = time.perf_counter()
        last = None
        chunks = 0
        usage_tokens = None
        try:
            with self.client.post(
                url,
                json=_body(target["model"], random.choice(PROMPTS), max_tokens),
                stream=_STREAM,
                name=name,
                catch_response=True,
            ) as resp:
                if resp.status_code != 200:
                    sample["error"] = f"HTTP {resp.status_code}"
                    resp.failure(sample["error"])
                elif _STREAM:
                    for line in _lines(resp):
                        if not line.startswith(b"data:"):
                            continue
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            break
                        chunk = json.loads(data)
                        if chunk.get("usage"):
                            usage_tokens = chunk["usage"].get("completion_tokens")
                        if not _chunk_text(chunk):
                            continue
                        now = time.perf_counter()
                        if last is None:
                            sample["ttft"] = now - start
                        else:
                            sample["itl"].append(now - last)  # type: ignore[union-attr]
                        last = now
                        chunks += 1
                    sample["ok"] = chunks > 0
                    if not sample["ok"]:
                        sample["error"] = "stream ended without tokens"
                        resp.failure(sample["error"])
                else:
                    usage_tokens = resp.json().get("usage", {}).get("completion_tokens")
                    sample["ok"] = True
        except Exception as err:  # a broken connection is a client-side error sample
            sample["error"] = f"{type(err).__name__}: {err}"[:200]
        sample["latency"] = time.perf_counter() - start
        sample["tokens"] = usage_tokens if usage_tokens is not None else chunks
        _SAMPLES.write(json.dumps(sample) + "\n")
