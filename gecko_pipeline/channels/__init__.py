"""Sales channels: the channel file, the channel stock rule in SQL, and the feeds a store imports."""

from gecko_pipeline.channels.config import (
    ChannelConfig,
    ChannelConfigError,
    ResolvedChannel,
    load_channels,
    resolve_channels,
)

__all__ = ["ChannelConfig", "ChannelConfigError", "ResolvedChannel", "load_channels", "resolve_channels"]
