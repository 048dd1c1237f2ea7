"""Query cost as Shopify documents it: scalars and enums 0, objects 1, interfaces and unions the maximum of
their possible selections, connections 2 + the objects asked for (`first`/`last`) with everything inside a
node multiplied by that number, each mutation field 10.

`requested` is computed from the document before anything runs; `actual` walks the answer, counting the
objects really returned (so a short last page costs less and the difference is refunded).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

MUTATION_COST = 10


class CostCalculator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    # --- shared walking ----------------------------------------------------------------------------
    def _applies(self, condition: str | None, concrete: GraphQLObjectType) -> bool:
        if condition is None or condition == concrete.name:
            return True
        target = self.schema.get_type(condition)
        return is_abstract_type(target) and self.schema.is_sub_type(target, concrete)  # type: ignore[arg-type]

    def collect(
        self, concrete: GraphQLObjectType, selection_set: SelectionSetNode | None
    ) -> dict[str, list[FieldNode]]:
        """Response key -> the field nodes selected under it, for one concrete type (fragments expanded)."""
        out: dict[str, list[FieldNode]] = {}
        if selection_set is None:
            return out
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition.name.value if selection.type_condition else None
                if self._applies(condition, concrete):
                    for key, nodes in self.collect(concrete, selection.selection_set).items():
                        out.setdefault(key, []).extend(nodes)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and self._applies(fragment.type_condition.name.value, concrete):
                    for key, nodes in self.collect(concrete, fragment.selection_set).items():
                        out.setdefault(key, []).extend(nodes)
        return out

    def _concrete_types(self, named: GraphQLNamedType) -> list[GraphQLObjectType]:
        if isinstance(named, GraphQLObjectType):
            return [named]
        assert isinstance(named, GraphQLAbstractType)  # type: ignore[misc,arg-type]
        return list(self.schema.get_possible_types(named))  # type: ignore[arg-type]

    @staticmethod
    def _merged(nodes: list[FieldNode]) -> SelectionSetNode | None:
        selections = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
        return SelectionSetNode(selections=tuple(selections)) if selections else None

    def _args(self, field: GraphQLField, node: FieldNode) -> dict[str, Any]:
        try:
            return get_argument_values(field, node, self.variables)
        except Exception:  # invalid arguments fail in execution, with a proper error
            return {}

    def _node_selections(
        self, connection: GraphQLObjectType, nodes: list[FieldNode]
    ) -> tuple[GraphQLNamedType, list[FieldNode]]:
        """The selections applying to each node of a connection: under `nodes` and under `edges { node }`."""
        node_type = get_named_type(connection.fields["nodes"].type)
        edge_type = get_named_type(connection.fields["edges"].type)
        inner: list[FieldNode] = []
        merged = self._merged(nodes)
        fields = self.collect(connection, merged)
        for fnodes in fields.values():
            name = fnodes[0].name.value
            if name == "nodes":
                inner.extend(fnodes)
            elif name == "edges":
                assert isinstance(edge_type, GraphQLObjectType)
                for enodes in self.collect(edge_type, self._merged(fnodes)).values():
                    if enodes[0].name.value == "node":
                        inner.extend(enodes)
        return node_type, inner

    # --- requested -----------------------------------------------------------------------------------
    def requested(self, operation: OperationDefinitionNode) -> int:
        if operation.operation.value == "mutation":
            mutation = self.schema.mutation_type
            assert mutation is not None
            return MUTATION_COST * len(self.collect(mutation, operation.selection_set))
        query = self.schema.query_type
        assert query is not None
        return self.set_cost(query, operation.selection_set)

    def set_cost(self, named: GraphQLNamedType, selection_set: SelectionSetNode | None) -> int:
        best = 0
        for concrete in self._concrete_types(named):
            cost = 0
            for nodes in self.collect(concrete, selection_set).values():
                name = nodes[0].name.value
                if name.startswith("__"):
                    continue
                cost += self.field_cost(concrete.fields[name], nodes)
            best = max(best, cost)
        return best

    def field_cost(self, field: GraphQLField, nodes: list[FieldNode]) -> int:
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        args = self._args(field, nodes[0])
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
            size = args.get("first") or args.get("last") or 0
            node_type, inner = self._node_selections(named, nodes)
            return 2 + size + size * self.set_cost(node_type, self._merged(inner))
        inner_cost = 1 + self.set_cost(named, self._merged(nodes))
        if "ids" in args and isinstance(get_nullable_type(field.type), GraphQLList):  # type: ignore[arg-type]
            return len(args["ids"] or []) * inner_cost  # nodes(ids:): one object per id
        return inner_cost  # objects, and plain lists (priced as one object: README)

    # --- actual --------------------------------------------------------------------------------------
    def actual(self, operation: OperationDefinitionNode, data: dict[str, Any] | None) -> int:
        if operation.operation.value == "mutation":
            return self.requested(operation)
        if not data:
            return 0
        query = self.schema.query_type
        assert query is not None
        return self.value_cost(query, operation.selection_set, data)

    def value_cost(
        self, named: GraphQLNamedType, selection_set: SelectionSetNode | None, value: dict[str, Any]
    ) -> int:
        best = 0
        for concrete in self._concrete_types(named):
            cost = 0
            for key, nodes in self.collect(concrete, selection_set).items():
                name = nodes[0].name.value
                if name.startswith("__") or key not in value:
                    continue
                cost += self.field_actual(concrete.fields[name], nodes, value[key])
            best = max(best, cost)
        return best

    def field_actual(self, field: GraphQLField, nodes: list[FieldNode], value: Any) -> int:
        named = get_named_type(field.type)
        if value is None or is_leaf_type(named):
            return 0
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType):
            node_type, inner = self._node_selections(named, nodes)
            merged = self._merged(inner)
            items = value.get("nodes")
            if items is None:
                items = [edge.get("node") for edge in value.get("edges") or [] if isinstance(edge, dict)]
            return 2 + len(items) + sum(self.value_cost(node_type, merged, item) for item in items if item)
        merged = self._merged(nodes)
        if isinstance(value, list):
            items = [item for item in value if isinstance(item, dict)]
            if "ids" in self._args(field, nodes[0]):
                return sum(1 + self.value_cost(named, merged, item) for item in items)
            return 1 + max((self.value_cost(named, merged, item) for item in items), default=0)
        return 1 + self.value_cost(named, merged, value)
