"""Every Dagster definition of gecko_pipeline, one module per domain, loaded by
`dagster.load_from_defs_folder` (see gecko_pipeline/definitions.py):

- `resources`: the resources (from gecko_pipeline.config) and the in-process executor;
- `extract`: the account into warehouse.duckdb, one subsettable multi-asset with its checks;
- `channels`: channel listings, per-location stock and feeds, with their checks;
- `orders`: channel orders pushed as sales orders, the ledger mirror, the push job and inbox sensor;
- `webhooks`: the targeted refresh job and the webhook event sensor;
- `publish`: the analysts' copy, its check, the coalescing publish sensor;
- `schedules`: the sync jobs and their schedules.

`labels` (group, tags, owners, the writer pool) is shared by all of them.
"""
