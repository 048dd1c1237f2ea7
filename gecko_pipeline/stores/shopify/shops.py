"""Clients of the shops behind the `kind: shopify` channels, with their tokens read by name.

The channel file names the variable holding each shop's Admin API token (`access_token_env`); the value
comes from the settings (`Settings.secret(name)`), never from the file. `base_urls` points a channel at
another address than `https://<shop>` (the Shopify sandbox in tests and the dev stack).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.config import Settings
from gecko_pipeline.stores.shopify.client import ShopifyClient


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
        token = self._secret(channel.shopify.access_token_env) or ""
        options = dict(self.client_options)
        if channel.name in self.base_urls:
            options["base_url"] = self.base_urls[channel.name]
        return ShopifyClient.for_channel(channel.shopify, token, **options)

    def __repr__(self) -> str:  # never a token
        return f"ShopifyShops(base_urls={self.base_urls!r})"
