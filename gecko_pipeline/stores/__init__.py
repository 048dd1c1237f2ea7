"""Adapters between real stores and the pipeline: each translates the store's orders into the canonical
channel order (gecko_pipeline/orders, the one internal contract) and, later, pushes stock, prices and
fulfilments back. `shopify/` is the first."""
