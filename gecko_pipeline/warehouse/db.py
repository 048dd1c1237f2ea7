"""Connections to the warehouse file: short-lived, one writing process at a time (design.md section 3)."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Files written by DuckDB 2.x cannot be opened by DuckDB 1.x unless they are written in an older storage
# format. The warehouse is created in the v1.1.0 format so that the published copy (a byte copy of it)
# opens in DuckDB >= 1.1 as well as in 2.x. It is only given when the file is created: ATTACH refuses a
# storage version below the one an existing file uses (a warehouse made by another tool or release).
STORAGE_COMPATIBILITY_VERSION = "v1.1.0"
# Rows per row group (DuckDB's default is 122,880). A checkpoint rewrites a table's last, partly filled
# row group whole, and compresses each of its columns in one piece: with `_raw` JSON of 1-4 KB a record,
# a default row group is up to ~500 MB of text to hold at once, so a sync's memory (and the time spent
# rewriting) grew with the account until the row group was full, and a checkpoint that cannot allocate
# it invalidates the database. 8,192 rows bound that to ~30 MB whatever the account's size. Measured,
# 150k rows of 1.4 KB committed in batches of 2,500: 13.3 s and 618 MB peak with the default, 6.2 s and
# 324 MB with 8,192. Not stored in the file: every connection that writes the warehouse must set it, or
# its checkpoints merge the row groups again.
ROW_GROUP_SIZE = 8_192
# What a sync needs of DuckDB's memory (memory_limit): a batch of pages staged (DuckDB's JSON reader
# takes 30-40x a page's JSON: a 2.5 MB products page with its variants stages in 64-96 MB), the rows not
# committed yet (8 MB of pages), a row group being checkpointed, and the primary-key indexes of the rows
# the sync wrote (~20 bytes a row, kept in memory while the connection is open: ~40 MB at 100k variants
# with 10 locations). Measured: a full sync of 100k variants runs at 128 MB and fails at 96 MB. An account
# whose pages are much bigger (many variants a product) or of several hundred thousand variants needs more.
SYNC_MEMORY_LIMIT = "128MB"
_RESERVED_ALIASES = frozenset({"memory", "temp", "system"})


def _quoted(text: str, quote: str) -> str:
    return quote + text.replace(quote, quote * 2) + quote


def connect(
    path: str | Path, read_only: bool = False, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file at `path` (creating its folder); close it soon: the file allows one writer.

    `memory_limit` (e.g. "256MB") caps DuckDB's buffer pool; beyond it DuckDB evicts cached blocks and
    spills, so a sync's memory stays bounded however large the account grows. None: DuckDB's default
    (80% of RAM).

    The file is attached (under its stem, the name DuckDB itself would give it) to an in-memory
    connection and made the default database, because the row group size is an ATTACH option only."""
    path = Path(path)
    config: dict[str, str | bool | int | float | list[str]] = (
        {"memory_limit": memory_limit} if memory_limit else {}
    )
    options = ["READ_ONLY"]
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        options = [f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"]
        if not path.exists() or path.stat().st_size == 0:
            options.append(f"STORAGE_VERSION '{STORAGE_COMPATIBILITY_VERSION}'")
    alias = path.stem if path.stem not in _RESERVED_ALIASES else f"{path.stem}_db"
    con = duckdb.connect(":memory:", config=config)
    try:
        name = _quoted(alias, '"')
        con.execute(f"ATTACH {_quoted(str(path), chr(39))} AS {name} ({', '.join(options)})")
        con.execute(f"USE {name}")
    except BaseException:
        con.close()
        raise
    return con
