"""gecko_pipeline: a sales-channel integration for the TradeGecko / QuickBooks Commerce inventory API."""

__version__ = "0.1.0"
