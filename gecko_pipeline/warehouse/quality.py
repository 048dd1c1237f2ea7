"""Data-quality rules of the warehouse, evaluated in bulk.

Each rule is a query returning the keys of the rows that break it. The rules come from the catalogue
(a unique key per table, a check per foreign key, no load issues) plus the stock arithmetic the API
promises. `evaluate` answers every rule of the given tables in one statement per table (each rule a
subquery of one SELECT) plus one read of `load_issues` for all of them, so checking a whole sync costs
a few statements, not one per rule.
"""

# The SQL is built from the catalogue's identifiers (never from data), so formatting it is safe.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from gecko_pipeline.warehouse.catalog import TABLE_LIST, TABLES

SAMPLE = 5
LOAD_ISSUES = "no_load_issues"


@dataclass(frozen=True)
class Rule:
    table: str
    name: str
    description: str
    failing_sql: str = ""  # keys of the failing rows; empty for the load-issues rule


@dataclass
class Outcome:
    rule: Rule
    failing: int
    sample: list[str]
    warn_only: bool = False  # e.g. load issues that are only unknown fields (schema drift)
    by_problem: dict[str, int] = field(default_factory=dict)  # load issues: "problem (field)" -> count

    @property
    def passed(self) -> bool:
        return self.failing == 0


def _key_text(table: str, alias: str = "") -> str:
    return " || '/' || ".join(f"CAST({alias}{k} AS VARCHAR)" for k in TABLES[table].primary_key)


def _rules() -> list[Rule]:
    rules: list[Rule] = []
    for spec in TABLE_LIST:
        keys = ", ".join(spec.primary_key)
        rules.append(
            Rule(
                spec.name,
                "unique_keys",
                f"Every row of {spec.name} has a distinct key ({keys}).",
                f"SELECT {_key_text(spec.name)} FROM {spec.name} GROUP BY {keys} HAVING count(*) > 1",
            )
        )
        rules.append(
            Rule(
                spec.name,
                LOAD_ISSUES,
                f"No stored {spec.name} record has a load issue (missing field, null where a value was "
                "expected, a value that does not cast, an unknown status, a nested list that is not a list, "
                "an unknown field, a rejected record). Details and raw JSON: tables load_issues and "
                "rejected_records.",
            )
        )
        for column, parent in spec.references:
            rules.append(
                Rule(
                    spec.name,
                    f"{column}_resolves",
                    f"Every {spec.name}.{column} is a {parent}.id in the warehouse.",
                    f"SELECT {_key_text(spec.name, 't.')} FROM {spec.name} t WHERE t.{column} IS NOT NULL "
                    f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = t.{column})",
                )
            )
    rules += [
        Rule(
            "variants",
            "stock_on_hand_is_sum_of_locations",
            "A variant's stock_on_hand equals the sum of stock_on_hand over its locations (0 with none).",
            "SELECT v.id FROM variants v LEFT JOIN (SELECT variant_id, sum(stock_on_hand) AS s "
            "FROM variant_locations GROUP BY variant_id) l ON l.variant_id = v.id "
            "WHERE v.stock_on_hand IS DISTINCT FROM COALESCE(l.s, 0)",
        ),
        Rule(
            "variants",
            "available_is_on_hand_minus_committed",
            "Where the API sends available_stock, it equals stock_on_hand - committed_stock (null counts 0).",
            "SELECT id FROM variants WHERE available_stock IS NOT NULL "
            "AND available_stock <> stock_on_hand - COALESCE(committed_stock, 0)",
        ),
        Rule(
            "variant_locations",
            "available_is_on_hand_minus_committed",
            "Where the API sends a location's available, it equals stock_on_hand - committed (null counts 0).",
            "SELECT variant_id || '/' || location_id FROM variant_locations WHERE available IS NOT NULL "
            "AND available <> stock_on_hand - COALESCE(committed, 0)",
        ),
    ]
    return rules


RULES: list[Rule] = _rules()


def rules_for(tables: Iterable[str]) -> list[Rule]:
    wanted = set(tables)
    return [rule for rule in RULES if rule.table in wanted]


def evaluate(con: duckdb.DuckDBPyConnection, rules: Iterable[Rule]) -> list[Outcome]:
    """Every rule's outcome: one SELECT per table (its rules as subqueries) and one read of load_issues."""
    rules = list(rules)
    outcomes: list[Outcome] = []
    by_table: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.failing_sql:
            by_table.setdefault(rule.table, []).append(rule)
    for table_rules in by_table.values():
        parts = [
            f"(SELECT {{'n': count(*), 'sample': list(CAST(k AS VARCHAR) ORDER BY k)[1:{SAMPLE}]}} "
            f"FROM ({rule.failing_sql}) AS f(k))"
            for rule in table_rules
        ]
        row = con.execute("SELECT " + ", ".join(parts)).fetchone() or ()
        for rule, result in zip(table_rules, row, strict=True):
            outcomes.append(Outcome(rule, int(result["n"]), list(result["sample"] or [])))
    issue_rules = [rule for rule in rules if not rule.failing_sql]
    if issue_rules:
        outcomes += _load_issue_outcomes(con, issue_rules)
    return outcomes


def _load_issue_outcomes(con: duckdb.DuckDBPyConnection, rules: list[Rule]) -> list[Outcome]:
    rows = con.execute(
        "SELECT table_name, problem, field, count(*), min(record_id) FROM load_issues "
        "WHERE table_name IN (SELECT unnest(?)) GROUP BY ALL ORDER BY 4 DESC",
        [[rule.table for rule in rules]],
    ).fetchall()
    outcomes = []
    for rule in rules:
        mine = [r for r in rows if r[0] == rule.table]
        outcomes.append(
            Outcome(
                rule,
                sum(int(r[3]) for r in mine),
                [str(r[4]) for r in mine[:SAMPLE]],
                # Unknown fields are schema drift: the data is kept in _raw, so they only warn.
                warn_only=all(r[1] == "unknown field" for r in mine),
                by_problem={f"{r[1]} ({r[2]})": int(r[3]) for r in mine[:20]},
            )
        )
    return outcomes
