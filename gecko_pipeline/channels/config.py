"""The channel file: what each sales channel lists, from which locations, at which prices.

A merchant edits it without code (YAML; path from GECKO_CHANNELS_FILE, else the packaged
`default_channels.yaml`). `load_channels` checks the file's shape; `resolve_channels` checks it against
the warehouse (locations and price lists must exist) and turns labels and codes into ids. Every error
names the file, the channel and the field, so a merchant can fix it without reading code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import yaml

DEFAULT_CHANNELS_FILE = Path(__file__).with_name("default_channels.yaml")

# A channel's name is also its feed folder and part of order keys: keep it to safe characters.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")

KNOWN_FIELDS = {
    "name",
    "description",
    "locations",
    "price_list",
    "safety_buffer",
    "per_location",
    "currency",
    "order_secret_env",
    "stock_location",
    "order_tags",
    "create_missing_currencies",
    "kind",
}
# A store channel (`kind: shopify`) also takes these; see docs/channels.md and docs/shopify.md.
SHOPIFY_FIELDS = {
    "shop",
    "access_token_env",
    "app_secret_env",
    "api_version",
    "use_presentment_currency",
    "admin_url",
    "publish_new_products",
}
KNOWN_FIELDS |= SHOPIFY_FIELDS
# `feed`: the pipeline writes feeds a store importer reads (every channel before store adapters).
# `shopify`: a Shopify store, connected by its Admin API and webhooks (gecko_pipeline/stores/shopify).
CHANNEL_KINDS = ("feed", "shopify")
# The newest stable Admin API version the stored shopify.dev docs cover (and the sandbox's default).
DEFAULT_SHOPIFY_API_VERSION = "2026-10"
SHOP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$")
API_VERSION_PATTERN = re.compile(r"^(?:20[0-9]{2}-(?:01|04|07|10)|unstable)$")
SHOPIFY_LOCATION_GID = re.compile(r"^gid://shopify/Location/([0-9]{1,20})$")


class ChannelConfigError(ValueError):
    """The channel file is wrong; the message names the channel and the field."""


LocationRef = int | str


@dataclass(frozen=True)
class ShopifyChannel:
    """What a `kind: shopify` channel adds: the shop, the NAMES of the variables holding its secrets (the
    caller reads the values), the Admin API version, and which inventory location each Shopify location
    is (in priority order; the inventory locations are also the channel's `locations`)."""

    shop: str  # the myshopify domain, e.g. acme.myshopify.com
    access_token_env: str  # NAME of the variable holding the Admin API access token
    app_secret_env: str  # NAME of the variable holding the app's client secret (signs webhooks)
    api_version: str = DEFAULT_SHOPIFY_API_VERSION
    locations: tuple[tuple[str, LocationRef], ...] = ()  # (Shopify location GID, inventory location)
    use_presentment_currency: bool = False  # True: orders in the customer's currency, not the shop's
    # Where the Admin API answers; None: https://<shop>. Set for a local Shopify sandbox or a proxy.
    admin_url: str | None = None
    # True: new inventory products and variants are created in the store (stores/shopify/product_publish.py).
    publish_new_products: bool = False

    def inventory_location(self, shopify_location: str | int | None) -> LocationRef | None:
        """The inventory location a Shopify location (GID or number) is mapped to, if any."""
        gid = shopify_location_gid(shopify_location)
        return next((ref for key, ref in self.locations if key == gid), None)


def shopify_location_gid(value: Any) -> str | None:
    """A Shopify location as its GID (`gid://shopify/Location/N`), from a GID or a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return f"gid://shopify/Location/{value}"
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and int(text) > 0:
            return f"gid://shopify/Location/{int(text)}"
        if SHOPIFY_LOCATION_GID.match(text):
            return text
    return None


@dataclass(frozen=True)
class ChannelConfig:
    """One channel as written in the file (labels and codes not yet checked against the account)."""

    name: str
    locations: tuple[LocationRef, ...] | None = None  # None: every active location that holds stock
    price_list: str | None = None  # None: the account's default_order_price_list_id
    safety_buffer: Decimal = Decimal("0")
    per_location: bool = False
    currency: str | None = None  # optional check against the price list's currency
    order_secret_env: str | None = None  # the NAME of the variable holding the intake secret
    stock_location: LocationRef | None = None  # None: the first of `locations`
    order_tags: tuple[str, ...] = ()
    description: str | None = None
    create_missing_currencies: bool = False  # may its orders add a currency to the account?
    kind: str = "feed"  # one of CHANNEL_KINDS
    shopify: ShopifyChannel | None = None  # set exactly when kind is shopify


@dataclass(frozen=True)
class ResolvedChannel:
    """A channel checked against the warehouse: location ids in priority order, a price-list id."""

    config: ChannelConfig
    location_ids: tuple[int, ...]
    price_list_id: str
    currency: str | None
    stock_location_id: int
    location_labels: Mapping[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def safety_buffer(self) -> Decimal:
        return self.config.safety_buffer

    @property
    def per_location(self) -> bool:
        return self.config.per_location


def channels_file_path(path: Path | None = None) -> Path:
    return Path(path) if path is not None else DEFAULT_CHANNELS_FILE


def load_channels(path: Path | None = None) -> list[ChannelConfig]:
    """Reads and checks the channel file (None: the packaged default; GECKO_CHANNELS_FILE reaches here
    through the settings)."""
    source = channels_file_path(path)
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChannelConfigError(f"channel file {source}: cannot be read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ChannelConfigError(f"channel file {source}: not valid YAML ({exc})") from exc
    return parse_channels(document, source=str(source))


def parse_channels(document: Any, source: str = "<channels>") -> list[ChannelConfig]:
    if not isinstance(document, Mapping) or not isinstance(document.get("channels"), list):
        raise ChannelConfigError(f"channel file {source}: expected a top-level 'channels:' list")
    entries = document["channels"]
    if not entries:
        raise ChannelConfigError(f"channel file {source}: 'channels' is empty")
    channels = [_parse_channel(entry, index, source) for index, entry in enumerate(entries, start=1)]
    seen: set[str] = set()
    for channel in channels:
        if channel.name in seen:
            raise ChannelConfigError(f"channel file {source}: channel name {channel.name!r} is used twice")
        seen.add(channel.name)
    return channels


def _parse_channel(entry: Any, index: int, source: str) -> ChannelConfig:
    where = f"channel file {source}, channel #{index}"
    if not isinstance(entry, Mapping):
        raise ChannelConfigError(f"{where}: expected a mapping of fields")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ChannelConfigError(
            f"{where}: field 'name' must be lower-case letters, digits, '-' or '_' (got {name!r})"
        )
    where = f"channel file {source}, channel {name!r}"
    unknown = sorted(set(entry) - KNOWN_FIELDS)
    if unknown:
        raise ChannelConfigError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")

    def fail(field_name: str, problem: str) -> ChannelConfigError:
        return ChannelConfigError(f"{where}: field '{field_name}' {problem}")

    kind = entry.get("kind", "feed")
    if kind not in CHANNEL_KINDS:
        raise fail("kind", f"must be one of {', '.join(CHANNEL_KINDS)} (got {kind!r})")
    shopify = None
    locations = entry.get("locations")
    if kind == "shopify":
        shopify = _parse_shopify(entry, fail)
        # The inventory locations of the mapping, in its order, are the channel's locations.
        locations = [ref for _, ref in shopify.locations] or None
    else:
        misplaced = sorted(SHOPIFY_FIELDS & set(entry))
        if misplaced:
            raise fail(misplaced[0], f"is only for channels of kind: shopify (this one is kind: {kind})")
    if locations is not None:
        if not isinstance(locations, list) or not all(_is_location_ref(x) for x in locations):
            raise fail("locations", f"must be a list of location ids or labels (got {locations!r})")
        if not locations:
            locations = None  # an empty list means the default, as an omitted one does
        elif len(set(map(str, locations))) != len(locations):
            raise fail("locations", f"names a location twice ({locations!r})")
    stock_location = entry.get("stock_location")
    if stock_location is not None and not _is_location_ref(stock_location):
        raise fail("stock_location", f"must be a location id or label (got {stock_location!r})")

    price_list = entry.get("price_list")
    if price_list is not None:
        if isinstance(price_list, bool) or not isinstance(price_list, str | int):
            raise fail("price_list", f"must be a price list id or code (got {price_list!r})")
        price_list = str(price_list)

    buffer_value = entry.get("safety_buffer", 0)
    try:
        if isinstance(buffer_value, bool):
            raise InvalidOperation
        # str() first: a YAML float such as 2.5 becomes Decimal("2.5"), never a binary fraction.
        safety_buffer = Decimal(str(buffer_value))
    except (InvalidOperation, ValueError):
        raise fail("safety_buffer", f"must be a number (got {buffer_value!r})") from None
    if not safety_buffer.is_finite() or safety_buffer < 0:
        raise fail("safety_buffer", f"must be zero or more (got {buffer_value!r})")

    per_location = entry.get("per_location", False)
    if not isinstance(per_location, bool):
        raise fail("per_location", f"must be true or false (got {per_location!r})")

    currency = entry.get("currency")
    if currency is not None and (not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency)):
        raise fail("currency", f"must be a 3-letter ISO code such as USD (got {currency!r})")

    secret_env = entry.get("order_secret_env")
    if secret_env is not None and (not isinstance(secret_env, str) or not ENV_NAME_PATTERN.match(secret_env)):
        raise fail("order_secret_env", "must be the NAME of an environment variable, not the secret itself")

    tags = entry.get("order_tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise fail("order_tags", f"must be a list of words (got {tags!r})")

    create_currencies = entry.get("create_missing_currencies", False)
    if not isinstance(create_currencies, bool):
        raise fail("create_missing_currencies", f"must be true or false (got {create_currencies!r})")

    description = entry.get("description")
    if description is not None and not isinstance(description, str):
        raise fail("description", "must be text")

    return ChannelConfig(
        name=name,
        locations=tuple(locations) if locations else None,
        price_list=price_list,
        safety_buffer=safety_buffer,
        per_location=per_location,
        currency=currency,
        order_secret_env=secret_env,
        stock_location=stock_location,
        order_tags=tuple(tags),
        description=description,
        create_missing_currencies=create_currencies,
        kind=kind,
        shopify=shopify,
    )


def _parse_shopify(entry: Mapping[str, Any], fail: Any) -> ShopifyChannel:
    """The fields of a `kind: shopify` channel (errors through `fail(field, problem)`)."""
    shop = entry.get("shop")
    if not isinstance(shop, str) or not SHOP_PATTERN.match(shop.strip().lower()):
        raise fail("shop", f"must be the shop's myshopify domain, e.g. acme.myshopify.com (got {shop!r})")
    names = {}
    for field_name in ("access_token_env", "app_secret_env"):
        value = entry.get(field_name)
        if not isinstance(value, str) or not ENV_NAME_PATTERN.match(value):
            raise fail(field_name, "must be the NAME of an environment variable, not the secret itself")
        names[field_name] = value
    version = entry.get("api_version", DEFAULT_SHOPIFY_API_VERSION)
    if not isinstance(version, str) or not API_VERSION_PATTERN.match(version):
        raise fail("api_version", f"must be a Shopify API version such as 2026-10 (got {version!r})")
    presentment = entry.get("use_presentment_currency", False)
    if not isinstance(presentment, bool):
        raise fail("use_presentment_currency", f"must be true or false (got {presentment!r})")
    admin_url = entry.get("admin_url")
    if admin_url is not None and (
        not isinstance(admin_url, str)
        or not admin_url.startswith(("https://", "http://127.0.0.1", "http://localhost"))
    ):
        raise fail("admin_url", f"must be an https:// URL (or http:// on this machine) (got {admin_url!r})")
    publish = entry.get("publish_new_products", False)
    if not isinstance(publish, bool):
        raise fail("publish_new_products", f"must be true or false (got {publish!r})")
    mapping = entry.get("locations")
    pairs: list[tuple[str, LocationRef]] = []
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise fail(
                "locations",
                "must map Shopify location ids (numbers or gid://shopify/Location/N) to inventory "
                f"locations (ids or labels), e.g. {{12345: Primary Location}} (got {mapping!r})",
            )
        for key, ref in mapping.items():
            gid = shopify_location_gid(key)
            if gid is None:
                raise fail(
                    "locations",
                    f"key {key!r} is not a Shopify location id (a number or gid://shopify/Location/N)",
                )
            if not _is_location_ref(ref):
                raise fail("locations", f"maps {key!r} to {ref!r}, which is not a location id or label")
            if gid in (g for g, _ in pairs):
                raise fail("locations", f"names Shopify location {gid} twice")
            pairs.append((gid, ref))
    return ShopifyChannel(
        shop=shop.strip().lower(),
        access_token_env=names["access_token_env"],
        app_secret_env=names["app_secret_env"],
        api_version=version,
        locations=tuple(pairs),
        use_presentment_currency=presentment,
        admin_url=admin_url.rstrip("/") if admin_url else None,
        publish_new_products=publish,
    )


def _is_location_ref(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and bool(value)
    )


# --- checks against the warehouse -------------------------------------------------------------------


@dataclass(frozen=True)
class _Location:
    id: int
    label: str | None
    status: str | None
    holds_stock: bool | None


def resolve_channels(
    con: duckdb.DuckDBPyConnection, channels: Sequence[ChannelConfig]
) -> list[ResolvedChannel]:
    """Checks every channel against the warehouse and resolves labels, codes and defaults to ids.

    Raises ChannelConfigError naming the channel and the unknown location or price list.
    """
    # A location a full refresh no longer finds (`_vanished_at`) counts as archived.
    has_vanished = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'locations' AND column_name = '_vanished_at'"
    ).fetchone()
    status = (
        "CASE WHEN _vanished_at IS NOT NULL THEN 'archived' ELSE status END"
        if has_vanished and has_vanished[0]
        else "status"
    )
    locations = [
        _Location(int(r[0]), r[1], r[2], r[3])
        for r in con.execute(f"SELECT id, label, {status}, holds_stock FROM locations ORDER BY id").fetchall()  # noqa: S608
    ]
    account = con.execute(
        "SELECT default_order_price_list_id, primary_location_id FROM account ORDER BY id LIMIT 1"
    ).fetchone()
    if account is None:
        raise ChannelConfigError("the warehouse has no account row yet: run the extract before the channels")
    default_price_list, primary_location = account
    price_lists = {
        str(r[0]): (r[1], r[2])
        for r in con.execute(
            """SELECT CAST(p.id AS VARCHAR), p.code, coalesce(p.currency_iso, c.iso)
               FROM price_lists p LEFT JOIN currencies c ON c.id = p.currency_id"""
        ).fetchall()
    }
    return [
        _resolve(channel, locations, price_lists, default_price_list, primary_location)
        for channel in channels
    ]


def _resolve(
    channel: ChannelConfig,
    locations: list[_Location],
    price_lists: Mapping[str, tuple[str | None, str | None]],
    default_price_list: str | None,
    primary_location: int | None,
) -> ResolvedChannel:
    where = f"channel {channel.name!r}"
    labels = {loc.id: loc.label or str(loc.id) for loc in locations}

    def find_location(ref: LocationRef, field_name: str) -> _Location:
        matches = [loc for loc in locations if _location_matches(loc, ref)]
        active = [loc for loc in matches if loc.status != "archived"]
        if not matches:
            known = ", ".join(f"{loc.id} ({loc.label})" for loc in locations if loc.status != "archived")
            raise ChannelConfigError(
                f"{where}: field '{field_name}' names unknown location {ref!r}; known: {known}"
            )
        if not active:
            raise ChannelConfigError(f"{where}: field '{field_name}' names archived location {ref!r}")
        if len(active) > 1:
            raise ChannelConfigError(
                f"{where}: field '{field_name}': location {ref!r} is ambiguous; use its id"
            )
        return active[0]

    if channel.locations is None:
        chosen = [loc for loc in locations if loc.status == "active" and loc.holds_stock]
        # The account's primary location comes first; the rest by id, so the order is stable.
        chosen.sort(key=lambda loc: (loc.id != primary_location, loc.id))
        if not chosen:
            raise ChannelConfigError(f"{where}: the account has no active location that holds stock")
    else:
        chosen = [find_location(ref, "locations") for ref in channel.locations]
        if len({loc.id for loc in chosen}) != len(chosen):
            raise ChannelConfigError(f"{where}: field 'locations' names the same location twice")
    location_ids = tuple(loc.id for loc in chosen)

    if channel.stock_location is None:
        stock_location_id = location_ids[0]
    else:
        stock_location_id = find_location(channel.stock_location, "stock_location").id

    wanted = channel.price_list if channel.price_list is not None else default_price_list
    if wanted is None:
        raise ChannelConfigError(
            f"{where}: no 'price_list' and the account has no default_order_price_list_id; set one"
        )
    price_list_id = _find_price_list(wanted, price_lists)
    if price_list_id is None:
        field_name = "price_list" if channel.price_list is not None else "price_list (account default)"
        known = ", ".join(sorted(price_lists))
        raise ChannelConfigError(
            f"{where}: field '{field_name}' names unknown price list {wanted!r}; known: {known}"
        )
    currency = price_lists[price_list_id][1]
    if channel.currency is not None and currency is not None and channel.currency != currency:
        raise ChannelConfigError(
            f"{where}: field 'currency' is {channel.currency} but price list {price_list_id!r} is in {currency}"
        )
    return ResolvedChannel(
        config=channel,
        location_ids=location_ids,
        price_list_id=price_list_id,
        currency=currency,
        stock_location_id=stock_location_id,
        location_labels=labels,
    )


def _location_matches(location: _Location, ref: LocationRef) -> bool:
    if isinstance(ref, int):
        return location.id == ref
    if ref.isdigit() and location.id == int(ref):
        return True
    return (location.label or "").casefold() == ref.casefold()


def _find_price_list(wanted: str, price_lists: Mapping[str, tuple[str | None, str | None]]) -> str | None:
    if wanted in price_lists:
        return wanted
    by_code = [pid for pid, (code, _) in price_lists.items() if code and code.casefold() == wanted.casefold()]
    return by_code[0] if len(by_code) == 1 else None
