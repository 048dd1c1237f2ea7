"""POST / PUT / DELETE handlers (step 2)."""

from __future__ import annotations

from starlette.requests import Request

from gecko_pipeline.sandbox.core import Reply, Sandbox


async def dispatch(sandbox: Sandbox, request: Request, method: str, segments: list[str], token: str) -> Reply | None:
    return None
