"""`obsctl load`: drive any OpenAI-compatible endpoint with the seed benchmark mix."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import typer

from observability.commands._common import die, print_json
from observability.commands._http import TimeoutOption, check_url
from observability.local.interrupt import interrupt_on_term


def load(
    url: list[str] = typer.Option(
        ..., "--url", "-u", help="Base URL (no /v1) of an OpenAI-compatible server; repeatable."
    ),
    model: str = typer.Option(
        "", "--model", "-m", help="Model name (default: first of /v1/models)."
    ),
    users: int = typer.Option(8, "--users", min=1, help="Concurrent users."),
    rate: float = typer.Option(
        4.0, "--rate", min=0, help="Requests/s over all users (0 = back to back)."
    ),
    duration: float = typer.Option(30, "--duration", "-d", min=1, help="Seconds to run."),
    stream: bool = typer.Option(
        True, "--stream/--no-stream", help="Stream tokens (TTFT/ITL need it)."
    ),
    api: str = typer.Option("completions", "--api", help="completions or chat."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write the JSON report here."),
    timeout: float = TimeoutOption(5.0, "each server's /v1/models"),
) -> None:
    """Short/medium/long generations (50/150/300 tokens, weighted 10:5:2) with Locust;
    prints requests/s, tokens/s, TTFT and inter-token p50/p95/p99 and errors."""
    if api not in ("completions", "chat"):
        die(f"unknown --api {api!r}: use completions or chat")
    from observability.load.runner import LoadSpec, Target, discover_model, run_load  # [demo]

    targets = []
    for u in url:
        u = u.rstrip("/").removesuffix("/v1")
        u = check_url(u, "--url", "http://127.0.0.1:8000")
        try:
            targets.append(Target(u, model or discover_model(u, timeout=timeout)))
        except (
            httpx.HTTPError,
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
        ) as err:
            die(f"{u}/v1/models did not answer ({err}): is the server up? or pass --model")
    spec = LoadSpec(
        tuple(targets), users=users, rate=rate, duration_s=duration, stream=stream, api=api
    )
    if not as_json:
        typer.echo(
            f"load: {users} users, {rate or 'max'} req/s, {duration:.0f}s on {', '.join(url)}"
        )
    with interrupt_on_term():
        try:
            report = run_load(spec)
        except KeyboardInterrupt:
            die("interrupted", 1)
        except RuntimeError as err:
            die(str(err))
    if out is not None:
        out.write_text(
            json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    if as_json:
        print_json(report.to_json())
    else:
        typer.echo("\n".join(report.lines()))
    if report.requests == 0:
        die("no request completed: check the URL and model", 1)
