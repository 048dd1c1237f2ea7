"""Endpoints to measure the webhook receiver against: `python -m bench._servers KIND PORT`.

- `raw`: an asyncio protocol answering every request with a fixed 200 (no ASGI, no framework): what the
  load generator can reach, a lower bound of its own ceiling;
- `bare`: a Starlette POST /webhooks that reads the body and answers 200, served by uvicorn with the
  gateway's options (gecko_pipeline/gateway.py): the server stack's ceiling without verifying or storing.
The receiver itself is `gecko-pipeline gateway`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

RESPONSE = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"status":200}\n'


class RawResponder(asyncio.Protocol):
    """Counts complete requests in the byte stream (head, then Content-Length bytes) and answers each."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport, self.buffer = cast(asyncio.WriteTransport, transport), b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(RESPONSE)


async def _serve_raw(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(RawResponder, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def _serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def ok(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": 200})

    async def index(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/", index), Route("/webhooks", ok, methods=["POST"])])
    # The gateway's options (gateway.serve): no access log, no lifespan.
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "raw":
        try:
            import uvloop  # as fast a loop as the generator's: the responder must not be what limits it

            uvloop.run(_serve_raw(port))
        except ImportError:
            asyncio.run(_serve_raw(port))
    else:
        _serve_bare(port)
