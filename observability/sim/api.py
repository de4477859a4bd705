"""The OpenAI-compatible HTTP surface of one replica, as vLLM serves it.

Errors use vLLM's status codes and JSON: flat `{"object": "error", "message", "type",
"param", "code"}` in 0.7.x, `{"error": {"message", "type", "param", "code"}}` from the
0.8 series on.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from observability.sim.engine import Engine, Request
from observability.sim.faults import Faults
from observability.sim.metrics import CONTENT_TYPE, ReplicaMetrics
from observability.sim.ray import RayServeStats, ray_worker_exposition
from observability.sim.tgi import TgiMetrics

__all__ = ["Replica", "add_replica_routes"]

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_VOCAB = 128000
_HTTP_EXCLUDED = {"/metrics", "/health", "/load", "/ping", "/version", "/server_info"}

# request key: when a streamed response wrote its first chunk (router-side TTFT)
FIRST_CHUNK = "obsctl_first_chunk_at"


@dataclass(eq=False)
class Replica:
    pod: str
    namespace: str
    model_key: str
    model: str
    port: int
    node: str
    version: str
    engine: Engine
    metrics: ReplicaMetrics | TgiMetrics
    faults: Faults
    max_model_len: int
    rng_seed: int = 0
    counter: int = 0
    inflight: set[Request] = field(default_factory=set)
    runtime: str = "vllm"
    serve: RayServeStats | None = None  # Ray Serve's view of the replica (rayservice)
    gateway: Any = None  # the AIBrix gateway plugins in front of it (aibrix)
    epp: Any = None  # the inference pool's endpoint picker routing to it

    @property
    def v0(self) -> bool:
        return self.version.startswith("0.7.")


class ApiError(Exception):
    def __init__(self, status: int, etype: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.etype, self.message, self.param = status, etype, message, param


def error_response(replica: Replica, err: ApiError) -> web.Response:
    body: dict[str, Any] = {
        "message": err.message,
        "type": err.etype,
        "param": err.param,
        "code": err.status,
    }
    payload = {"object": "error", **body} if replica.v0 else {"error": body}
    return web.json_response(payload, status=err.status)


def tokenize(text: str) -> list[int]:
    return [zlib.crc32(t.encode()) % _VOCAB for t in _TOKEN_RE.findall(text)]


def _chat_prompt(messages: Any) -> list[int]:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "BadRequestError", "messages: Field required or empty", "messages")
    ids = [128000]  # BOS
    for m in messages:
        if not isinstance(m, dict) or "role" not in m:
            raise ApiError(400, "BadRequestError", "messages: each message needs a role")
        content = m.get("content") or ""
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        ids += [128006, *tokenize(str(m["role"])), 128007, *tokenize(str(content)), 128009]
    return [*ids, 128006, 78191, 128007]  # assistant header


def _int_param(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "BadRequestError", f"{name}: Input should be a valid integer", name)
    return value


def add_replica_routes(app: web.Application, lookup: Callable[[web.Request], Replica | None]):
    async def replica_of(request: web.Request) -> Replica:
        replica = lookup(request)
        if replica is None:
            raise web.HTTPNotFound()
        return replica

    async def models(request: web.Request) -> web.Response:
        r = await replica_of(request)
        card = {
            "id": r.model,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "vllm",
            "root": r.model,
            "parent": None,
            "max_model_len": r.max_model_len,
            "permission": [],
        }
        return web.json_response({"object": "list", "data": [card]})

    async def health(request: web.Request) -> web.Response:
        await replica_of(request)
        return web.Response(status=200)

    async def version(request: web.Request) -> web.Response:
        r = await replica_of(request)
        return web.json_response({"version": r.version})

    async def metrics(request: web.Request) -> web.Response:
        r = await replica_of(request)
        body = r.metrics.exposition(
            vllm_disabled=r.faults.get("metrics-disabled", r.pod) is not None,
            underscore=r.faults.get("underscore-escaping", r.pod) is not None,
        )
        if r.serve is not None:  # a Ray node's metrics agent, not vLLM's API server
            r.serve.ongoing = len(r.inflight)
            body = ray_worker_exposition(body.decode(), r.pod, r.serve)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def completions(request: web.Request) -> web.StreamResponse:
        return await generate(request, chat=False)

    async def chat(request: web.Request) -> web.StreamResponse:
        return await generate(request, chat=True)

    async def generate(request: web.Request, chat: bool) -> web.StreamResponse:
        r = await replica_of(request)
        try:
            return await _generate(request, r, chat)
        except ApiError as err:
            return error_response(r, err)

    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/chat/completions", chat)


def http_metrics_middleware(lookup: Callable[[web.Request], Replica | None]):
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        start = time.perf_counter()
        replica = lookup(request)  # by the port, known while the client is still there
        response = await handler(request)
        route = request.match_info.route.resource
        path = route.canonical if route is not None else request.path
        if replica is not None and replica.serve is not None and path.startswith("/v1/"):
            replica.serve.observe(response.status)
        if replica is not None and replica.gateway is not None and path.startswith("/v1/"):
            replica.gateway.observe(replica.model, response.status)
        if replica is not None and replica.epp is not None and path.startswith("/v1/"):
            # TTFT as the EPP records it: at the first body chunk of a stream, with the
            # body of a whole response (llm-d-router handlers/response.go)
            first = request.get(FIRST_CHUNK) or time.perf_counter()
            replica.epp.observe(replica.model, response.status, first - start)
        if replica is not None and path not in _HTTP_EXCLUDED:
            replica.metrics.http(
                path,
                request.method,
                response.status,
                time.perf_counter() - start,
                request.content_length or 0,
                response.body_length if response.body_length else 0,
            )
        return response

    return middleware


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ApiError(400, "BadRequestError", f"JSON decode error: {err}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequestError", "Input should be a valid dictionary or object")
    return body


async def _generate(request: web.Request, r: Replica, chat: bool) -> web.StreamResponse:
    body = await _body(request)
    model = body.get("model")
    if model is not None and model != r.model:
        suffix = "" if r.v0 else f" Valid aliases: {r.model}."
        raise ApiError(
            404,
            "NotFoundError",
            f"The model `{model}` does not exist.{suffix}",
            None if r.v0 else "model",
        )
    if chat:
        prompt_ids = _chat_prompt(body.get("messages"))
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
            prompt = " ".join(prompt)  # batch prompts: one engine request in this model
        if not isinstance(prompt, str):
            raise ApiError(400, "BadRequestError", "prompt: Field required", "prompt")
        prompt_ids = tokenize(prompt) or [0]
    max_tokens = _int_param(body, "max_completion_tokens" if chat else "max_tokens", None)
    if chat and max_tokens is None:
        max_tokens = _int_param(body, "max_tokens", None)
    if not chat and max_tokens is None:
        max_tokens = 16  # CompletionRequest default
    n = _int_param(body, "n", 1) or 1
    if max_tokens is not None and max_tokens < 1:
        raise ApiError(
            400,
            "BadRequestError",
            f"max_tokens must be at least 1, got {max_tokens}.",
            "max_tokens",
        )
    if n < 1:
        raise ApiError(400, "BadRequestError", f"n must be at least 1, got {n}.", "n")
    limit = r.max_model_len
    if len(prompt_ids) + (max_tokens or 0) > limit or len(prompt_ids) >= limit:
        raise ApiError(
            400,
            "BadRequestError",
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{len(prompt_ids) + (max_tokens or 0)} tokens ({len(prompt_ids)} in the messages, "
            f"{max_tokens or 0} in the completion). Please reduce the length of the messages "
            "or completion.",
        )
    storm = r.faults.get("error-storm", r.pod)
    r.counter += 1
    if storm and r.engine.rng.random() < storm.params["ratio"]:
        r.metrics.failed()
        raise ApiError(500, "InternalServerError", "EngineCore encountered an issue.")
    stream = bool(body.get("stream"))
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    cap = max_tokens if max_tokens is not None else limit - len(prompt_ids)
    min_tokens = _int_param(body, "min_tokens", 0) or 0
    reqs = []
    for _ in range(n):
        natural = max(1, int(r.engine.rng.lognormvariate(math.log(180), 0.6)))
        target = cap if body.get("ignore_eos") else max(min_tokens, natural)
        reqs.append(
            Request(
                rid=f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
                prompt_ids=prompt_ids,
                max_tokens=cap,
                target_len=target,
                n_param=n,
                max_tokens_param=max_tokens,
            )
        )
    rid = reqs[0].rid
    for q in reqs:
        r.inflight.add(q)
        r.engine.add(q)
    try:
        if stream:
            return await _stream(request, r, reqs, rid, chat, include_usage)
        return await _complete(r, reqs, rid, chat)
    finally:
        for q in reqs:
            r.inflight.discard(q)
            if q.finished_reason is None:
                r.engine.abort(q, client_gone=True)  # free its blocks, count nothing


async def _drain(req: Request) -> None:
    while req.finished_reason is None:
        await req.events.get()


async def _complete(r: Replica, reqs: list[Request], rid: str, chat: bool) -> web.Response:
    await asyncio.gather(*(_drain(q) for q in reqs))
    choices = []
    for i, q in enumerate(reqs):
        text = q.text(q.output)
        if chat:
            choices.append(
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text, "tool_calls": []},
                    "logprobs": None,
                    "finish_reason": q.finished_reason,
                    "stop_reason": None,
                }
            )
        else:
            choices.append(
                {
                    "index": i,
                    "text": text,
                    "logprobs": None,
                    "finish_reason": q.finished_reason,
                    "stop_reason": None,
                }
            )
    return web.json_response(
        {
            "id": rid,
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": r.model,
            "choices": choices,
            "usage": _usage(reqs),
        }
    )


def _usage(reqs: list[Request]) -> dict[str, int]:
    prompt = len(reqs[0].prompt_ids)
    completion = sum(len(q.output) for q in reqs)
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
    }


async def _stream(
    request: web.Request, r: Replica, reqs: list[Request], rid: str, chat: bool, include_usage: bool
) -> web.StreamResponse:
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    created = int(time.time())
    obj = "chat.completion.chunk" if chat else "text_completion"

    async def send(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> None:
        # the router (EPP) times its first token at the first body chunk of a stream
        request.setdefault(FIRST_CHUNK, time.perf_counter())
        chunk: dict[str, Any] = {
            "id": rid,
            "object": obj,
            "created": created,
            "model": r.model,
            "choices": choices,
        }
        if usage is not None:
            chunk["usage"] = usage
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    if chat:
        await send(
            [
                {
                    "index": i,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
                for i in range(len(reqs))
            ]
        )
    pending = {asyncio.ensure_future(q.events.get()): i for i, q in enumerate(reqs)}
    try:
        await _pump(pending, reqs, send, chat)
        if include_usage:
            await send([], _usage(reqs))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client left: its 200 was sent, and vLLM's HTTP metrics count it so
    finally:
        for fut in pending:
            fut.cancel()
    return resp


async def _pump(pending: dict[Any, int], reqs: list[Request], send: Any, chat: bool) -> None:
    while pending:
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for fut in done:
            i = pending.pop(fut)
            ids, reason = fut.result()
            q = reqs[i]
            text = q.text(ids)
            if chat:
                choice = {
                    "index": i,
                    "delta": {"content": text},
                    "logprobs": None,
                    "finish_reason": reason,
                }
            else:
                choice = {
                    "index": i,
                    "text": text,
                    "logprobs": None,
                    "finish_reason": reason,
                    "stop_reason": None,
                }
            if ids or reason:
                await send([choice])
            if reason is None:
                pending[asyncio.ensure_future(q.events.get())] = i
