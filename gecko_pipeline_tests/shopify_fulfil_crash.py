"""Run by test_shopify_fulfilments in a real subprocess: one fulfilment pass whose process dies abruptly
right after fulfillmentCreate answered for one inventory fulfillment and before the ledger recorded it
(the "killed between the Shopify write and the ledger write" case). The test suite owns this seam
(`FulfilmentHooks`); production code reads no switch for it.

    python shopify_fulfil_crash.py SHOP_URL TOKEN OPS_SQLITE WAREHOUSE_DUCKDB CHANNELS_YAML CHANNEL FULFILLMENT_ID
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gecko_pipeline import ops_db
from gecko_pipeline.channels.config import load_channels
from gecko_pipeline.stores.shopify.fulfilment_ledger import FulfilmentRow
from gecko_pipeline.stores.shopify.fulfilments import FulfilmentHooks, push_fulfilments
from gecko_pipeline.stores.shopify.shops import ShopifyShops
from gecko_pipeline.warehouse.db import connect

EXIT_CODE = 86  # what the test expects from a process killed at the seam


def main(argv: list[str]) -> None:
    shop_url, token, ops, warehouse, channels, channel, fulfillment_id = argv

    def die_after_create(row: FulfilmentRow) -> None:
        if row.fulfillment_id == int(fulfillment_id):
            os._exit(EXIT_CODE)  # no cleanup, no ledger write: as if the machine lost power

    shops = ShopifyShops(lambda _name: token, base_urls={channel: shop_url})
    con = connect(Path(warehouse), read_only=True)
    push_fulfilments(
        shops,
        ops_db.connect(ops),
        con,
        load_channels(Path(channels)),
        hooks=FulfilmentHooks(after_create=die_after_create),
        stale_after_seconds=0,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
