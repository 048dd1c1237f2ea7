"""Extract benchmark: a full sync of a large sandbox account into a fresh DuckDB file.

Prints, per scale: records/s per table and overall (rate limit off), requests per resource against the
minimum ceil(records / 250), peak RSS of the syncing process (it must stay flat as the account grows:
pages are streamed), and the physical bound at the real limit (300 requests per 300 s).

Each sync runs in its own process so that its peak RSS is its own; the sandbox runs in another (on one
core when taskset exists). Run: `python -m bench` or
`.venv/bin/python -c "from bench.bench_extract import main; main()"`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._sandbox import TOKEN, sandbox_process

LOCATIONS = 5
# (variants, orders): the small scale shows the memory baseline, the large one the target account.
SCALES = [(20_000, 40_000), (100_000, 200_000)]
PAGE = 250
REAL_QUOTA, REAL_WINDOW = 300, 300.0
MEMORY_LIMIT = "512MB"  # DuckDB's buffer pool cap (WarehouseResource.memory_limit): RSS stays bounded


def child(url: str, path: str) -> None:
    """Run in a fresh process: one full sync; print its figures as JSON on the last line."""
    import resource

    from gecko_pipeline.api import GeckoClient
    from gecko_pipeline.warehouse.db import connect
    from gecko_pipeline.warehouse.sync import sync_all

    started = time.perf_counter()
    with (
        GeckoClient(url, token=TOKEN, max_concurrency=4) as client,
        connect(path, memory_limit=MEMORY_LIMIT) as con,
    ):
        results = sync_all(client, con, full=True)
        rows = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - our table names
            for r in results.values()
            for t in r.tables
        }
    seconds = time.perf_counter() - started
    per_stream = {
        name: {
            "records": {t: stats.records for t, stats in result.tables.items()},
            "seconds": result.duration_s,
            "load_seconds": result.load_s,
        }
        for name, result in results.items()
    }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "per_stream": per_stream,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "requests": {name: r.requests for name, r in results.items()},
            }
        )
    )


def _run_child(url: str, path: Path) -> dict:
    code = f"from bench.bench_extract import child; child({url!r}, {str(path)!r})"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode:
        raise RuntimeError(f"the sync failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(variants: int, orders: int, figures: dict, routes: dict[str, int]) -> None:
    rows, seconds = figures["rows"], figures["seconds"]
    total = sum(rows.values())
    print(
        f"\n== {variants:,} variants x {LOCATIONS} locations, {orders:,} orders: "
        f"{total:,} rows in {seconds:.1f} s = {total / seconds:,.0f} rows/s overall, "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB (DuckDB memory_limit {MEMORY_LIMIT})"
    )
    # A stream (one API list, feeding its table and the tables of its sideloads) spends its time loading
    # into DuckDB or waiting for the API's pages (the sandbox has one core).
    print(f"{'stream: tables':58} {'rows':>9} {'s':>6} {'load s':>7} {'rows/s':>8}")
    for name, info in figures["per_stream"].items():
        count = sum(info["records"].values())
        rate = count / info["seconds"] if info["seconds"] else 0
        label = f"{name}: {', '.join(info['records'])}"
        print(
            f"{label[:58]:58} {count:>9,} {info['seconds']:>6.1f} {info['load_seconds']:>7.1f} {rate:>8,.0f}"
        )
    # Requests against the minimum: every API list costs at least ceil(records / 250).
    print(f"{'resource':32} {'requests':>9} {'minimum':>9} {'ratio':>6}")
    spent = minimum = 0
    for table in (
        "locations",
        "currencies",
        "price_lists",
        "tax_types",
        "products",
        "variants",
        "companies",
        "addresses",
        "orders",
        "order_line_items",
        "fulfillments",
        "fulfillment_returns",
    ):
        need = max(math.ceil(rows.get(table, 0) / PAGE), 1)
        got = routes.get(f"GET /{table}", 0)
        spent, minimum = spent + got, minimum + need
        note = " (side-loaded with products)" if table == "variants" else ""
        print(f"{table:32} {got:>9} {need:>9} {got / need:>6.2f}{note}")
    print(f"{'all lists':32} {spent:>9} {minimum:>9} {spent / minimum:>6.2f}")
    requests = sum(routes.values())
    windows = math.ceil(requests / REAL_QUOTA)
    print(
        f"at the real limit ({REAL_QUOTA} per {REAL_WINDOW:.0f} s): {requests} requests need {windows} windows: "
        f"a full sync takes at least {(windows - 1) * REAL_WINDOW / 60:.0f} min of waiting for resets"
    )


def main() -> None:
    for variants, orders in SCALES:
        # The sandbox (rate limit off) in its own process, on one core when taskset exists.
        with (
            sandbox_process(
                "--scale",
                str(variants),
                "--orders",
                str(orders),
                "--locations",
                str(LOCATIONS),
                "--rate-limit-quota",
                "1000000000",
            ) as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            figures = _run_child(url, Path(tmp) / "warehouse.duckdb")
            routes = httpx.get(f"{url}/_sandbox/stats").json()["by_route"]
            _report(variants, orders, figures, routes)


if __name__ == "__main__":
    main()
