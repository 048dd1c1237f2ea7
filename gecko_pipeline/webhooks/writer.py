"""Group commit for the receiver: one thread owns the ops.sqlite connection and stores whatever
deliveries are waiting in one transaction, so a burst costs one fsync per batch rather than one per
delivery. Each request still waits for its own row to be committed before it answers 2xx."""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from gecko_pipeline import ops_db
from gecko_pipeline.ops_db import transaction
from gecko_pipeline.webhooks import store

log = logging.getLogger("gecko_pipeline.webhooks")

MAX_BATCH = 256
IDLE_SECONDS = 5.0  # the thread (and its connection) goes away when nothing arrives for this long

Settle = Callable[[bool | BaseException], None]


class EventWriter:
    def __init__(self, path: Path, max_batch: int = MAX_BATCH) -> None:
        self.path, self.max_batch = path, max_batch
        self._queue: queue.SimpleQueue[tuple[store.NewEvent, Settle]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def insert(self, event: store.NewEvent) -> bool:
        """Stores the event (True) or finds its delivery id already stored (False), once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()

        def settle(result: bool | BaseException) -> None:
            loop.call_soon_threadsafe(_resolve, future, result)

        with self._lock:  # the thread checks for work under the same lock before it exits
            self._queue.put((event, settle))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="webhook-writer")
                self._thread.start()
        return await future

    def _next_batch(self) -> list[tuple[store.NewEvent, Settle]] | None:
        try:
            batch = [self._queue.get(timeout=IDLE_SECONDS)]
        except queue.Empty:
            return None
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        con = ops_db.connect(self.path)
        try:
            store.ensure_schema(con)
            while True:
                batch = self._next_batch()
                if batch is None:
                    with self._lock:
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                self._write(con, batch)
        finally:
            con.close()

    def _write(self, con: sqlite3.Connection, batch: list[tuple[store.NewEvent, Settle]]) -> None:
        try:
            with transaction(con):
                results: list[bool | BaseException] = [store.insert_event(con, event) for event, _ in batch]
        except (
            Exception
        ) as exc:  # the whole batch rolled back: every request answers an error, the API retries
            log.exception("could not store %d webhook deliveries", len(batch))
            results = [exc] * len(batch)
        for (_, settle), result in zip(batch, results, strict=True):
            settle(result)


def _resolve(future: asyncio.Future[bool], result: bool | BaseException) -> None:
    if future.done():  # the request went away (client disconnected)
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
