"""What a write handler works with: the sandbox, the request and its raw body."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gecko_sandbox.core import Reply, Sandbox
from gecko_sandbox.store import Record, Store, dumps


@dataclass
class Ctx:
    sandbox: Sandbox
    request: Request
    body: bytes

    @property
    def store(self) -> Store:
        return self.sandbox.store

    @property
    def now(self) -> str:
        return self.store.clock.now()

    def created(self, table_name: str, record: Record) -> Reply:
        """201 with the record and a Location header."""
        table = self.store.table(table_name)
        base = f"{self.request.url.scheme}://{self.request.url.netloc}"
        return Reply(
            201, dumps({table.singular: record}), {"Location": f"{base}/{table_name}/{record['id']}"}
        )
