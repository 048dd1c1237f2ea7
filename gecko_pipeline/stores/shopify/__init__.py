"""The Shopify store adapter: orders in (webhooks and backfill) as canonical channel orders.

| module | job |
|---|---|
| `client.py` | `ShopifyClient`: Admin GraphQL over httpx, cost-bucket pacing, retries, typed errors, pagination, bulk operations |
| `errors.py` | the typed errors |
| `queries.py` | the GraphQL documents (costs kept under the 1,000-point cap) |
| `normalise.py` | a REST webhook body or a GraphQL node -> one `ShopifyOrder` dataclass |
| `mapping.py` | `ShopifyOrder` -> the canonical order (pure) |
| `inbox.py` | storing deliveries and backfilled orders in `order_inbox`; `to_canonical`, the push's translation |
| `webhooks.py` | the gateway route `POST /shopify/{channel}/webhooks` |
| `subscriptions.py` | `subscribe_shopify`: ensure the webhook subscriptions |
| `backfill.py` | `backfill_orders`: read orders by `updated_at` into the inbox, with a watermark |
| `shops.py` | `ShopifyShops`: a client per `kind: shopify` channel, its token read by name |
| `fulfilments.py` | shipped inventory fulfillments sent to the store once; voids flagged, `cancel_store_order` |
| `fulfilment_ledger.py` | the fulfilment ledger and void flags in ops.sqlite, with their state machine |

See docs/shopify.md.
"""

from gecko_pipeline.stores.shopify.backfill import BackfillResult, Watermark, backfill_orders, fetch_orders
from gecko_pipeline.stores.shopify.client import ShopifyClient, ShopifyStats
from gecko_pipeline.stores.shopify.subscriptions import SubscriptionResult, subscribe_shopify
from gecko_pipeline.stores.shopify.webhooks import shopify_webhook_routes, webhook_path

__all__ = [
    "BackfillResult",
    "ShopifyClient",
    "ShopifyStats",
    "SubscriptionResult",
    "Watermark",
    "backfill_orders",
    "fetch_orders",
    "shopify_webhook_routes",
    "subscribe_shopify",
    "webhook_path",
]
