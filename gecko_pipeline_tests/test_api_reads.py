"""GeckoClient reads against the real sandbox over HTTP: pagination, sideloads, ids batches, errors."""

from __future__ import annotations

import logging

import httpx
import pytest

from gecko_pipeline.api import AuthenticationError, GeckoClient, NotFoundError


@pytest.fixture
def client(sandbox) -> GeckoClient:
    with GeckoClient(sandbox.url, token=sandbox.token, max_concurrency=3) as c:
        yield c


def _route_count(sandbox, route: str) -> int:
    return httpx.get(f"{sandbox.url}/_sandbox/stats").json()["by_route"].get(route, 0)


def test_pages_come_in_order_full_then_one_short_last_page(client: GeckoClient) -> None:
    everything = [r["id"] for p in client.iter_pages("/variants") for r in p.records]
    assert len(everything) == len(set(everything)) > 20

    pages = list(client.iter_pages("/variants", limit=7))
    assert [p.page for p in pages] == list(range(1, len(pages) + 1))
    assert pages[0].total_pages == len(pages) == -(-len(everything) // 7)
    assert all(p.total_records == len(everything) for p in pages)
    assert all(len(p.records) == p.record_count == 7 for p in pages[:-1])
    assert 1 <= len(pages[-1].records) <= 7 and pages[-1].is_last
    # Concurrently fetched, but yielded in the server's order: the same sequence as one big page.
    assert [r["id"] for p in pages for r in p.records] == everything
    assert all(p.resource == "variants" and p.sideloads == {} for p in pages)


def test_page_body_is_the_raw_answer_and_records_are_parsed_from_it(client: GeckoClient) -> None:
    page = next(client.iter_pages("/variants", limit=3))
    assert page.body.startswith(b"{") and b'"variants"' in page.body
    assert page.data["variants"] == page.records
    # Money stays a decimal string; nothing went through float.
    assert any(
        isinstance(loc.get("stock_on_hand"), str) for r in page.records for loc in r.get("locations", [])
    )


def test_products_with_included_variants_are_sideloaded(client: GeckoClient) -> None:
    pages = list(client.iter_pages("/products", {"include": "variants"}, limit=5))
    assert len(pages) > 1
    for page in pages:
        assert page.resource == "products"
        assert set(page.sideloads) == {"variants"}  # never "meta"
        product_ids = {p["id"] for p in page.records}
        assert {v["product_id"] for v in page.sideloads["variants"]} <= product_ids


def test_fulfillments_carry_their_line_items_as_a_sideload(client: GeckoClient) -> None:
    pages = list(client.iter_pages("/fulfillments"))
    assert "fulfillment_line_items" in pages[0].sideloads
    fulfillment_ids = {f["id"] for p in pages for f in p.records}
    assert {
        li["fulfillment_id"] for p in pages for li in p.sideloads["fulfillment_line_items"]
    } <= fulfillment_ids


def test_iter_ids_fetches_batches_in_order_with_the_comma_form(sandbox, client: GeckoClient) -> None:
    ids = sorted(r["id"] for p in client.iter_pages("/variants") for r in p.records)[:23]
    client.stats.reset()
    pages = list(client.iter_ids("/variants", [*ids, ids[0]], batch=10))  # a duplicate id is asked once
    assert [sorted(r["id"] for r in p.records) for p in pages] == [ids[:10], ids[10:20], ids[20:]]
    assert client.stats.snapshot()["requests"] == 3
    assert client.stats.snapshot()["records"] == 23


def test_iter_ids_keeps_the_callers_filters(client: GeckoClient) -> None:
    variants = [r for p in client.iter_pages("/variants") for r in p.records]
    product_id = variants[0]["product_id"]
    of_product = sorted(v["id"] for v in variants if v["product_id"] == product_id)
    assert len(of_product) < len(variants)
    found = [
        r["id"]
        for p in client.iter_ids(
            "/variants", [v["id"] for v in variants], {"product_id": product_id}, batch=250
        )
        for r in p.records
    ]
    assert sorted(found) == of_product


def test_a_consumer_that_stops_early_leaves_few_requests_behind(sandbox) -> None:
    with GeckoClient(sandbox.url, token=sandbox.token, max_concurrency=2, prefetch_pages=2) as c:
        pages = c.iter_pages("/variants", limit=1)
        httpx.post(f"{sandbox.url}/_sandbox/stats/reset")
        first = next(pages)
        assert first.total_pages > 20
        next(pages)
        pages.close()
    # Page 1, page 2, and at most `prefetch_pages` ahead: memory stays flat whatever the total.
    assert _route_count(sandbox, "GET /variants") <= 4


def test_get_returns_the_parsed_record(client: GeckoClient) -> None:
    account = client.get("/accounts/current")["account"]
    assert account["default_order_price_list_id"] == "wholesale"


def test_unknown_record_raises_not_found_naming_method_and_path(client: GeckoClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get("/variants/987654321")
    assert caught.value.status == 404
    assert str(caught.value).startswith("404 GET /variants/987654321")


def test_a_refused_token_says_what_to_fix_without_showing_it(sandbox, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="gecko_pipeline.api")
    wrong = "not-the-right-token-3f9a"
    with GeckoClient(sandbox.url, token=wrong) as c, pytest.raises(AuthenticationError) as caught:
        c.get("/accounts/current")
    message = str(caught.value)
    assert message.startswith("401 GET /accounts/current") and "GECKO_ACCESS_TOKEN" in message
    assert wrong not in message
    assert caplog.records and all(wrong not in r.getMessage() for r in caplog.records)


def test_absolute_urls_must_point_at_the_configured_api(sandbox, client: GeckoClient) -> None:
    variant_id = next(client.iter_pages("/variants", limit=1)).records[0]["id"]
    # A webhook's resource_url is absolute; it is fetched only from the API we hold a token for.
    assert client.get(f"{sandbox.url}/variants/{variant_id}")["variant"]["id"] == variant_id
    with pytest.raises(ValueError, match="refusing to send API credentials"):
        client.get(f"http://example.invalid/variants/{variant_id}")


def test_records_added_during_a_sync_push_the_tail_onto_a_page_it_still_fetches(sandbox) -> None:
    with GeckoClient(sandbox.url, token=sandbox.token, max_concurrency=1, prefetch_pages=1) as c:
        before = {r["id"] for p in c.iter_pages("/variants", limit=5) for r in p.records}
        pages = c.iter_pages("/variants", limit=5)
        first = next(pages)
        planned = first.total_pages
        # Newest first: five new variants shift every older record one page further down.
        added = httpx.post(f"{sandbox.url}/_sandbox/activity/new_product", json={"variants": 5}).json()
        rest = list(pages)
    seen = {r["id"] for p in [first, *rest] for r in p.records}
    assert before <= seen and set(added["variant_ids"]).isdisjoint(before)
    assert len(rest) + 1 == planned + 1 and rest[-1].is_last
