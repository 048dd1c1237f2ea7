"""The DuckDB warehouse: schema, typed bulk loading, sync cursors, publishing (docs/data-model.md)."""
