"""Helpers that read a test sandbox's state through its control plane (not part of the real API)."""

from __future__ import annotations

from typing import Any

import httpx
from gecko_sandbox.server import SandboxHandle


def dump(handle: SandboxHandle, resource: str) -> list[dict[str, Any]]:
    """Every record of `resource` as the sandbox holds it (`GET /_sandbox/dump/{resource}`)."""
    response = httpx.get(f"{handle.url}/_sandbox/dump/{resource}", timeout=30)
    response.raise_for_status()
    return response.json()[resource]


def control(handle: SandboxHandle, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call the control plane (`/_sandbox/{path}`): stats, faults, merchant activity."""
    response = httpx.request(method, f"{handle.url}/_sandbox/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()
