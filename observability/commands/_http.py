"""Plumbing of the commands that talk to a running server: `--timeout` and URL checks."""

from __future__ import annotations

from typing import Any

import typer

from observability.commands._common import die

__all__ = ["TimeoutOption", "check_url"]


def TimeoutOption(default: float, what: str) -> Any:
    """`--timeout SECONDS`: how long to wait for `what` before exiting 2 (hung or refused)."""
    return typer.Option(
        default,
        "--timeout",
        min=0.1,
        max=3600,
        help=f"Seconds to wait for {what}; a hung or refused endpoint exits 2 within it.",
    )


def check_url(value: str, flag: str, example: str = "http://127.0.0.1:9090") -> str:
    """An http(s) URL with a host and a valid port, else exit 2 naming the flag."""
    import httpx

    try:
        url = httpx.URL(value)
        ok = (
            url.scheme in ("http", "https")
            and bool(url.host)
            and "://" in value
            and not any(c.isspace() or not c.isprintable() for c in value)
        )
    except (httpx.InvalidURL, ValueError, TypeError):
        ok = False
    if not ok:
        die(f"{flag} {value!r} is not an http(s) URL with a host: pass e.g. {example}")
    return value.rstrip("/")
