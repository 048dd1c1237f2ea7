"""Webhook delivery (step 3)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from gecko_pipeline.sandbox.core import Sandbox


class Deliverer:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.log: list[dict[str, Any]] = []

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        yield
