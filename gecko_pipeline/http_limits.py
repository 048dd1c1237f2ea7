"""Reading a request body under a size limit, for the endpoints the outside world posts to (the webhook
receiver and the order intake): a body that declares or streams more than the limit is refused without
being read into memory."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body declares (Content-Length) or streams more than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or BodyTooLarge as soon as it declares or streams more than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # stop reading: a chunked body without a length
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
