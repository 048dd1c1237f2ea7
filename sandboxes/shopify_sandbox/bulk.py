"""Bulk query operations: `bulkOperationRunQuery` checks the query (1-5 connections, at most two levels of
nesting), then a background task runs it over every page, writes JSONL (nested connection nodes on lines
of their own with `__parentId`), serves it at `/_sandbox/bulk/{id}.jsonl` and fires
`bulk_operations/finish`. Bulk queries are not charged against the cost bucket (only the mutation is)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    execute_sync,
    get_named_type,
    parse,
    validate,
)

from shopify_sandbox import rest
from shopify_sandbox.cost import CostCalculator
from shopify_sandbox.records import BulkOperation
from shopify_sandbox.schema import schema_for
from shopify_sandbox.wire import gid

if TYPE_CHECKING:
    from shopify_sandbox.resolvers import Context
    from shopify_sandbox.store import Store

MAX_CONNECTIONS = 5
MAX_DEPTH = 2


def _error(message: str, code: str = "INVALID") -> dict[str, Any]:
    return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": message, "code": code}]}


def _check(store: Store, document: DocumentNode) -> str | None:
    """Why the query cannot run in bulk, or None."""
    schema = schema_for(store.config.api_version)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation.value != "query":
        return "Bulk queries must contain exactly one query operation."
    calc = CostCalculator(schema, {}, {})
    query_type = schema.query_type
    assert query_type is not None
    roots = calc.collect(query_type, operations[0].selection_set)
    if len(roots) != 1:
        return "Bulk queries must have exactly one top-level field."
    counts = {"connections": 0, "depth": 0, "missing_id": 0}

    def visit(parent: GraphQLObjectType, fnodes: list[Any], depth: int, parent_has_id: bool) -> None:
        child = get_named_type(parent.fields[fnodes[0].name.value].type)
        if child.name.endswith("Connection") and isinstance(child, GraphQLObjectType):
            counts["connections"] += 1
            counts["depth"] = max(counts["depth"], depth + 1)
            if depth >= 1 and not parent_has_id:
                counts["missing_id"] = 1
            node_type, inner = calc._node_selections(child, fnodes)
            walk(node_type, inner, depth + 1)
        else:
            walk(child, fnodes, depth)

    def walk(named: Any, nodes: list[Any], depth: int) -> None:
        if not isinstance(named, GraphQLObjectType):
            return
        fields = calc.collect(named, calc._merged(nodes))
        has_id = any(f[0].name.value == "id" for f in fields.values())
        for fnodes in fields.values():
            if not fnodes[0].name.value.startswith("__"):
                visit(named, fnodes, depth, has_id)

    (root_nodes,) = roots.values()
    root_field = query_type.fields[root_nodes[0].name.value]
    if not get_named_type(root_field.type).name.endswith("Connection"):
        return "Bulk queries must contain at least one connection."
    visit(query_type, root_nodes, 0, False)
    if counts["connections"] > MAX_CONNECTIONS:
        return f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
    if counts["depth"] > MAX_DEPTH:
        return f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
    if counts["missing_id"]:
        return "The parent 'node' field for a nested connection must select the 'id' field."
    return None


def start(context: Context, query: str, group_objects: bool) -> dict[str, Any]:
    store = context.store
    config = store.config
    try:
        document = parse(query)
    except GraphQLError as error:
        return _error(f"Invalid bulk query: {error.message}")
    problems = validate(schema_for(config.api_version), document)
    if problems:
        return _error(f"Invalid bulk query: {problems[0].message}")
    reason = _check(store, document)
    if reason:
        return _error(reason)
    running = [
        op
        for op in store.bulk_operations.values()
        if op.type == "QUERY" and op.status in ("CREATED", "RUNNING")
    ]
    limit = 5 if config.at_least("2026-01") else 1
    if len(running) >= limit:
        if limit == 1:
            return _error(
                f"A bulk query operation for this app and shop is already in progress: {gid('BulkOperation', running[0].id)}.",
                "OPERATION_IN_PROGRESS",
            )
        return _error("Bulk operations limit reached. Please try again later.", "LIMIT_REACHED")
    op = BulkOperation(
        id=store.next_id("BulkOperation"),
        query=query,
        status="CREATED",
        created_at=store.now(),
        group_objects=group_objects,
    )
    store.bulk_operations[op.id] = op
    task = asyncio.get_running_loop().create_task(run(store, op, document))
    store.tasks.add(task)
    task.add_done_callback(store.tasks.discard)
    return {"bulkOperation": op, "userErrors": []}


def _connection_items(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("nodes"), list):
        return [v for v in value["nodes"] if isinstance(v, dict)]
    if isinstance(value.get("edges"), list):
        return [e["node"] for e in value["edges"] if isinstance(e, dict) and isinstance(e.get("node"), dict)]
    return None


def flatten(
    node: dict[str, Any],
    parent: str | None,
    out: list[bytes],
    grouped: bool,
    later: list[tuple[dict[str, Any], str]],
) -> None:
    """One JSONL line for `node` (without its connections), then its connection children, each with
    `__parentId`: right after it when grouped, after the whole chunk otherwise."""
    line: dict[str, Any] = {}
    children: list[dict[str, Any]] = []
    for key, value in node.items():
        items = _connection_items(value)
        if items is None:
            line[key] = value
        else:
            children.extend(items)
    if parent is not None:
        line["__parentId"] = parent
    out.append(json.dumps(line, separators=(",", ":")).encode() + b"\n")
    for child in children:
        if grouped:
            flatten(child, node.get("id"), out, grouped, later)
        else:
            later.append((child, node.get("id")))  # type: ignore[arg-type]


async def run(store: Store, op: BulkOperation, document: DocumentNode) -> None:
    from shopify_sandbox.resolvers import Context, default_resolver, resolve_type

    schema = schema_for(store.config.api_version)
    op.status = "RUNNING"
    out: list[bytes] = []
    after: str | None = None
    try:
        while True:
            await asyncio.sleep(0)  # let API requests in between chunks
            context = Context(store, bulk=True, bulk_after=after, bulk_first=store.config.bulk_poll_chunk)
            result = execute_sync(
                schema,
                document,
                context_value=context,
                field_resolver=default_resolver,
                type_resolver=resolve_type,
            )
            if result.errors:
                raise RuntimeError(result.errors[0].message)
            data = result.data or {}
            (root,) = data.values()
            later: list[tuple[dict[str, Any], str]] = []
            for item in _connection_items(root) or []:
                op.root_object_count += 1
                flatten(item, None, out, op.group_objects, later)
            while later:
                pending, later = later, []
                for child, parent in pending:
                    flatten(child, parent, out, op.group_objects, later)
            op.object_count = len(out)
            if not context.bulk_has_next:
                break
            after = context.bulk_end_cursor
        op.data = b"".join(out)
        op.status = "COMPLETED"
    except Exception:  # reported on the operation, as Shopify reports failures
        op.status = "FAILED"
        op.error_code = "INTERNAL_SERVER_ERROR"
        op.data = b"".join(out)
    op.completed_at = store.now()
    store.emit("bulk_operations/finish", lambda: rest.bulk_finish(store, op))
