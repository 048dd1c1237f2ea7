"""Typed, bulk loading of API pages into the warehouse, in SQL.

The raw bodies go to DuckDB as they came off the wire: DuckDB parses them once (`json_transform` to a
struct of strings), casts each field from its string (decimals never pass through a float), dedupes by
key and upserts with `INSERT ... ON CONFLICT DO UPDATE`. No record is looked at in Python.

Bad input never stops a load and is never dropped silently. Each record's current problems are written
to `load_issues` (a field missing, null where a value was expected, a value that does not cast, an
unknown new field, a decimal rounded to the column's scale); the record itself is stored with its
`_raw` JSON. A record without a usable key cannot be stored in its table: it goes whole to
`rejected_records`, with an issue that points at it.
"""

# The SQL here is generated from the fixed table definitions in schema.py (identifiers and literals we
# wrote), never from API data: every value the API sends reaches DuckDB as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from gecko_pipeline.warehouse.catalog import TABLES, child_tables
from gecko_pipeline.warehouse.schema import DATE, DECIMAL_TYPES, JSON, STR, TableSpec

# Wider than any column: a value that differs after the cast to the column's scale was rounded.
_EXACT = "DECIMAL(38,12)"


@dataclass
class LoadStats:
    """What one load did to one table."""

    records: int = 0
    inserted: int = 0
    updated: int = 0
    removed: int = 0  # child rows no longer in their parent's list
    issues: int = 0
    rejected: int = 0

    def add(self, other: LoadStats) -> None:
        for name in ("records", "inserted", "updated", "removed", "issues", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class BatchResult:
    tables: dict[str, LoadStats] = field(default_factory=dict)
    max_updated_at: dict[str, datetime] = field(default_factory=dict)  # per table, of the records loaded

    def stats(self, table: str) -> LoadStats:
        return self.tables.setdefault(table, LoadStats())


def _q(name: str) -> str:
    return f'"{name}"'


def _record_type(spec: TableSpec) -> dict[str, str]:
    # Scalars as strings: casting is done per column afterwards, so a bad value never fails a batch.
    # Arrays and hashes (and the nested lists of child tables) as JSON text, so nothing parses twice.
    fields = {
        c.name: "JSON" if c.type == JSON else "VARCHAR" for c in spec.columns if c.name != spec.parent_column
    }
    fields.update({child.parent_key: "JSON" for child in child_tables(spec.name) if child.parent_key})
    return fields


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _typed_expr(spec: TableSpec, name: str, ctype: str) -> str:
    """The column's value from the staged record `r` (strings) or, for a child, its parent's id."""
    if name == spec.parent_column:
        return "parent_id"
    src = f"r.{_q(name)}"
    if ctype in (STR, JSON):
        return src
    if ctype == DATE:
        # Date-only fields sometimes arrive as full timestamps.
        return f"COALESCE(TRY_CAST({src} AS DATE), CAST(TRY_CAST({src} AS TIMESTAMP) AS DATE))"
    return f"TRY_CAST({src} AS {ctype})"


def _record_id_expr(spec: TableSpec) -> str:
    """The key as text (`"12"`, or `"12/3"` for a child), from the staged record."""
    parts = [f"CAST({_typed_expr(spec, k, spec.column(k).type)} AS VARCHAR)" for k in spec.primary_key]
    return " || '/' || ".join(parts)


def _problem_checks(spec: TableSpec) -> list[tuple[str, str]]:
    """Per checked column: a struct {field, value, problem} (problem NULL when all is well) and the
    condition under which there is a problem (to skip the clean rows cheaply)."""
    out = []
    for col in spec.columns:
        if col.name == spec.parent_column:
            continue
        name, src, typed = col.name, f"r.{_q(col.name)}", _typed_expr(spec, col.name, col.type)
        cases: list[tuple[str, str]] = []
        if col.required:
            cases.append((f"NOT list_contains(keys, {_sql_str(name)})", "missing field"))
            cases.append((f"{src} IS NULL", "null where a value was expected"))
        if col.type not in (STR, JSON):
            kind = "decimal" if col.type in DECIMAL_TYPES else col.type.lower()
            cases.append((f"{src} IS NOT NULL AND {typed} IS NULL", f"not a valid {kind}"))
        if col.type in DECIMAL_TYPES:
            cases.append((f"TRY_CAST({src} AS {_EXACT}) <> {typed}", f"rounded to {col.type.lower()}"))
        if name == "status" and spec.statuses:
            known = ", ".join(_sql_str(v) for v in spec.statuses)
            cases.append((f"{src} IS NOT NULL AND {src} NOT IN ({known})", "unknown value"))
        if cases:
            whens = " ".join(f"WHEN {cond} THEN '{problem}'" for cond, problem in cases)
            value = f"CAST({src} AS VARCHAR)"
            struct = f"{{'field': {_sql_str(name)}, 'value': {value}, 'problem': CASE {whens} END}}"
            out.append((struct, " OR ".join(f"({cond})" for cond, _ in cases)))
    for child in child_tables(spec.name):
        # The nested list feeding a child table (a variant's `locations`): without a list there, the
        # children stored before are kept as they were (`remove_children_sql`), and the record says why.
        key = child.parent_key or ""
        src = f"r.{_q(key)}"
        cases = [
            (f"NOT list_contains(keys, {_sql_str(key)})", "missing field"),
            (f"{src} IS NULL OR json_type({src}) = 'NULL'", "null where a list was expected"),
            (f"json_type({src}) <> 'ARRAY'", "not a list"),
        ]
        whens = " ".join(f"WHEN {cond} THEN '{problem}'" for cond, problem in cases)
        struct = f"{{'field': {_sql_str(key)}, 'value': CAST({src} AS VARCHAR), 'problem': CASE {whens} END}}"
        out.append((struct, " OR ".join(f"({cond})" for cond, _ in cases)))
    return out


def same_key(left: str, right: str, spec: TableSpec) -> str:
    return " AND ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in spec.primary_key)


class TableLoader:
    """SQL for one table, built once from its spec; `load` runs it against a staged batch.

    Per batch: `_src_<table>` holds the staged records (struct of strings `r`, `raw`, `keys`);
    `_typed_<table>` the typed rows with a usable key, deduplicated, ready to upsert.
    """

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.children = [TableLoader(child) for child in child_tables(spec.name)]
        cols = spec.column_names
        name, src, typed = spec.name, f"_src_{spec.name}", f"_typed_{spec.name}"
        key_ok = " AND ".join(
            f"{_typed_expr(spec, k, spec.column(k).type)} IS NOT NULL" for k in spec.primary_key
        )
        child_cols = "".join(
            f", r.{_q(c.parent_key or '')} AS {_q('_child_' + (c.parent_key or ''))}"
            for c in child_tables(name)
        )
        typed_cols = ", ".join(f"{_typed_expr(spec, c.name, c.type)} AS {_q(c.name)}" for c in spec.columns)
        self.stage_typed_sql = (
            f"CREATE OR REPLACE TEMP TABLE {typed} AS SELECT {typed_cols}, raw, "
            f"{_record_id_expr(spec)} AS _record_id{child_cols} FROM {src} WHERE {key_ok}"
        )
        self.duplicates_sql = f"SELECT count(*) - count(DISTINCT _record_id) FROM {typed}"
        order = "updated_at DESC NULLS LAST" if "updated_at" in cols else "1"
        self.dedupe_sql = (
            f"CREATE OR REPLACE TEMP TABLE {typed} AS SELECT * FROM {typed} "
            f"QUALIFY row_number() OVER (PARTITION BY _record_id ORDER BY {order}) = 1"
        )
        self.reject_sql = f"SELECT raw, parent_id FROM {src} WHERE NOT ({key_ok}) OR ({key_ok}) IS NULL"
        bookkeeping = {
            "_raw": "raw",
            "_synced_at": "CAST(? AS TIMESTAMP)",
            "_vanished_at": "NULL",
            "_origin": "'api'",
        }
        all_cols = [*cols, *(n for n, _ in spec.bookkeeping_columns)]
        select = [*map(_q, cols), *(bookkeeping[n] for n, _ in spec.bookkeeping_columns)]
        updates = [f"{_q(c)} = EXCLUDED.{_q(c)}" for c in all_cols if c not in spec.primary_key]
        self.insert_sql = (
            f"INSERT INTO {name} ({', '.join(map(_q, all_cols))}) SELECT {', '.join(select)} FROM {typed}"
        )
        # A record read again without a change (the incremental overlap, a full refresh) is left as it
        # is: not rewritten, not counted as updated. A vanished record that is back always changes.
        self.upsert_sql = (
            f"{self.insert_sql} "
            f"ON CONFLICT ({', '.join(map(_q, spec.primary_key))}) DO UPDATE SET {', '.join(updates)} "
            f"WHERE {name}._raw IS DISTINCT FROM EXCLUDED._raw"
            + (f" OR {name}._vanished_at IS NOT NULL" if spec.has_id else "")
            + (f" OR {name}._origin IS DISTINCT FROM 'api'" if spec.has_origin else "")
        )
        # A plain INSERT is about 3x cheaper than ON CONFLICT; it is safe when every key of the batch sorts
        # after the table's largest (lists come in ascending id order, so a first sync's batches all do).
        first = _q(spec.primary_key[0])
        self.all_new_sql = f"SELECT (SELECT max({first}) FROM {name}) < (SELECT min({first}) FROM {typed})"
        checks = _problem_checks(spec)
        known = "[" + ", ".join(_sql_str(k) for k in sorted(spec.known_keys)) + "]"
        # Problems are found on the staged strings, and only in rows where one of the checks fires.
        problem_select = (
            f"SELECT _record_id, p.field, p.value, p.problem FROM ("
            f"SELECT {_record_id_expr(spec)} AS _record_id, unnest([{', '.join(st for st, _ in checks)}]) AS p "
            f"FROM {src} WHERE ({key_ok}) AND ({' OR '.join(cond for _, cond in checks)})) "
            f"WHERE p.problem IS NOT NULL"
        )
        # json_each rather than a JSON path built from the key: any key the API invents is safe.
        unknown_select = (
            f"SELECT t._record_id, e.key, CASE WHEN e.type = 'VARCHAR' THEN e.value->>'$' "
            f"ELSE CAST(e.value AS VARCHAR) END, 'unknown field' "
            f"FROM (SELECT {_record_id_expr(spec)} AS _record_id, raw FROM {src} WHERE ({key_ok}) "
            f"AND len(list_filter(keys, lambda x: NOT list_contains({known}, x))) > 0) t, json_each(t.raw) e "
            f"WHERE NOT list_contains({known}, e.key)"
        )
        selects = [problem_select] if checks else []
        selects.append(unknown_select)
        self.issues_sql = (
            "INSERT INTO load_issues (table_name, record_id, field, value, problem, seen_at) "
            f"SELECT DISTINCT {_sql_str(name)}, *, CAST(? AS TIMESTAMP) FROM ({' UNION ALL '.join(selects)})"
        )
        if spec.parent:
            # A child's issues are keyed "<parent id>/<child key>": reloading the parent replaces them.
            self.clear_issues_sql = (
                "DELETE FROM load_issues WHERE table_name = ? AND split_part(record_id, '/', 1) IN "
                f"(SELECT _record_id FROM _typed_{spec.parent})"
            )
            same = same_key("s", name, spec)
            parent_lists_ok = f"json_type({_q('_child_' + (spec.parent_key or ''))}) = 'ARRAY'"
            self.remove_children_sql = (
                f"DELETE FROM {name} WHERE {_q(spec.parent_column or '')} IN "
                f"(SELECT id FROM _typed_{spec.parent} WHERE {parent_lists_ok}) "
                f"AND NOT EXISTS (SELECT 1 FROM {typed} s WHERE {same})"
            )
        else:
            self.clear_issues_sql = f"DELETE FROM load_issues WHERE table_name = ? AND record_id IN (SELECT _record_id FROM {typed})"
        self.count_sql = f"SELECT count(*) FROM {name}"
        self.adopted_sql = (
            f"SELECT count(*) FROM {name} t JOIN {typed} s ON {same_key('t', 's', spec)} "
            "WHERE t._origin IS DISTINCT FROM 'api'"
        )

    def _stage(self, con: duckdb.DuckDBPyConnection, source: str, key: str | None = None) -> None:
        """Stage the records of the JSON arrays `doc` of `source` (with `parent_id`), or with `key` of the
        arrays under that key of the objects `doc`: each record as a struct of strings, its raw JSON and
        its keys (to tell a missing field from a null one). json_transform reads a whole document in
        one parse and yields NULL (no rows) for anything that is not an array there; extracting the array
        first (`doc->key`) would parse every body two or three times more."""
        records: object = [_record_type(self.spec)]
        raws: object = ["JSON"]
        if key is not None:
            records, raws = {key: records}, {key: raws}

        def read(shape: object) -> str:
            expr = f"json_transform(doc, {_sql_str(json.dumps(shape))})"
            return f"struct_extract({expr}, {_sql_str(key)})" if key is not None else expr

        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _src_{self.spec.name} AS "
            f"SELECT *, CASE WHEN starts_with(raw, '{{') THEN json_keys(raw) ELSE [] END AS keys FROM ("
            f"SELECT parent_id, unnest({read(records)}) AS r, unnest({read(raws)}) AS raw FROM ({source}))"
        )

    def stage_from_bodies(self, con: duckdb.DuckDBPyConnection, key: str, single: bool = False) -> None:
        """Stage the records under `key` of every body in `_bodies`; `single`: `{"account": {...}}`."""
        if single:
            self._stage(
                con, f"SELECT NULL::BIGINT AS parent_id, json_array(b->{_sql_str(key)}) AS doc FROM _bodies"
            )
        else:
            self._stage(con, "SELECT NULL::BIGINT AS parent_id, b AS doc FROM _bodies", key)

    def stage_from_parent(self, con: duckdb.DuckDBPyConnection) -> None:
        column = _q("_child_" + (self.spec.parent_key or ""))
        self._stage(
            con, f"SELECT id AS parent_id, CAST({column} AS VARCHAR) AS doc FROM _typed_{self.spec.parent}"
        )

    def load(self, con: duckdb.DuckDBPyConnection, synced_at: datetime, result: BatchResult) -> int:
        """Type, check and upsert the staged records (then the child tables fed by them); returns how
        many were staged (0: nothing was typed, `_typed_<table>` is not there)."""
        spec, stats = self.spec, result.stats(self.spec.name)
        (staged,) = con.execute(f"SELECT count(*) FROM _src_{spec.name}").fetchone() or (0,)
        if not staged:
            # Nothing to type, check or upsert (an unchanged list in an incremental sync): a dozen
            # statements saved per table; its children have nothing either.
            self._no_rows(result)
            return 0
        con.execute(self.stage_typed_sql)
        (kept,) = con.execute(f"SELECT count(*) FROM _typed_{spec.name}").fetchone() or (0,)
        (duplicates,) = con.execute(self.duplicates_sql).fetchone() or (0,)
        if duplicates:
            con.execute(self.dedupe_sql)
            kept -= duplicates
        # Inserted vs updated from the table's row count (cheap), not from a join with the table.
        (before,) = con.execute(self.count_sql).fetchone() or (0,)
        if spec.parent and before:
            removed = con.execute(self.remove_children_sql).fetchall()
            stats.removed += int(removed[0][0]) if removed else 0
            before -= int(removed[0][0]) if removed else 0
        all_new = not before or bool((con.execute(self.all_new_sql).fetchone() or (False,))[0])
        # A row the pipeline made (e.g. a built-in price list) that the API now sends is new to us.
        (adopted,) = (
            (con.execute(self.adopted_sql).fetchone() or (0,)) if spec.has_origin and before else (0,)
        )
        written = con.execute(self.insert_sql if all_new else self.upsert_sql, [synced_at]).fetchall()
        (after,) = con.execute(self.count_sql).fetchone() or (0,)
        con.execute(self.clear_issues_sql, [spec.name])
        if kept + duplicates < staged:  # after clearing: a child's rejection is keyed under its parent
            stats.rejected += self._reject(con, synced_at)
        issues = con.execute(self.issues_sql, [synced_at]).fetchall()
        stats.records += kept
        stats.inserted += after - before + adopted
        stats.updated += (int(written[0][0]) if written else 0) - (after - before) - adopted
        stats.issues += int(issues[0][0]) if issues else 0
        if "updated_at" in spec.column_names:
            (latest,) = con.execute(f"SELECT max(updated_at) FROM _typed_{spec.name}").fetchone() or (None,)
            previous = result.max_updated_at.get(spec.name)
            if latest is not None and (previous is None or latest > previous):
                result.max_updated_at[spec.name] = latest
        for child in self.children:
            child.stage_from_parent(con)
            child.load(con, synced_at, result)
        return int(staged)

    def _no_rows(self, result: BatchResult) -> None:
        """Each table of this loader still shows in the result (with nothing done)."""
        result.stats(self.spec.name)
        for child in self.children:
            child._no_rows(result)

    def staged_tables(self) -> list[str]:
        """The temp tables a load of this table (and its children) leaves behind."""
        own = [f"_src_{self.spec.name}", f"_typed_{self.spec.name}"]
        return own + [name for child in self.children for name in child.staged_tables()]

    def _reject(self, con: duckdb.DuckDBPyConnection, synced_at: datetime) -> int:
        """Keep records without a usable key whole, and say so in load_issues. A child row's issue is
        keyed under its parent (`<parent id>/rejected:<hash>`), so it names the parent record and goes
        when the parent is loaded again without it; a top-level record's issue is `rejected:<hash>`."""
        spec = self.spec
        key = "/".join(k for k in spec.primary_key if k != spec.parent_column)
        rows = con.execute(
            "INSERT INTO rejected_records (table_name, raw_hash, problem, _raw, seen_at) "
            f"SELECT DISTINCT ?, md5(raw), ?, raw, CAST(? AS TIMESTAMP) FROM ({self.reject_sql}) "
            "ON CONFLICT (table_name, raw_hash) DO UPDATE SET seen_at = EXCLUDED.seen_at",
            [spec.name, f"no usable {key}", synced_at],
        ).fetchall()
        record_id = "'rejected:' || md5(raw)"
        if spec.parent:
            record_id = f"CAST(parent_id AS VARCHAR) || '/' || {record_id}"
        # Delete then insert: the issue's seen_at says when the record was last seen this way.
        con.execute(
            f"DELETE FROM load_issues WHERE table_name = ? AND record_id IN (SELECT {record_id} FROM ({self.reject_sql}))",
            [spec.name],
        )
        con.execute(
            "INSERT INTO load_issues (table_name, record_id, field, value, problem, seen_at) "
            f"SELECT DISTINCT ?, {record_id}, ?, NULL, ?, CAST(? AS TIMESTAMP) FROM ({self.reject_sql})",
            [spec.name, key, "missing or not a valid key: record kept in rejected_records", synced_at],
        )
        return int(rows[0][0]) if rows else 0


_LOADERS: dict[str, TableLoader] = {}


def loader_for(spec: TableSpec) -> TableLoader:
    if spec.name not in _LOADERS:
        _LOADERS[spec.name] = TableLoader(spec)
    return _LOADERS[spec.name]


def drop_staged(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    """Drop a batch's staging tables (the bodies, and each table's staged and typed records)."""
    names = ["_bodies", *(name for table in tables for name in loader_for(TABLES[table]).staged_tables())]
    con.execute("; ".join(f"DROP TABLE IF EXISTS temp.{name}" for name in names))


def stage_bodies(con: duckdb.DuckDBPyConnection, bodies: list[bytes]) -> None:
    """Put a batch of raw page bodies into the temp table `_bodies` (text; parsed where it is read)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _bodies AS SELECT unnest(?::VARCHAR[]) AS b",
        [[body.decode("utf-8") for body in bodies]],
    )
