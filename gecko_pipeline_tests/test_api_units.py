"""The client's pure parts on their own: budget bookkeeping, pagination arithmetic, error bodies,
the token store. (Everything that needs HTTP is tested against the sandbox in the other files.)"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time

import httpx
import pytest

from gecko_pipeline.api import GeckoApiError, Pagination, ServerError, ValidationError
from gecko_pipeline.api.errors import error_from_response
from gecko_pipeline.api.pacing import Pacer
from gecko_pipeline.api.pages import Page, root_key
from gecko_pipeline.api.token_store import TokenStore, TokenStoreLockTimeout


def _headers(remaining: int, reset: float) -> dict[str, str]:
    return {
        "x-rate-limit-limit": "300",
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(reset),
    }


def test_answers_arriving_out_of_order_never_raise_the_budget() -> None:
    pacer, reset = Pacer(), time.time() + 300
    pacer.acquire()  # the first request goes alone
    pacer.release(_headers(10, reset))
    for _ in range(3):  # then as many at once as the budget allows
        pacer.acquire()
    pacer.release(_headers(5, reset))
    pacer.release(_headers(7, reset))  # sent earlier, answered later
    assert pacer.remaining == 5
    pacer.release(_headers(299, reset + 300))  # the next window
    assert pacer.remaining == 299


def test_an_answer_from_a_window_that_ended_is_ignored() -> None:
    pacer, ended = Pacer(margin=0.0), time.time() - 1
    pacer.acquire()
    pacer.release(_headers(0, ended))  # this window is already over
    pacer.acquire()  # rolls to the new window: the budget is unknown until an answer says
    assert pacer.remaining is None
    pacer.release(_headers(0, ended))  # a late answer of the old window
    assert pacer.remaining is None


def test_a_lost_answer_is_assumed_counted() -> None:
    pacer, reset = Pacer(), time.time() + 300
    pacer.acquire()
    pacer.release(_headers(10, reset))
    pacer.acquire()
    pacer.release(None, reached_server=True)
    assert pacer.remaining == 9


def test_pagination_arithmetic_counts_records_without_parsing() -> None:
    header = json.dumps(
        {
            "total_records": 1343,
            "total_pages": 6,
            "first_page": False,
            "last_page": True,
            "out_of_bounds": False,
            "offset": 1250,
        }
    )
    pagination = Pagination.from_header(header)
    assert pagination is not None and pagination.records_on_page(250) == 93
    page = Page.from_answer("variants", 6, 250, b"{}", pagination)
    assert page.record_count == 93 and page.is_last and page.total_records == 1343
    assert Pagination.from_header("not json") is None


def test_without_a_pagination_header_a_short_page_is_the_last() -> None:
    body = b'{"price_lists":[{"id":"buy"},{"id":"retail"}],"meta":{"total":2}}'
    page = Page.from_answer("price_lists", 1, 250, body, None)
    assert page.is_last and page.record_count == 2 and page.sideloads == {}
    assert root_key("/variants") == "variants" and root_key("/stock_levels?x=1") == "stock_levels"


def test_error_bodies_of_each_shape_read_well() -> None:
    request = httpx.Request("POST", "http://api.test/orders")
    validation = error_from_response(
        httpx.Response(
            422,
            json={"errors": {"company_id": ["can't be blank"], "base": ["Lines needed"]}},
            request=request,
        ),
        "POST",
        "/orders",
    )
    assert isinstance(validation, ValidationError)
    assert str(validation) == "422 POST /orders: company_id can't be blank; Lines needed"
    oauth = error_from_response(
        httpx.Response(400, json={"error": "invalid_request", "error_description": "bad"}, request=request),
        "POST",
        "/oauth/token",
    )
    assert str(oauth) == "400 POST /oauth/token: bad"
    html = error_from_response(
        httpx.Response(503, text="<html>" + "x" * 5000 + "</html>", request=request), "GET", "/variants"
    )
    assert isinstance(html, ServerError) and isinstance(html, GeckoApiError) and len(html.message) < 210


def test_the_token_store_is_private_atomic_and_scoped_to_its_app(tmp_path) -> None:
    store = TokenStore(tmp_path / "data" / "oauth_token.json")
    store.save("http://api.test", "app-1", {"access_token": "a1", "refresh_token": "r1", "expires_at": None})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load("http://api.test", "app-1")["refresh_token"] == "r1"
    assert store.load("http://api.test", "app-2") is None  # another app's token is never used
    assert store.load("http://other.test", "app-1") is None
    store.save("http://api.test", "app-1", {"access_token": "a2", "refresh_token": "r2", "expires_at": None})
    assert store.load("http://api.test", "app-1")["refresh_token"] == "r2"
    assert [p.name for p in store.path.parent.iterdir() if p.name.startswith(".oauth-")] == []


def test_a_token_store_lock_held_elsewhere_fails_with_a_named_error_instead_of_hanging(tmp_path) -> None:
    store = TokenStore(tmp_path / "oauth_token.json", lock_timeout=0.2)
    holder = os.open(tmp_path / "oauth_token.json.lock", os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process, stopped mid-refresh
    try:
        with pytest.raises(TokenStoreLockTimeout, match="oauth_token.json.lock"):
            with store.locked():
                pass
    finally:
        os.close(holder)
    with store.locked():  # once it lets go, the lock is there to take
        pass
