"""Run by test_orders_push in a real subprocess: one push pass whose process dies abruptly right after
POST /orders answered for one order and before the ledger recorded it (the "killed between the POST
and the ledger write" case). The test suite owns this seam: it installs a hook object on the push;
production code reads no switch for it.

    python crash_after_post.py URL TOKEN OPS_SQLITE PUBLISHED_DUCKDB CHANNELS_YAML INBOX_ID REFERENCE
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gecko_pipeline import ops_db
from gecko_pipeline.api import GeckoClient
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.orders.context import PushHooks
from gecko_pipeline.orders.ledger import LedgerRow
from gecko_pipeline.orders.policy import RetryPolicy
from gecko_pipeline.orders.runner import run_push

EXIT_CODE = 86  # what the test expects from a process killed at the seam


def main(argv: list[str]) -> None:
    url, token, ops, published, channels, inbox_id, reference = argv

    def die_after_post(row: LedgerRow) -> None:
        if row.reference == reference:
            os._exit(EXIT_CODE)  # no cleanup, no ledger write: as if the machine lost power

    run_push(
        GeckoClient(url, token=token),
        ops_db.connect(ops),
        Path(published),
        load_channels(Path(channels)),
        first_inbox_id=int(inbox_id),
        last_inbox_id=int(inbox_id),
        policy=RetryPolicy(3600, 0, 3600),
        hooks=PushHooks(after_create_post=die_after_post),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
