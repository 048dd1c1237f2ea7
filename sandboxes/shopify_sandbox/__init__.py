"""A faithful local Shopify Admin GraphQL API sandbox (see README.md). It imports nothing from
gecko_pipeline: it is the other side of the wire."""

from shopify_sandbox.config import DEFAULT_API_VERSION, FaultConfig, ShopifySandboxConfig
from shopify_sandbox.server import ShopifySandboxHandle, run_shopify_sandbox, serve_forever
from shopify_sandbox.wire import sign, verify

__all__ = [
    "DEFAULT_API_VERSION",
    "FaultConfig",
    "ShopifySandboxConfig",
    "ShopifySandboxHandle",
    "run_shopify_sandbox",
    "serve_forever",
    "sign",
    "verify",
]
