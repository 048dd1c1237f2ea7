"""Maps a canonical channel order onto the API's sales order, answering every lookup locally.

The catalogue (SKU -> variant, customers, addresses, currencies) comes from the warehouse's published
copy (published.duckdb, never locked by a writer) plus what the ledger learned from orders created
since the last sync, so the normal path spends no API request on lookups: a new customer is embedded
in the order (`company` + `shipping_address`), an existing one is referenced by id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from gecko_pipeline.orders import ledger
from gecko_pipeline.orders.model import IDENTITY_FIELDS, Address, ChannelOrder, Customer

# Every order created by the pipeline carries this tag, beside the channel's own.
PIPELINE_TAG = "gecko-pipeline"


@dataclass(frozen=True)
class ChannelTarget:
    """What the push needs to know about a channel (from its resolved config)."""

    name: str
    price_list_id: str
    stock_location_id: int
    tags: tuple[str, ...] = ()
    create_missing_currencies: bool = False  # else an order in a currency the account lacks waits


class CatalogMissing(RuntimeError):
    """No published copy of the warehouse yet: orders wait for the first catalog sync."""


class Catalog:
    """Read-only lookups in published.duckdb. The connection keeps its snapshot while publish swaps the
    file, so one run sees one consistent catalogue."""

    def __init__(self, published_path: Path) -> None:
        if not Path(published_path).exists():
            raise CatalogMissing(f"{published_path} does not exist yet (run a sync first)")
        self.path = Path(published_path)
        self.con = duckdb.connect(str(published_path), read_only=True)
        self._variants: dict[str, tuple[int, bool]] = {}
        self._currencies: set[str] | None = None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def variant_ids(self, skus: Iterable[str]) -> dict[str, int]:
        """SKU -> id of an active variant. SKUs are not unique in the API: a sellable variant wins over
        one that is not, then the lowest id, so the choice is stable."""
        return {sku: vid for sku, (vid, _) in self.variants(skus).items()}

    def variants(self, skus: Iterable[str]) -> dict[str, tuple[int, bool]]:
        """SKU -> (variant id, sellable) for the SKUs the catalogue knows as active variants."""
        skus = list(skus)
        wanted = sorted(set(skus) - set(self._variants))
        if wanted:
            rows = self.con.execute(
                "SELECT sku, arg_min(id, (NOT coalesce(sellable, true), id)), bool_or(coalesce(sellable, true)) "
                "FROM variants WHERE list_contains(?, sku) AND status = 'active' GROUP BY sku",
                [wanted],
            ).fetchall()
            self._variants.update({str(sku): (int(vid), bool(sellable)) for sku, vid, sellable in rows})
        return {sku: self._variants[sku] for sku in skus if sku in self._variants}

    def company_id(self, customer: Customer) -> int | None:
        """An existing customer by company code, else by e-mail (case-insensitive)."""
        if customer.company_code:
            row = self.con.execute(
                "SELECT min(id) FROM companies WHERE company_code = ? AND coalesce(status, '') <> 'archived'",
                [customer.company_code],
            ).fetchone()
            if row and row[0] is not None:
                return int(row[0])
        if customer.email:
            row = self.con.execute(
                "SELECT min(id) FROM companies WHERE lower(email) = ? AND coalesce(status, '') <> 'archived' "
                "AND coalesce(company_type, '') <> 'supplier'",
                [customer.email.lower()],
            ).fetchone()
            if row and row[0] is not None:
                return int(row[0])
        return None

    def address_id(self, company_id: int, address: Address) -> int | None:
        """An active address of the company identical to `address` (same fingerprint)."""
        columns = list(ADDRESS_COLUMNS)
        rows = self.con.execute(
            f"SELECT id, {', '.join(columns)} FROM addresses "  # noqa: S608 - fixed column names
            "WHERE company_id = ? AND coalesce(status, 'active') = 'active' ORDER BY id",
            [company_id],
        ).fetchall()
        want = address.fingerprint
        for row in rows:
            candidate = Address(
                tuple(
                    (name, str(v).strip())
                    for name, v in zip(columns, row[1:], strict=True)
                    if v is not None and str(v).strip()
                )
            )
            if candidate.fingerprint == want:
                return int(row[0])
        return None

    def has_currency(self, iso: str) -> bool:
        """Whether the account has the currency, active (the API matches currency_iso against those)."""
        if self._currencies is None:
            rows = self.con.execute(
                "SELECT iso FROM currencies WHERE coalesce(status, 'active') = 'active'"
            ).fetchall()
            self._currencies = {str(r[0]).upper() for r in rows if r[0]}
        return iso.upper() in self._currencies


# The warehouse columns that decide whether two addresses are the same place.
ADDRESS_COLUMNS = IDENTITY_FIELDS


@dataclass
class MappedOrder:
    """The POST /orders body plus what to learn from the answer."""

    body: dict[str, Any]
    company_keys: list[str] = field(default_factory=list)  # learned keys for a new company
    company_id: int | None = None
    address_fingerprints: dict[str, str] = field(default_factory=dict)  # shipping/billing -> fingerprint
    currency_missing: bool = False


class UnknownSkus(LookupError):
    def __init__(self, skus: list[str]) -> None:
        self.skus = skus
        super().__init__(", ".join(repr(s) for s in skus))


class NotSellable(LookupError):
    """The SKU's variant is marked not sellable: the API refuses it on a sales order."""

    def __init__(self, skus: list[str]) -> None:
        self.skus = skus
        super().__init__(", ".join(repr(s) for s in skus))


def company_keys(customer: Customer) -> list[str]:
    keys = []
    if customer.company_code:
        keys.append(f"code:{customer.company_code}")
    if customer.email:
        keys.append(f"email:{customer.email.lower()}")
    return keys


def find_company(con: sqlite3.Connection, catalog: Catalog, customer: Customer) -> int | None:
    for key in company_keys(customer):  # what orders since the last sync created
        known = ledger.learned(con, "company", key)
        if known is not None:
            return known
    return catalog.company_id(customer)


def find_address(con: sqlite3.Connection, catalog: Catalog, company_id: int, address: Address) -> int | None:
    known = ledger.learned(con, "address", f"{company_id}|{address.fingerprint}")
    return known if known is not None else catalog.address_id(company_id, address)


def _text(value: Decimal) -> str:
    return format(value, "f")  # plain notation (str() writes 1E-7): the API never gets an exponent


def map_order(
    order: ChannelOrder, target: ChannelTarget, catalog: Catalog, con: sqlite3.Connection, reference: str
) -> MappedOrder:
    """Builds the sales order. Raises UnknownSkus when the catalogue lacks a SKU (the order waits)."""
    known = catalog.variants(line.sku for line in order.lines)
    missing = sorted({line.sku for line in order.lines} - set(known))
    if missing:
        raise UnknownSkus(missing)
    unsellable = sorted(sku for sku, (_, sellable) in known.items() if not sellable)
    if unsellable:
        raise NotSellable(unsellable)
    variants = {sku: vid for sku, (vid, _) in known.items()}

    mapped = MappedOrder(body={})
    body: dict[str, Any] = {
        "issued_at": order.placed_at.date().isoformat(),
        "status": "active",  # active: the stock is committed at the channel's stock location at once
        "reference_number": reference,
        "stock_location_id": target.stock_location_id,
        "default_price_list_id": target.price_list_id,
        "currency_iso": order.currency,
        "tags": _tags(order, target),
    }
    if order.notes:
        body["notes"] = order.notes
    # The order's e-mail defaults to its company's, which carries the customer's.
    if order.customer.phone_number:
        body["phone_number"] = order.customer.phone_number
    if order.source_url:
        body["source_url"] = order.source_url
    if order.tax_treatment:
        body["tax_treatment"] = order.tax_treatment

    company_id = find_company(con, catalog, order.customer)
    mapped.company_id = company_id
    if company_id is None:
        body["company"] = _company(order.customer)
        mapped.company_keys = company_keys(order.customer)
        body["shipping_address"] = _address_body(order.shipping_address, "Shipping")
        if order.billing_address.fingerprint != order.shipping_address.fingerprint:
            body["billing_address"] = _address_body(order.billing_address, "Billing")
    else:
        body["company_id"] = company_id
        for role, address in (("shipping", order.shipping_address), ("billing", order.billing_address)):
            if role == "billing" and address.fingerprint == order.shipping_address.fingerprint:
                if "shipping_address_id" in body:
                    body["billing_address_id"] = body["shipping_address_id"]
                # else: the API defaults the billing address to the new shipping address
                continue
            address_id = find_address(con, catalog, company_id, address)
            if address_id is not None:
                body[f"{role}_address_id"] = address_id
            else:
                body[f"{role}_address"] = _address_body(address, role.capitalize())
    mapped.address_fingerprints = {
        "shipping": order.shipping_address.fingerprint,
        "billing": order.billing_address.fingerprint,
    }

    body["order_line_items"] = line_items(order, variants)
    mapped.currency_missing = not (
        catalog.has_currency(order.currency) or ledger.learned(con, "currency", order.currency) is not None
    )
    mapped.body = {"order": body}
    return mapped


def line_items(order: ChannelOrder, variants: Mapping[str, int]) -> list[dict[str, Any]]:
    """The sales order's lines: one per channel line (variant, quantity, price, discount, tax rate),
    then freeform lines for shipping, fees and order discounts (a discount as a negative price)."""
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        item: dict[str, Any] = {
            "variant_id": variants[line.sku],
            "quantity": _text(line.quantity),
            "price": _text(line.unit_price),
        }
        if line.discount_percent is not None:
            item["discount"] = _text(line.discount_percent)
        if line.tax_rate is not None:
            item["tax_rate_override"] = _text(line.tax_rate)
        if line.title:
            item["label"] = line.title
        lines.append(item)
    for extra in order.extra_lines:
        price = -extra.amount if extra.kind == "discount" else extra.amount
        item = {
            "freeform": True,
            "line_type": extra.kind,
            "label": extra.label,
            "quantity": "1",
            "price": _text(price),
        }
        if extra.tax_rate is not None:
            item["tax_rate_override"] = _text(extra.tax_rate)
        lines.append(item)
    return lines


def _tags(order: ChannelOrder, target: ChannelTarget) -> list[str]:
    tags: list[str] = []
    for tag in (PIPELINE_TAG, f"channel:{order.channel}", *target.tags, *order.tags):
        if tag not in tags:
            tags.append(tag)
    return tags


def _company(customer: Customer) -> dict[str, Any]:
    company: dict[str, Any] = {"name": customer.display_name, "company_type": customer.type}
    if customer.email:
        company["email"] = customer.email
    if customer.company_code:
        company["company_code"] = customer.company_code
    if customer.phone_number:
        company["phone_number"] = customer.phone_number
    return company


def _address_body(address: Address, label: str) -> dict[str, Any]:
    values: dict[str, Any] = dict(address.as_dict())
    values.setdefault("label", label)
    if "country" not in values and "country_code" in values:
        values["country"] = values["country_code"].upper()
    return values


def learn_from_created(
    con: sqlite3.Connection, mapped: MappedOrder, created: Mapping[str, Any], currency: str
) -> None:
    """Remembers the ids the API gave a new customer, address and currency, so the next order of the
    same customer references them instead of creating duplicates before the next sync."""
    company_id = created.get("company_id")
    with_company = isinstance(company_id, int)
    for key in mapped.company_keys:
        if isinstance(company_id, int):
            ledger.learn(con, "company", key, company_id)
    if with_company:
        for role in ("shipping", "billing"):
            address_id = created.get(f"{role}_address_id")
            fingerprint = mapped.address_fingerprints.get(role)
            if isinstance(address_id, int) and fingerprint:
                ledger.learn(con, "address", f"{company_id}|{fingerprint}", address_id)
    currency_id = created.get("currency_id")
    if mapped.currency_missing and isinstance(currency_id, int):
        ledger.learn(con, "currency", currency, currency_id)
