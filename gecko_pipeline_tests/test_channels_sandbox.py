"""Channel stock, listings and feeds over sandbox data extracted by the real extract assets.

Each test starts a small sandbox, shapes a few variants into the awkward cases through the sandbox's
merchant-activity control plane, materializes the extract and channel assets with Dagster, and checks
the warehouse's channel tables against an independent reading of the rule over the sandbox's own dump.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from harness import sandbox_resources

from gecko_pipeline.api.client import GeckoClient
from gecko_pipeline.channels import feeds as feeds_module
from gecko_pipeline.channels.config import ChannelConfigError, load_channels
from gecko_pipeline.channels.feeds import read_changes, write_feeds
from gecko_pipeline.channels.stock import REASONS, compute_channel_stock
from gecko_pipeline.defs.channels import channels
from gecko_pipeline.defs.extract import extract
from gecko_pipeline.defs.resources import WarehouseResource
from gecko_pipeline.warehouse.sync import refresh_ids

ZERO = Decimal("0")

# Sandbox locations at small scales: 1 "Primary Location", 2 and 3 hold stock, 4 holds none, 5 archived.
CHANNEL_FILE = """
channels:
  - name: web
    price_list: retail
    safety_buffer: 2
  - name: market
    price_list: VIP
    locations: [Warehouse 2, Primary Location]
    per_location: true
  - name: north
    locations: [3]
    safety_buffer: 0.5
"""

SELECTION = dg.AssetSelection.groups("inventory", "channels")


def D(value: Any) -> Decimal:  # noqa: N802 (reads like the type)
    return ZERO if value is None else Decimal(str(value))


class Account:
    """The sandbox's state, read from its control plane (wire format), and the rule applied to it."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def dump(self, resource: str) -> list[dict[str, Any]]:
        body = self.http.get(f"/_sandbox/dump/{resource}").raise_for_status().json()
        return body[resource] if isinstance(body, dict) else body

    def update(self, resource: str, record_id: int, fields: dict[str, Any]) -> None:
        self.http.post(
            "/_sandbox/activity/update", json={"resource": resource, "id": record_id, "fields": fields}
        ).raise_for_status()

    def stock_move(self, variant_id: int, location_id: int, quantity: Decimal) -> None:
        self.http.post(
            "/_sandbox/activity/stock_move",
            json={"variant_id": variant_id, "location_id": location_id, "quantity": str(quantity)},
        ).raise_for_status()

    def variant(self, variant_id: int) -> dict[str, Any]:
        return next(v for v in self.dump("variants") if v["id"] == variant_id)


def expected_listings(account: Account, channels: dict[str, dict[str, Any]]) -> dict[tuple[str, int], dict]:
    """The rule (docs/channels.md) applied in plain Python to the sandbox's wire records."""
    products = {p["id"]: p for p in account.dump("products")}
    out: dict[tuple[str, int], dict] = {}
    for v in account.dump("variants"):
        available = {
            loc["location_id"]: D(loc["stock_on_hand"]) - D(loc.get("committed"))
            for loc in v.get("locations") or []
        }
        prices = {p["price_list_id"]: p["value"] for p in v.get("variant_prices") or []}
        product = products.get(v["product_id"], {})
        listed = (
            v["status"] == "active"
            and product.get("status", v.get("product_status")) == "active"
            and v.get("sellable") is not False
        )
        for name, ch in channels.items():
            total = sum((available.get(loc, ZERO) for loc in ch["locations"]), ZERO)
            after = max(total - ch["buffer"], ZERO)
            max_online = None if v.get("max_online") is None else D(v["max_online"])
            capped = max_online is not None and after > max_online
            tracked = v.get("manage_stock") is not False
            keep = bool(v.get("keep_selling"))
            if not listed:
                quantity, reason = ZERO, "not_sellable"
            elif not tracked:
                quantity, reason = None, "untracked"
            elif capped:
                quantity, reason = max_online, "capped"
            elif after > 0:
                quantity, reason = after, "buffer" if ch["buffer"] > 0 else "in_stock"
            else:
                quantity = ZERO
                reason = "backorder" if keep else "buffer" if total > 0 else "out_of_stock"
            shares: dict[int, Decimal | None] = {}
            left = quantity
            for loc in ch["locations"]:
                if quantity is None:
                    shares[loc] = None
                    continue
                share = min(max(available.get(loc, ZERO), ZERO), left)
                shares[loc] = share
                left -= share
            price = prices.get(ch["price_list"])
            out[(name, v["id"])] = {
                "listed": listed,
                "quantity": quantity,
                "reason": reason,
                "inventory_policy": "continue" if listed and (not tracked or keep) else "deny",
                "price": None if price is None else D(price),
                "shares": shares,
            }
    return out


@pytest.fixture
def setup(sandbox_factory: Callable[..., Any], data_dir: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    handle = sandbox_factory(scale=60, seed=7, rate_limit_quota=100_000)
    channel_file = tmp_path / "channels.yaml"
    channel_file.write_text(CHANNEL_FILE)
    resources = sandbox_resources(handle, data_dir, channel_file)
    resources["warehouse"] = WarehouseResource(storage=resources["storage"], incremental_overlap_seconds=1)
    account = Account(handle.url)
    yield {
        "handle": handle,
        "account": account,
        "resources": resources,
        "data_dir": data_dir,
        "channel_file": channel_file,
        "instance": dg.DagsterInstance.ephemeral(),
    }
    account.http.close()


def materialize(setup: dict[str, Any], selection: dg.AssetSelection = SELECTION) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [extract, channels],
        selection=selection,
        resources=setup["resources"],
        instance=setup["instance"],
    )


def query(setup: dict[str, Any], sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(setup["data_dir"] / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def channel_definitions(setup: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The test file's channels with their locations as the docs say they resolve."""
    locations = setup["account"].dump("locations")
    (primary,) = query(setup, "SELECT primary_location_id FROM account")[0]
    web = sorted(
        (loc["id"] for loc in locations if loc["status"] == "active" and loc["holds_stock"]),
        key=lambda i: (i != primary, i),
    )
    return {
        "web": {"locations": web, "buffer": Decimal("2"), "price_list": "retail"},
        "market": {"locations": [2, 1], "buffer": ZERO, "price_list": "2"},
        "north": {"locations": [3], "buffer": Decimal("0.5"), "price_list": "wholesale"},
    }


def pick(variants: list[dict[str, Any]], count: int, taken: set[int]) -> list[dict[str, Any]]:
    """Active, sellable, tracked variants of active products, not already used for another case."""
    found = [
        v
        for v in variants
        if v["status"] == "active"
        and v.get("sellable")
        and v.get("manage_stock")
        and not v.get("keep_selling")
        and v.get("max_online") is None
        and v.get("product_status") == "active"
        and v["id"] not in taken
        and any(loc["location_id"] == 1 for loc in v["locations"])
    ]
    chosen = found[:count]
    assert len(chosen) == count, "the sandbox seed has too few plain variants for the test"
    taken.update(v["id"] for v in chosen)
    return chosen


def on_hand_at(variant: dict[str, Any], location_id: int) -> tuple[Decimal, Decimal]:
    entry = next((loc for loc in variant["locations"] if loc["location_id"] == location_id), None)
    return (ZERO, ZERO) if entry is None else (D(entry["stock_on_hand"]), D(entry.get("committed")))


def shape_cases(account: Account) -> dict[str, int]:
    """Puts chosen variants into each branch of the rule, through the sandbox's activity endpoints."""
    variants = account.dump("variants")
    taken: set[int] = set()
    (
        untracked,
        backorder_zero,
        backorder_below,
        capped,
        archived,
        unsellable,
        missing_price,
        empty,
        no_sku,
        twin,
    ) = pick(variants, 10, taken)
    account.update("variants", no_sku["id"], {"sku": None})
    account.update("variants", twin["id"], {"sku": untracked["sku"]})  # the API does not enforce unique SKUs
    account.update("variants", untracked["id"], {"manage_stock": False})
    account.update("variants", capped["id"], {"max_online": "3"})
    account.stock_move(capped["id"], 1, Decimal("50"))
    account.update("variants", archived["id"], {"status": "archived"})
    account.update("variants", unsellable["id"], {"sellable": False})
    prices = [p for p in missing_price["variant_prices"] if p["price_list_id"] != "retail"]
    account.update("variants", missing_price["id"], {"variant_prices": prices})
    # Bring one variant to exactly zero available at every location, another below zero.
    for variant, target in ((backorder_zero, ZERO), (backorder_below, Decimal("-4")), (empty, ZERO)):
        for loc in variant["locations"]:
            on_hand, committed = D(loc["stock_on_hand"]), D(loc.get("committed"))
            wanted = committed + (target if loc["location_id"] == 1 else ZERO)
            if on_hand != wanted:
                account.stock_move(variant["id"], loc["location_id"], wanted - on_hand)
    account.update("variants", backorder_zero["id"], {"keep_selling": True})
    account.update("variants", backorder_below["id"], {"keep_selling": True})
    return {
        "untracked": untracked["id"],
        "backorder_zero": backorder_zero["id"],
        "backorder_below": backorder_below["id"],
        "capped": capped["id"],
        "archived": archived["id"],
        "unsellable": unsellable["id"],
        "missing_price": missing_price["id"],
        "empty": empty["id"],
        "no_sku": no_sku["id"],
        "twin": twin["id"],
    }


def listings(setup: dict[str, Any]) -> dict[tuple[str, int], tuple]:
    rows = query(
        setup,
        """SELECT channel, variant_id, listed, quantity, inventory_policy, price, reason, sku
                           FROM channel_listings""",
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def stock_levels(setup: dict[str, Any]) -> dict[tuple[str, int, int], tuple]:
    rows = query(
        setup,
        """SELECT channel, variant_id, location_id, stocked, stock_on_hand, committed, available,
                                  quantity FROM channel_stock_levels""",
    )
    return {(r[0], r[1], r[2]): r[3:] for r in rows}


def test_every_branch_of_the_rule_over_extracted_sandbox_data(setup: dict[str, Any]) -> None:
    account: Account = setup["account"]
    cases = shape_cases(account)
    result = materialize(setup)
    assert result.success

    expected = expected_listings(account, channel_definitions(setup))
    actual = listings(setup)
    assert set(actual) == set(expected)
    for key, want in expected.items():
        listed, quantity, policy, price, reason, _sku = actual[key]
        got = {
            "listed": listed,
            "quantity": quantity,
            "inventory_policy": policy,
            "price": price,
            "reason": reason,
        }
        assert got == {k: want[k] for k in got}, key
    # Per-location shares: only the channel that takes stock per location has them (docs/channels.md).
    levels = stock_levels(setup)
    per_location = {"market"}
    assert {key[0] for key in levels} == per_location
    for (channel, variant_id), want in expected.items():
        if channel not in per_location:
            continue
        for location_id, share in want["shares"].items():
            assert levels[(channel, variant_id, location_id)][4] == share, (channel, variant_id, location_id)
    assert len(levels) == sum(len(want["shares"]) for (c, _), want in expected.items() if c in per_location)

    # The shaped cases land on their branch, with the published fields the docs promise.
    web = {name: actual[("web", vid)] for name, vid in cases.items()}
    assert web["untracked"][1:3] == (None, "continue") and web["untracked"][4] == "untracked"
    assert web["backorder_zero"][1:3] == (0, "continue") and web["backorder_zero"][4] == "backorder"
    assert web["backorder_below"][1:3] == (0, "continue") and web["backorder_below"][4] == "backorder"
    assert web["empty"][1:3] == (0, "deny") and web["empty"][4] == "out_of_stock"
    assert web["capped"][1] == Decimal("3") and web["capped"][4] == "capped"
    for name in ("archived", "unsellable"):
        assert web[name][0] is False and web[name][1] == 0 and web[name][4] == "not_sellable"
    assert web["missing_price"][3] is None
    assert query(
        setup,
        "SELECT price_missing FROM channel_listings WHERE channel = 'web' AND variant_id = $1",
        [cases["missing_price"]],
    ) == [(True,)]
    # Every branch occurs somewhere, and the awkward inputs the sandbox seeds are really there.
    reasons = {row[4] for row in actual.values()}
    assert (
        {"untracked", "backorder", "capped", "buffer", "out_of_stock", "not_sellable"}
        <= reasons
        <= set(REASONS)
    )
    assert {row[4] for (channel, _), row in actual.items() if channel == "market"} >= {"in_stock"}
    assert (
        query(setup, "SELECT count(*) FROM channel_stock_levels WHERE committed IS NULL AND stocked")[0][0]
        > 0
    )
    assert query(setup, "SELECT count(*) FROM channel_stock_levels WHERE available < 0")[0][0] > 0
    assert (
        query(setup, "SELECT count(*) FROM channel_stock_levels WHERE NOT stocked AND quantity = 0")[0][0] > 0
    )
    assert query(setup, "SELECT count(*) FROM channel_listings WHERE max_online IS NOT NULL")[0][0] > 0
    # "north" sells from location 3 only: stock elsewhere never reaches it (its quantities above are
    # the rule over location 3 alone); it publishes one total, so it has no per-location rows.
    assert query(setup, "SELECT location_id FROM channel_locations WHERE channel = 'north'") == [(3,)]
    assert query(setup, "SELECT count(*) FROM channel_stock_levels WHERE channel = 'north'") == [(0,)]

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in (
        "no_negative_quantity",
        "quantity_within_max_online",
        "keys_unique",
        "location_shares_add_up",
    ):
        assert checks[name].passed, name
    assert not checks["prices_present"].passed  # the missing price is flagged, not invented
    assert checks["prices_present"].severity == dg.AssetCheckSeverity.WARN
    # A listed variant without a SKU, and two sharing one, are flagged in each of the 3 channels.
    assert not checks["skus_usable"].passed and checks["skus_usable"].metadata["failures"].value == 6
    assert checks["skus_usable"].severity == dg.AssetCheckSeverity.WARN

    listing_meta = next(
        m for m in result.get_asset_materialization_events() if m.asset_key == dg.AssetKey("channel_listings")
    ).materialization.metadata
    assert listing_meta["web missing prices"].value >= 1
    assert listing_meta["listed"].value == sum(1 for r in actual.values() if r[0])
    assert "| channel | sku |" in listing_meta["lowest stock"].value


def test_a_stock_move_changes_exactly_the_affected_rows_and_feed_entries(setup: dict[str, Any]) -> None:
    account: Account = setup["account"]
    assert materialize(setup).success
    feeds = setup["data_dir"] / "feeds"
    first = {name: read_changes(feeds, name) for name in ("web", "market", "north")}
    assert first["web"]["count"] == first["web"]["changes"].__len__() > 0  # the first feed adds everything
    assert all(c["change"] == "added" for c in first["market"]["changes"])
    before_listings, before_levels = listings(setup), stock_levels(setup)

    # A variant with plenty of stock at the primary location (in web and market, not in north).
    variant = next(
        v
        for v in account.dump("variants")
        if v["status"] == "active"
        and v.get("sellable")
        and v.get("manage_stock")
        and v.get("max_online") is None
        and v.get("product_status") == "active"
        and on_hand_at(v, 1)[0] - on_hand_at(v, 1)[1] > 10
    )
    account.stock_move(variant["id"], 1, Decimal("-5"))
    assert materialize(setup).success  # an incremental sync, then the channel assets

    after_listings, after_levels = listings(setup), stock_levels(setup)
    changed = {k for k in after_listings if after_listings[k] != before_listings.get(k)}
    assert changed == {("web", variant["id"]), ("market", variant["id"])}
    changed_levels = {k for k in after_levels if after_levels[k] != before_levels.get(k)}
    assert changed_levels and {k[1] for k in changed_levels} == {variant["id"]}
    assert {k[0] for k in changed_levels} == {"market"}  # the only channel with per-location rows

    web, market, north = (read_changes(feeds, name) for name in ("web", "market", "north"))
    assert [(c["variant_id"], c["change"]) for c in web["changes"]] == [(variant["id"], "updated")]
    (change,) = web["changes"]
    assert Decimal(change["previous_quantity"]) - Decimal(change["quantity"]) == 5
    assert web["since"] == first["web"]["generated_at"]
    market_moved = {(k[1], k[2]) for k in changed_levels if k[0] == "market"}
    assert {(c["variant_id"], c["location_id"]) for c in market["changes"]} == market_moved
    assert north["count"] == 0 and north["changes"] == []


def test_the_webhook_path_recomputes_only_the_given_variants(setup: dict[str, Any]) -> None:
    account: Account = setup["account"]
    assert materialize(setup).success
    channels = load_channels(setup["channel_file"])
    variant = next(
        v
        for v in account.dump("variants")
        if v["status"] == "active"
        and v.get("manage_stock")
        and v.get("sellable")
        and on_hand_at(v, 3)[0] > 3
        and v.get("max_online") is None
        and v.get("product_status") == "active"
    )
    before = listings(setup)
    account.stock_move(variant["id"], 3, Decimal("2"))

    handle = setup["handle"]
    warehouse_path = setup["data_dir"] / "warehouse.duckdb"
    with GeckoClient(handle.url, token=handle.token) as client, duckdb.connect(str(warehouse_path)) as con:
        refresh_ids(client, con, "variants", [variant["id"]])
        counts = compute_channel_stock(con, channels, variant_ids=[variant["id"]])
        fed = write_feeds(con, channels, setup["data_dir"] / "feeds")
    # One listing per channel, stock levels for market's two locations (the per-location channel).
    assert counts["listings_rows"] == 3 and counts["stock_level_rows"] == 2
    after = listings(setup)
    assert {k for k in after if after[k] != before[k]} == {("web", variant["id"]), ("north", variant["id"])}
    assert fed["channels"]["web"]["changes"] == 1 and fed["channels"]["north"]["changes"] == 1
    assert fed["channels"]["market"]["changes"] == 0

    # The targeted result is what a full recompute gives.
    with duckdb.connect(str(warehouse_path)) as con:
        compute_channel_stock(con, channels)
    assert listings(setup) == after


def test_feed_files_are_exact_and_complete(setup: dict[str, Any]) -> None:
    assert materialize(setup).success
    folder = setup["data_dir"] / "feeds"
    rows = query(
        setup,
        """SELECT variant_id, CAST(quantity AS VARCHAR), CAST(price AS VARCHAR), inventory_policy,
                                  listed FROM channel_listings WHERE channel = 'web'""",
    )
    expected = {r[0]: r for r in rows}
    with (folder / "web" / "listings.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    data = json.loads((folder / "web" / "listings.json").read_text())
    assert len(table) == len(data) == len(expected)
    for line, record in zip(table, data, strict=True):
        vid = int(line["variant_id"])
        assert record["variant_id"] == vid
        _, quantity, price, policy, listed = expected[vid]
        # Exact decimal strings, never floats; an untracked quantity / missing price is empty or null.
        assert record["quantity"] is None or isinstance(record["quantity"], str)
        assert (None if record["quantity"] is None else Decimal(record["quantity"])) == (
            None if quantity is None else Decimal(quantity)
        )
        assert (None if record["price"] is None else Decimal(record["price"])) == (
            None if price is None else Decimal(price)
        )
        assert line["quantity"] == (record["quantity"] or "") and line["inventory_policy"] == policy
        assert record["listed"] is listed
    market = json.loads((folder / "market" / "listings.json").read_text())
    assert {r["location_id"] for r in market} == {1, 2}
    assert len(market) == 2 * len(expected)
    assert not [p.name for p in folder.rglob(".*")]  # no temp files left behind


def test_a_channel_naming_an_unknown_location_fails_clearly(setup: dict[str, Any]) -> None:
    assert materialize(setup, dg.AssetSelection.groups("inventory")).success
    setup["channel_file"].write_text("channels:\n  - name: web\n    locations: [Warehouse 9]\n")
    with pytest.raises(
        ChannelConfigError, match="channel 'web': field 'locations' names unknown location 'Warehouse 9'"
    ):
        materialize(setup, dg.AssetSelection.groups("channels"))


def test_a_vanished_variant_is_taken_down_and_a_dropped_location_is_removed(setup: dict[str, Any]) -> None:
    account: Account = setup["account"]
    assert materialize(setup).success
    feeds = setup["data_dir"] / "feeds"
    variant = next(
        v
        for v in account.dump("variants")
        if v["status"] == "active" and v.get("sellable") and v.get("product_status") == "active"
    )
    account.http.post(
        "/_sandbox/activity/purge", json={"resource": "variants", "id": variant["id"]}
    ).raise_for_status()
    # Only a full refresh notices a hard delete; the row stays (with _vanished_at) and is taken down.
    full = dg.materialize(
        [extract, channels],
        selection=SELECTION,
        resources=setup["resources"],
        instance=setup["instance"],
        tags={"gecko_pipeline/sync_mode": "full"},
    )
    assert full.success
    assert query(
        setup,
        "SELECT DISTINCT listed, quantity, reason FROM channel_listings WHERE variant_id = $1",
        [variant["id"]],
    ) == [(False, 0, "not_sellable")]
    (change,) = [c for c in read_changes(feeds, "web")["changes"] if c["variant_id"] == variant["id"]]
    assert change["change"] == "updated" and change["listed"] is False and change["quantity"] == "0"

    # The marketplace stops selling from the primary location: its location rows leave the feed.
    setup["channel_file"].write_text(CHANNEL_FILE.replace("[Warehouse 2, Primary Location]", "[Warehouse 2]"))
    assert materialize(setup, dg.AssetSelection.groups("channels")).success
    market = read_changes(feeds, "market")["changes"]
    removed = [c for c in market if c["change"] == "removed"]
    assert removed and {c["location_id"] for c in removed} == {1}
    assert (
        len(removed) == query(setup, "SELECT count(*) FROM channel_listings WHERE channel = 'market'")[0][0]
    )
    assert query(setup, "SELECT DISTINCT location_id FROM channel_stock_levels WHERE channel = 'market'") == [
        (2,)
    ]


def test_changes_are_repeated_when_the_fed_state_was_not_saved(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state is saved after the changes files: dying before that repeats the changes, never skips them."""
    account: Account = setup["account"]
    assert materialize(setup).success
    channels = load_channels(setup["channel_file"])
    feeds = setup["data_dir"] / "feeds"
    variant = next(
        v
        for v in account.dump("variants")
        if v["status"] == "active"
        and v.get("manage_stock")
        and v.get("sellable")
        and v.get("product_status") == "active"
        and v.get("max_online") is None
        and on_hand_at(v, 1)[0] - on_hand_at(v, 1)[1] > 10
    )
    account.stock_move(variant["id"], 1, Decimal("-4"))
    handle = setup["handle"]
    with (
        GeckoClient(handle.url, token=handle.token) as client,
        duckdb.connect(str(setup["data_dir"] / "warehouse.duckdb")) as con,
    ):
        refresh_ids(client, con, "variants", [variant["id"]])
        compute_channel_stock(con, channels, variant_ids=[variant["id"]])
        # As if the process died after writing the files, before saving what it fed.
        with monkeypatch.context() as dying:
            dying.setattr(feeds_module, "_save", _die)
            with pytest.raises(RuntimeError, match="killed"):
                write_feeds(con, channels, feeds)
        first = read_changes(feeds, "web")
        write_feeds(con, channels, feeds)
        again = read_changes(feeds, "web")
        write_feeds(con, channels, feeds)
        settled = read_changes(feeds, "web")
    assert [c["variant_id"] for c in first["changes"]] == [variant["id"]]
    assert again["changes"] == first["changes"]
    assert settled["changes"] == []


def _die(*args: Any) -> None:
    raise RuntimeError("killed")
