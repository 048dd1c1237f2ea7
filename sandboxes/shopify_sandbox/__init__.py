"""A faithful local Shopify Admin GraphQL API sandbox (see README.md). It imports nothing from
gecko_pipeline: it is the other side of the wire."""

from sandbox_kit.signing import sign, verify

from shopify_sandbox.config import DEFAULT_API_VERSION, FaultConfig, ShopifySandboxConfig
from shopify_sandbox.server import ShopifySandboxHandle, run_shopify_sandbox, serve_forever

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
