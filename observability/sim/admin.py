"""Admin HTTP API of a sim process: the manifest and run-time fault switching."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from observability.sim.faults import FaultError, Faults

__all__ = ["add_admin_routes"]


def _err(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def add_admin_routes(
    app: web.Application,
    is_admin: Callable[[web.Request], bool],
    manifest: Callable[[], dict[str, Any]],
    faults: Faults,
) -> None:
    def guard(request: web.Request) -> None:
        if not is_admin(request):
            raise web.HTTPNotFound()

    async def replicas(request: web.Request) -> web.Response:
        guard(request)
        return web.json_response(manifest())

    async def list_faults(request: web.Request) -> web.Response:
        guard(request)
        return web.json_response({"active": faults.listing()})

    async def add_fault(request: web.Request) -> web.Response:
        guard(request)
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _err(400, 'body must be JSON: {"fault": NAME, "target": POD|NODE|"all"}')
        if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
            return _err(400, 'body needs "fault": NAME (and optional "target", "params")')
        params = body.get("params") or {}
        if not isinstance(params, dict):
            return _err(400, '"params" must be an object')
        try:
            faults.add(body["fault"], str(body.get("target", "all")), params)
        except FaultError as err:
            return _err(400, str(err))
        return web.json_response({"active": faults.listing()})

    async def clear_faults(request: web.Request) -> web.Response:
        guard(request)
        name = request.match_info.get("fault")
        try:
            faults.remove(name)
        except FaultError as err:
            return _err(400, str(err))
        return web.json_response({"active": faults.listing()})

    app.router.add_get("/replicas", replicas)
    app.router.add_get("/faults", list_faults)
    app.router.add_post("/faults", add_fault)
    app.router.add_delete("/faults", clear_faults)
    app.router.add_delete("/faults/{fault}", clear_faults)
