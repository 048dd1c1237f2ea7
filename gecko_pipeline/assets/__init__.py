"""Dagster assets and asset checks: extract (extract.py), channels, orders, and the published copy."""
