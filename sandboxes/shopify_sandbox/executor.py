"""One GraphQL request, as Shopify answers it: parse, validate, price the query, refuse it when over the
single-query cap (MAX_COST_EXCEEDED) or when the bucket cannot pay (THROTTLED), execute, refund
requested - actual, and attach `extensions.cost` (and `extensions.search` warnings)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from shopify_sandbox import mutations
from shopify_sandbox.cost import CostCalculator
from shopify_sandbox.resolvers import Context, default_resolver, install_scalars, resolve_type
from shopify_sandbox.schema import schema_for
from shopify_sandbox.stats import Stats
from shopify_sandbox.store import Store
from shopify_sandbox.throttle import Bucket

THROTTLED_DOC = "https://shopify.dev/api/usage/rate-limits"
_UNDEFINED = re.compile(r"Cannot query field '(?P<field>[^']+)' on type '(?P<type>[^']+)'\.")


@dataclass
class Outcome:
    body: dict[str, Any]
    operation: str


def _cost(requested: int, actual: int | None, bucket: Bucket) -> dict[str, Any]:
    return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": bucket.status()}


def _shopify_error(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's error in Shopify's words where they differ (unknown fields)."""
    formatted = dict(error.formatted)
    match = _UNDEFINED.match(error.message)
    if match:
        formatted["message"] = f"Field '{match['field']}' doesn't exist on type '{match['type']}'"
        formatted["extensions"] = {
            "code": "undefinedField",
            "typeName": match["type"],
            "fieldName": match["field"],
        }
    return formatted


class Executor:
    def __init__(self, store: Store, bucket: Bucket, stats: Stats) -> None:
        self.store = store
        self.bucket = bucket
        self.stats = stats
        self.schema = schema_for(store.config.api_version)
        install_scalars(self.schema)
        mutations.install()

    def run(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        *,
        force_throttle: bool = False,
    ) -> Outcome:
        bucket = self.bucket
        try:
            document = parse(query)
        except GraphQLError as error:
            return Outcome(
                {"errors": [_shopify_error(error)], "extensions": {"cost": _cost(0, 0, bucket)}}, "invalid"
            )
        problems = validate(self.schema, document)
        if problems:
            return Outcome(
                {
                    "errors": [_shopify_error(e) for e in problems],
                    "extensions": {"cost": _cost(0, 0, bucket)},
                },
                "invalid",
            )
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        operation = next(
            (o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)),
            None,
        )
        if operation is None or (operation_name is None and len(operations) > 1):
            message = (
                "An operation name is required"
                if operation is not None or operation_name is None
                else f"No operation named '{operation_name}'"
            )
            return Outcome(
                {"errors": [{"message": message}], "extensions": {"cost": _cost(0, 0, bucket)}}, "invalid"
            )
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return Outcome(
                {"errors": [e.formatted for e in coerced], "extensions": {"cost": _cost(0, 0, bucket)}},
                "invalid",
            )
        roots = [s.name.value for s in operation.selection_set.selections if hasattr(s, "name")]
        label = f"{operation.operation.value} {','.join(sorted(set(roots)))}"
        calculator = CostCalculator(self.schema, fragments, coerced)
        requested = calculator.requested(operation)
        limit = self.store.config.max_query_cost
        if requested > limit:
            self.stats.record(label, requested=requested, actual=0, refused="max_cost")
            too_costly = {
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit ({limit}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": limit},
            }
            return Outcome(
                {"errors": [too_costly], "extensions": {"cost": _cost(requested, None, bucket)}}, label
            )
        if force_throttle or not bucket.take(requested):
            self.stats.record(label, requested=requested, actual=0, refused="throttled")
            throttled = {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": THROTTLED_DOC},
            }
            return Outcome(
                {"errors": [throttled], "extensions": {"cost": _cost(requested, None, bucket)}}, label
            )
        context = Context(self.store)
        result = execute_sync(
            self.schema,
            document,
            variable_values=variables or {},
            operation_name=operation_name,
            context_value=context,
            field_resolver=default_resolver,
            type_resolver=resolve_type,
        )
        actual = calculator.actual(operation, result.data)
        actual = min(actual, requested)
        bucket.refund(requested - actual)
        self.stats.record(label, requested=requested, actual=actual, refused=None, errors=bool(result.errors))
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_shopify_error(e) for e in result.errors]
        body["data"] = result.data
        extensions: dict[str, Any] = {"cost": _cost(requested, actual, bucket)}
        if context.search:
            extensions["search"] = context.search
        body["extensions"] = extensions
        return Outcome(body, label)
