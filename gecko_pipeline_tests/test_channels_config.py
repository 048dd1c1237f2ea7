"""The channel file: parsing, defaults, and errors that name the channel and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from gecko_pipeline.channels.config import (
    DEFAULT_CHANNELS_FILE,
    ChannelConfigError,
    load_channels,
    parse_channels,
    resolve_channels,
)
from gecko_pipeline.config import load_settings
from gecko_pipeline.defs.resources import build_resources
from gecko_pipeline.warehouse.catalog import ensure_schema


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A warehouse with the account's reference data as the extract stores it (real schema)."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(con)
    con.execute(
        "INSERT INTO account (id, default_order_price_list_id, primary_location_id) VALUES (1, 'wholesale', 2)"
    )
    con.execute("INSERT INTO currencies (id, iso, status) VALUES (1, 'NZD', 'active'), (2, 'USD', 'active')")
    for row in [
        (1, "Auckland", True, "active"),
        (2, "Wellington", True, "active"),
        (3, "Office", False, "active"),
        (4, "Old Shed", True, "archived"),
        (5, "Christchurch", True, "active"),
    ]:
        con.execute(
            "INSERT INTO locations (id, label, holds_stock, status) VALUES ($1, $2, $3, $4)", list(row)
        )
    for row in [
        ("buy", "BUY", 1, "NZD"),
        ("wholesale", "WHOLE", 1, "NZD"),
        ("retail", "RETAIL", 1, "NZD"),
        ("1", "RETAIL - US", 2, "USD"),
        ("2", "VIP", 1, None),
    ]:
        con.execute(
            "INSERT INTO price_lists (id, code, currency_id, currency_iso) VALUES ($1, $2, $3, $4)", list(row)
        )
    yield con
    con.close()


def test_the_packaged_default_has_two_demo_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GECKO_CHANNELS_FILE", raising=False)
    channels = load_channels()
    assert [c.name for c in channels] == ["webstore", "marketplace"]
    webstore, marketplace = channels
    assert (
        webstore.price_list == "retail"
        and webstore.safety_buffer == Decimal("2")
        and not webstore.per_location
    )
    assert webstore.locations is None  # every stock location
    assert marketplace.per_location and marketplace.locations == ("Warehouse 2", "Primary Location")
    assert marketplace.order_secret_env == "GECKO_CHANNEL_MARKETPLACE_SECRET"


def test_the_file_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("channels:\n  - name: shop\n    safety_buffer: 2.5\n    order_tags: [a, b]\n")
    settings = load_settings({"GECKO_CHANNELS_FILE": str(path)})
    resource = build_resources(settings)["channel_config"]
    (shop,) = resource.load()
    # 2.5 in YAML is a float; it must arrive as the exact decimal the merchant wrote.
    assert shop.safety_buffer == Decimal("2.5") and shop.order_tags == ("a", "b")
    assert shop.price_list is None and shop.stock_location is None
    assert load_channels(DEFAULT_CHANNELS_FILE)[0].name == "webstore"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"channel": []}, "top-level 'channels:' list"),
        ({"channels": [{"name": "Web Store"}]}, "field 'name'"),
        ({"channels": [{"name": "a"}, {"name": "a"}]}, "'a' is used twice"),
        ({"channels": [{"name": "a", "buffer": 2}]}, "channel 'a': unknown field(s) 'buffer'"),
        (
            {"channels": [{"name": "a", "safety_buffer": "lots"}]},
            "channel 'a': field 'safety_buffer' must be a number",
        ),
        ({"channels": [{"name": "a", "safety_buffer": -1}]}, "field 'safety_buffer' must be zero or more"),
        ({"channels": [{"name": "a", "per_location": "yes"}]}, "channel 'a': field 'per_location'"),
        ({"channels": [{"name": "a", "locations": "Auckland"}]}, "channel 'a': field 'locations'"),
        ({"channels": [{"name": "a", "locations": [1, "1"]}]}, "names a location twice"),
        ({"channels": [{"name": "a", "currency": "usd"}]}, "field 'currency'"),
        (
            {"channels": [{"name": "a", "order_secret_env": "s3cr3t value"}]},
            "NAME of an environment variable",
        ),
        ({"channels": [{"name": "a", "order_tags": "x"}]}, "field 'order_tags'"),
    ],
)
def test_shape_errors_name_the_channel_and_field(document: object, expected: str) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        parse_channels(document, source="test.yaml")
    assert expected in str(caught.value)
    assert "test.yaml" in str(caught.value)


def test_a_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("channels: [name: {")
    with pytest.raises(ChannelConfigError, match="not valid YAML"):
        load_channels(path)
    with pytest.raises(ChannelConfigError, match="cannot be read"):
        load_channels(tmp_path / "missing.yaml")


def test_defaults_resolve_against_the_account(warehouse: duckdb.DuckDBPyConnection) -> None:
    (shop,) = resolve_channels(warehouse, parse_channels({"channels": [{"name": "shop"}]}))
    # Active locations that hold stock, the account's primary location first, then by id.
    assert shop.location_ids == (2, 1, 5)
    assert shop.stock_location_id == 2
    assert shop.price_list_id == "wholesale" and shop.currency == "NZD"


def test_labels_codes_and_ids_resolve(warehouse: duckdb.DuckDBPyConnection) -> None:
    document = {
        "channels": [
            {
                "name": "us",
                "locations": ["christchurch", 1],
                "price_list": "RETAIL - US",
                "currency": "USD",
                "stock_location": "Auckland",
            },
            {"name": "vip", "locations": ["3"], "price_list": 2},
        ]
    }
    us, vip = resolve_channels(warehouse, parse_channels(document))
    assert us.location_ids == (5, 1) and us.price_list_id == "1" and us.stock_location_id == 1
    assert vip.location_ids == (3,) and vip.price_list_id == "2"
    assert vip.currency == "NZD"  # from the currency when the price list does not say


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        (
            {"name": "a", "locations": ["Dunedin"]},
            "channel 'a': field 'locations' names unknown location 'Dunedin'",
        ),
        ({"name": "a", "locations": [99]}, "unknown location 99"),
        ({"name": "a", "locations": ["Old Shed"]}, "names archived location 'Old Shed'"),
        (
            {"name": "a", "stock_location": "Nowhere"},
            "field 'stock_location' names unknown location 'Nowhere'",
        ),
        (
            {"name": "a", "price_list": "gold"},
            "channel 'a': field 'price_list' names unknown price list 'gold'",
        ),
        (
            {"name": "a", "price_list": "retail", "currency": "USD"},
            "field 'currency' is USD but price list 'retail' is in NZD",
        ),
        ({"name": "a", "locations": [1, "Auckland"]}, "names the same location twice"),
    ],
)
def test_unknown_locations_and_price_lists_are_named(
    warehouse: duckdb.DuckDBPyConnection, channel: dict, expected: str
) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        resolve_channels(warehouse, parse_channels({"channels": [channel]}))
    assert expected in str(caught.value)


def test_an_unknown_account_default_price_list_is_named(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute("UPDATE account SET default_order_price_list_id = 'gone'")
    with pytest.raises(
        ChannelConfigError, match=r"'price_list \(account default\)' names unknown price list 'gone'"
    ):
        resolve_channels(warehouse, parse_channels({"channels": [{"name": "a"}]}))


def test_a_location_a_full_refresh_no_longer_finds_counts_as_archived(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    warehouse.execute("UPDATE locations SET _vanished_at = now() WHERE id = 5")
    (shop,) = resolve_channels(warehouse, parse_channels({"channels": [{"name": "shop"}]}))
    assert shop.location_ids == (2, 1)
    with pytest.raises(ChannelConfigError, match="names archived location 'Christchurch'"):
        resolve_channels(
            warehouse, parse_channels({"channels": [{"name": "a", "locations": ["Christchurch"]}]})
        )
