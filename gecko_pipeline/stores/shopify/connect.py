"""A Shopify channel's client, from the channel file and the settings: its access token is read from the
variable the channel names (never from the file), and a missing one is an error that names it."""

from __future__ import annotations

from typing import Any

from gecko_pipeline.channels.config import ChannelConfig
from gecko_pipeline.config import Settings
from gecko_pipeline.stores.shopify.client import ShopifyClient


class ShopifyNotConfigured(RuntimeError):
    """A Shopify channel whose secret variable is not set."""


def shopify_client(channel: ChannelConfig, settings: Settings, **kwargs: Any) -> ShopifyClient:
    if channel.shopify is None:
        raise ValueError(f"channel {channel.name!r} is not kind: shopify")
    variable = channel.shopify.access_token_env
    token = settings.secret(variable)
    if not token:
        raise ShopifyNotConfigured(
            f"channel {channel.name!r}: set {variable} to the store's Admin API access token "
            "(the channel file names the variable; the token never goes in the file)"
        )
    return ShopifyClient.for_channel(channel.shopify, token, **kwargs)


def shopify_channels(channels: list[ChannelConfig]) -> list[ChannelConfig]:
    return [channel for channel in channels if channel.kind == "shopify"]
