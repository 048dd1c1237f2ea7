"""How every asset is labelled in the Dagster UI (its group, its `domain` tag, its owners) and the one
pool of the steps that write warehouse.duckdb, from one place.

Each asset passes `**catalog_labels(domain)` to `@dg.asset` or `dg.AssetSpec`, so the Catalog's group,
tag and owner filters agree on every asset and a new asset cannot pick a domain that does not exist.
"""

from __future__ import annotations

from typing import TypedDict

from gecko_pipeline.warehouse.catalog import GROUPS

# The asset groups, which are also the `domain` tag values (docs/architecture.md, "Fixed names"); `stores`
# holds the Shopify channels' assets (defs/stores.py), present when the channel file has such channels.
DOMAINS = (*GROUPS, "channels", "orders", "publish", "stores")
DOMAIN_TAG = "domain"
# Every step that opens warehouse.duckdb: DuckDB takes one writing process per file, and while one holds
# it no other process may open it at all (limit 1 in dagster.yaml).
POOL = "duckdb_writer"
# Owners must be an email or "team:<name>" (Dagster validates them); one team runs the whole pipeline.
OWNERS = ("team:data",)


class CatalogLabels(TypedDict):
    group_name: str
    tags: dict[str, str]
    owners: list[str]


def catalog_labels(domain: str) -> CatalogLabels:
    """Group, tags and owners of an asset of `domain` (one of DOMAINS)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown asset domain {domain!r}: use one of {', '.join(DOMAINS)}")
    return {"group_name": domain, "tags": {DOMAIN_TAG: domain}, "owners": list(OWNERS)}
