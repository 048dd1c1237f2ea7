"""The Dagster resource for the channel file: where it is, and where the feeds go."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from gecko_pipeline.channels.config import ChannelConfig, channels_file_path, load_channels
from gecko_pipeline.settings import load_settings


class ChannelConfigResource(dg.ConfigurableResource):
    """Channels a merchant sells on: the YAML channel file (docs/channels.md).

    `channels_file` None: GECKO_CHANNELS_FILE, else the packaged demo file with two channels.
    `feeds_dir` None: `feeds/` beside the warehouse file (under GECKO_DATA_DIR).
    """

    channels_file: str | None = None
    feeds_dir: str | None = None

    @property
    def path(self) -> Path:
        return channels_file_path(Path(self.channels_file) if self.channels_file else None)

    def load(self) -> list[ChannelConfig]:
        return load_channels(self.path)

    def feeds_path(self, warehouse_path: Path | None = None) -> Path:
        if self.feeds_dir:
            return Path(self.feeds_dir)
        if warehouse_path is not None:
            return Path(warehouse_path).parent / "feeds"
        return load_settings().feeds_dir
