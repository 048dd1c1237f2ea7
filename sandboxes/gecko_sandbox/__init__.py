"""A faithful local TradeGecko / QuickBooks Commerce API sandbox (ASGI, Starlette + uvicorn).

    from gecko_sandbox import SandboxConfig, run_sandbox
    with run_sandbox(SandboxConfig(scale=40)) as handle:
        httpx.get(f"{handle.url}/variants", headers={"Authorization": f"Bearer {handle.token}"})

See README.md in this folder for the control plane and the choices made where the API is unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gecko_sandbox.config import FaultConfig, SandboxConfig

if TYPE_CHECKING:
    from gecko_sandbox.app import SandboxApp
    from gecko_sandbox.server import SandboxHandle

__all__ = ["FaultConfig", "SandboxApp", "SandboxConfig", "SandboxHandle", "create_app", "run_sandbox"]


def __getattr__(name: str) -> object:
    # Lazy: importing the config (e.g. for the CLI) does not load uvicorn and the seeder.
    if name in ("create_app", "SandboxApp"):
        from gecko_sandbox import app

        return getattr(app, name)
    if name in ("run_sandbox", "SandboxHandle"):
        from gecko_sandbox import server

        return getattr(server, name)
    raise AttributeError(name)
