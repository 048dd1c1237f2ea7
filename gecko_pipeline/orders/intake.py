"""Order intake: the HTTP endpoint and the drop folder. Both store orders durably in the ops.sqlite
inbox before they acknowledge, and neither validates more than it must (the push job validates and
quarantines), so a bad order is never lost at the door.

HTTP: `POST /channels/{channel}/orders` with one order, a JSON list, or `{"orders": [...]}`, signed
with the channel's shared secret: `X-Channel-Signature` = base64(HMAC-SHA256(secret, raw body))
(gecko_pipeline.signing). Answers 202 with the inbox ids; 401 for a bad or missing signature, 404 for
an unknown channel, 413 above the body limit, 400 for a body that is not strict JSON (NaN, duplicate
keys, lone surrogates, nesting deeper than inbox.MAX_DEPTH) or whose root is neither an order, a list
nor {"orders": [...]}; 503 when the inbox cannot be written. Never a 500: a channel retries those
forever.

Drop folder: `<data dir>/order_drop/*.json` (an order, a list, or {"orders": [...]}) and `*.ndjson` /
`*.jsonl` (one order per line). A file is ingested once (by content hash, in the same transaction as
its orders) and then moved to `order_drop/done/`. Writers should write to another name and rename
into place, so a half-written file is never read.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from gecko_pipeline import ops_db, signing
from gecko_pipeline.channels.config import ChannelConfig, load_channels
from gecko_pipeline.config import Settings
from gecko_pipeline.http_limits import BodyTooLarge, read_limited
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.orders import inbox

log = logging.getLogger("gecko_pipeline.orders.intake")

SIGNATURE_HEADER = "X-Channel-Signature"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # a batch of a few hundred orders; bigger exports use the drop folder
DROP_SUFFIXES = (".json", ".ndjson", ".jsonl")


def sandbox_channel_secret(channel: str) -> str:
    """The documented demo secret of a channel, used only when the pipeline talks to the embedded sandbox."""
    return f"sandbox-{channel}-order-secret"


def channel_secret(channel: ChannelConfig, settings: Settings) -> str | None:
    """The channel's intake secret from the environment variable its config names (never the file)."""
    secret = settings.secret(channel.order_secret_env)
    if secret:
        return secret
    if settings.uses_sandbox:
        return sandbox_channel_secret(channel.name)
    return None


def drop_folder(data_dir: Path) -> Path:
    return Path(data_dir) / "order_drop"


def intake_routes(
    settings: Settings,
    *,
    channels: list[ChannelConfig] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> list[BaseRoute]:
    """The intake routes, to mount in any Starlette app (the gateway serves them beside the webhook receiver)."""
    configured = channels if channels is not None else load_channels(settings.channels_file)
    by_name = {channel.name: channel for channel in configured}
    secrets = {name: channel_secret(channel, settings) for name, channel in by_name.items()}
    ops_path = settings.ops_path
    with closing(ops_db.connect(ops_path)) as con:
        inbox.ensure_schema(con)

    def store(channel: str, items: list[Any]) -> list[int]:
        with closing(ops_db.connect(ops_path)) as con:
            return inbox.add_orders(con, channel, items, "http")

    async def receive(request: Request) -> JSONResponse:
        channel = request.path_params["channel"]
        if channel not in by_name:
            return _error(404, f"unknown channel {channel!r}")
        secret = secrets[channel]
        if not secret:
            env_name = (
                by_name[channel].order_secret_env or "(order_secret_env is not set in the channel file)"
            )
            return _error(503, f"channel {channel!r} has no intake secret: set {env_name}")
        try:
            body = await read_limited(request, max_body_bytes)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        if not signing.verify(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return _error(401, f"missing or bad {SIGNATURE_HEADER}")
        try:
            document = inbox.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not acceptable JSON: {exc}")
        if not isinstance(document, dict | list):
            return _error(400, 'body must be an order object, a list of orders or {"orders": [...]}')
        items = inbox.split_batch(document)
        if not items:
            return _error(400, "no orders in the body")
        try:
            ids = await run_in_threadpool(store, channel, items)
        except sqlite3.Error as exc:  # the inbox, not the body: the channel should try again later
            log.error("intake: could not store %d order(s) for %s: %s", len(items), channel, exc)
            return _error(503, f"the order inbox is unavailable ({type(exc).__name__}); try again later")
        log.info("intake: %d order(s) for %s stored as inbox #%d-#%d", len(ids), channel, ids[0], ids[-1])
        return JSONResponse({"accepted": len(ids), "inbox_ids": ids}, status_code=202)

    return [Route("/channels/{channel}/orders", receive, methods=["POST"], name="order_intake")]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# --- drop folder ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DropResult:
    files: int = 0
    orders: int = 0
    duplicates: int = 0


def ingest_drop_folder(con: sqlite3.Connection, folder: Path) -> DropResult:
    """Stores every order file in `folder` in the inbox (once per content) and moves it to `done/`."""
    folder = Path(folder)
    if not folder.is_dir():
        return DropResult()
    inbox.ensure_schema(con)
    done = folder / "done"
    files = orders = duplicates = 0
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in DROP_SUFFIXES):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with transaction(con):
            seen = con.execute("SELECT 1 FROM order_drop_files WHERE sha256 = ?", (digest,)).fetchone()
            if seen:
                duplicates += 1
            else:
                ids = _insert_file(con, path, data)
                con.execute(
                    "INSERT INTO order_drop_files (sha256, name, orders, ingested_at) VALUES (?, ?, ?, ?)",
                    (digest, path.name, len(ids), inbox.now_iso()),
                )
                orders += len(ids)
                files += 1
        # After the commit: a crash here leaves the file, and its hash makes the next pass skip it.
        done.mkdir(exist_ok=True)
        path.replace(done / f"{time.strftime('%Y%m%dT%H%M%S')}-{path.name}")
    if files:
        log.info("drop folder: %d file(s), %d order(s) stored", files, orders)
    return DropResult(files=files, orders=orders, duplicates=duplicates)


def _insert_file(con: sqlite3.Connection, path: Path, data: bytes) -> list[int]:
    source = f"file:{path.name}"
    text = data.decode("utf-8", errors="replace")
    if path.suffix.lower() == ".json":
        try:
            items = inbox.split_batch(inbox.loads(text))
        except ValueError:
            return inbox.insert_orders(con, None, [text], source, raw=True)  # kept whole, quarantined later
        return inbox.insert_orders(con, None, items, source)
    lines = [line for line in text.splitlines() if line.strip()]
    return inbox.insert_orders(con, None, lines, source, raw=True)


# --- the intake alone (`gecko-pipeline intake`); `gecko-pipeline gateway` serves it with the webhooks ---


def intake_app(settings: Settings, **kwargs: Any) -> Starlette:
    return Starlette(routes=intake_routes(settings, **kwargs))
