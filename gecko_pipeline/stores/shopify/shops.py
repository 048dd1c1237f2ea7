"""Clients of the shops behind the `kind: shopify` channels, with their tokens read by name.

The channel file names the variable holding each shop's Admin API token (`access_token_env`); the value
comes from the settings (`Settings.secret(name)`), never from the file. A channel's `admin_url` (or
`base_urls` here) points it at another address than `https://<shop>` (the Shopify sandbox in tests, the
demo and the dev stack).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.config import Settings
from gecko_pipeline.stores.shopify.client import ShopifyClient
from gecko_pipeline.stores.shopify.errors import ShopifyError


class ShopifyNotConfigured(ShopifyError):
    """A Shopify channel whose token variable is not set."""


def shopify_channels(channels: list[ChannelConfig]) -> list[ChannelConfig]:
    return [channel for channel in channels if channel.kind == "shopify"]


def shopify_client(channel: ChannelConfig, settings: Settings, **options: Any) -> ShopifyClient:
    """A client for one channel's shop, its token read through the settings."""
    return ShopifyShops.from_settings(settings, **options).client(channel)


class ShopifyShops:
    """Opens a `ShopifyClient` for a `kind: shopify` channel (the caller closes it)."""

    def __init__(
        self,
        secret: Callable[[str | None], str | None],
        *,
        base_urls: Mapping[str, str] | None = None,
        **client_options: Any,
    ) -> None:
        self._secret = secret
        self.base_urls = dict(base_urls or {})
        self.client_options = client_options

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> ShopifyShops:
        return cls(settings.secret, **options)

    def client(self, channel: ChannelConfig) -> ShopifyClient:
        """A client for the channel's shop; ShopifyAuthError naming the variable when it is not set."""
        if channel.shopify is None:
            raise ValueError(f"channel {channel.name!r} is not a kind: shopify channel")
        variable = channel.shopify.access_token_env
        token = self._secret(variable)
        if not token:
            # Before any request: a store asked without a token only answers 401.
            raise ShopifyNotConfigured(
                f"channel {channel.name!r}: set {variable} to the store's Admin API access token (the channel "
                "file names the variable; the token never goes in the file)"
            )
        options = dict(self.client_options)
        if channel.name in self.base_urls:
            options["base_url"] = self.base_urls[channel.name]
        return ShopifyClient.for_channel(channel.shopify, token, **options)

    def __repr__(self) -> str:  # never a token
        return f"ShopifyShops(base_urls={self.base_urls!r})"
