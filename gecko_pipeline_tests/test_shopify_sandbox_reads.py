"""Reads: cursor pagination both ways, sort keys, the search syntax (updated_at windows, sku, status)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gecko_pipeline_tests.shopify_fixtures import ShopifyClient, ShopifyFactory

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $reverse: Boolean, $sort: ProductSortKeys, $q: String) {
  products(first: $first, after: $after, last: $last, before: $before, reverse: $reverse, sortKey: $sort, query: $q) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id updatedAt status } } nodes { id } } }"""


def page(client: ShopifyClient, **variables: object) -> dict:
    return client.data(PAGE, dict(variables))["products"]


def all_ids(client: ShopifyClient, **variables: object) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        result = page(client, first=7, after=after, **variables)
        assert [e["node"]["id"] for e in result["edges"]] == [n["id"] for n in result["nodes"]]
        ids += [n["id"] for n in result["nodes"]]
        if not result["pageInfo"]["hasNextPage"]:
            return ids
        assert result["pageInfo"]["endCursor"] == result["edges"][-1]["cursor"]
        after = result["pageInfo"]["endCursor"]


def test_forward_pages_cover_every_product_once_in_id_order(gql_shared: ShopifyClient) -> None:
    ids = all_ids(gql_shared)
    dumped = [
        f"gid://shopify/Product/{p['id']}" for p in gql_shared.control("GET", "/dump/products")["products"]
    ]
    assert ids == sorted(dumped, key=lambda g: int(g.rsplit("/", 1)[1]))
    second = page(gql_shared, first=7, after=page(gql_shared, first=7)["pageInfo"]["endCursor"])
    assert second["pageInfo"]["hasPreviousPage"] is True


def test_last_before_and_reverse_walk_backwards(gql_shared: ShopifyClient) -> None:
    ids = all_ids(gql_shared)
    tail = page(gql_shared, last=5)
    assert [n["id"] for n in tail["nodes"]] == ids[-5:]
    assert tail["pageInfo"]["hasNextPage"] is False and tail["pageInfo"]["hasPreviousPage"] is True
    before = page(gql_shared, last=5, before=tail["pageInfo"]["startCursor"])
    assert [n["id"] for n in before["nodes"]] == ids[-10:-5]
    reverse = page(gql_shared, first=5, reverse=True)
    assert [n["id"] for n in reverse["nodes"]] == list(reversed(ids[-5:]))
    assert all_ids(gql_shared, reverse=True) == list(reversed(ids))


def test_sort_keys_order_pages(gql_shared: ShopifyClient) -> None:
    stamps = [e["node"]["updatedAt"] for e in page(gql_shared, first=50, sort="UPDATED_AT")["edges"]]
    assert stamps == sorted(stamps)
    created = gql_shared.data("{ products(first: 50, sortKey: CREATED_AT) { nodes { createdAt } } }")[
        "products"
    ]["nodes"]
    assert [p["createdAt"] for p in created] == sorted(p["createdAt"] for p in created)
    stamps = [
        e["node"]["updatedAt"] for e in page(gql_shared, first=50, sort="UPDATED_AT", reverse=True)["edges"]
    ]
    assert stamps == sorted(stamps, reverse=True)


def test_updated_at_windows_bounds_and_combinations(gql_shared: ShopifyClient) -> None:
    nodes = [e["node"] for e in page(gql_shared, first=250, sort="UPDATED_AT")["edges"]]
    stamps = [n["updatedAt"] for n in nodes]
    pivot = stamps[len(stamps) // 2]
    at_pivot = {n["id"] for n in nodes if n["updatedAt"] == pivot}

    def ids(q: str) -> set[str]:
        return {e["node"]["id"] for e in page(gql_shared, first=250, q=q)["edges"]}

    assert ids(f"updated_at:>='{pivot}'") == {n["id"] for n in nodes if n["updatedAt"] >= pivot}
    assert ids(f"updated_at:>'{pivot}'") == {n["id"] for n in nodes if n["updatedAt"] > pivot}
    assert at_pivot <= ids(f'updated_at:<="{pivot}"')
    assert not at_pivot & ids(f"updated_at:<'{pivot}'")
    low, high = stamps[5], stamps[-5]
    window = ids(f"updated_at:>='{low}' AND updated_at:<='{high}'")
    assert window == {n["id"] for n in nodes if low <= n["updatedAt"] <= high}
    assert ids(f"updated_at:>='{low}' updated_at:<='{high}'") == window  # whitespace is AND
    outside = ids(f"updated_at:<'{low}' OR updated_at:>'{high}'")
    assert outside == {n["id"] for n in nodes} - window
    # an offset timestamp means the same instant
    moment = datetime.strptime(pivot, "%Y-%m-%dT%H:%M:%SZ") - timedelta(hours=5)
    assert ids(f"updated_at:>='{moment:%Y-%m-%dT%H:%M:%S}-05:00'") == ids(f"updated_at:>='{pivot}'")


def test_sku_status_and_unknown_fields(gql_shared: ShopifyClient) -> None:
    variants = gql_shared.data("{ productVariants(first: 250) { nodes { id sku } } }")["productVariants"][
        "nodes"
    ]
    skus = [v["sku"] for v in variants if v["sku"]]
    query = f"sku:{skus[0]} OR sku:'{skus[3]}'"
    found = gql_shared.data(
        "query($q: String) { productVariants(first: 10, query: $q) { nodes { sku } } }", {"q": query}
    )
    assert sorted(v["sku"] for v in found["productVariants"]["nodes"]) == sorted({skus[0], skus[3]})
    products = page(gql_shared, first=250)["edges"]
    archived = {e["node"]["id"] for e in products if e["node"]["status"] == "ARCHIVED"}
    assert {e["node"]["id"] for e in page(gql_shared, first=250, q="status:archived")["edges"]} == archived
    assert {e["node"]["id"] for e in page(gql_shared, first=250, q="-status:archived")["edges"]} == {
        e["node"]["id"] for e in products
    } - archived
    body = gql_shared.query('{ products(first: 250, query: "colour:red") { nodes { id } } }')
    assert len(body["data"]["products"]["nodes"]) == len(products)  # an invalid term filters nothing...
    assert body["extensions"]["search"][0]["warnings"][0]["field"] == "colour"  # ...and says so


def test_page_size_limits(gql_shared: ShopifyClient) -> None:
    too_big = gql_shared.post("{ products(first: 251) { nodes { id } } }").json()
    assert "250" in too_big["errors"][0]["message"]
    neither = gql_shared.post("{ products { nodes { id } } }").json()
    assert "first or last" in neither["errors"][0]["message"]


def test_orders_window_sorted_by_updated_at_and_node_lookup(gql_shared: ShopifyClient) -> None:
    orders = gql_shared.data("{ orders(first: 250, sortKey: UPDATED_AT) { nodes { id updatedAt } } }")[
        "orders"
    ]["nodes"]
    assert [o["updatedAt"] for o in orders] == sorted(o["updatedAt"] for o in orders)
    since = orders[len(orders) // 2]["updatedAt"]
    window = gql_shared.data(
        "query($q: String) { orders(first: 250, query: $q, sortKey: UPDATED_AT) { nodes { id } } }",
        {"q": f"updated_at:>='{since}'"},
    )["orders"]["nodes"]
    assert {o["id"] for o in window} == {o["id"] for o in orders if o["updatedAt"] >= since}
    ids = [orders[0]["id"], "gid://shopify/Order/1"]
    nodes = gql_shared.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Order { name } } }", {"ids": ids}
    )["nodes"]
    assert nodes[0]["id"] == ids[0] and nodes[0]["name"].startswith("#") and nodes[1] is None


def test_locations_hide_the_deactivated_one_unless_asked(gql_shared: ShopifyClient) -> None:
    active = gql_shared.data("{ locations(first: 10) { nodes { name isActive } } }")["locations"]["nodes"]
    everything = gql_shared.data(
        "{ locations(first: 10, includeInactive: true) { nodes { name isActive } } }"
    )["locations"]["nodes"]
    assert all(loc["isActive"] for loc in active)
    assert len(everything) == len(active) + 1 and not everything[-1]["isActive"]


def test_without_read_all_orders_only_sixty_days_are_visible(shopify_factory: ShopifyFactory) -> None:
    client = ShopifyClient(shopify_factory(scale=40, orders=40, read_all_orders=False))
    visible = client.data("{ orders(first: 250) { nodes { processedAt } } }")["orders"]["nodes"]
    assert 0 < len(visible) < 40
    oldest = min(datetime.strptime(o["processedAt"], "%Y-%m-%dT%H:%M:%SZ") for o in visible)
    assert datetime.now(timezone.utc).replace(tzinfo=None) - oldest <= timedelta(days=60)
    client.close()
