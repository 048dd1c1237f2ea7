"""Companies and addresses: validation and creation, shared by their own endpoints and by orders that
embed a new company or address."""

from __future__ import annotations

from typing import Any

from gecko_sandbox import domain, records
from gecko_sandbox.store import Record, Store
from gecko_sandbox.validate import Errors, as_text, permitted

COMPANY_TYPES = ("business", "consumer", "supplier")
COMPANY_STATUSES = ("active", "disabled", "archived")
COMPANY_FIELDS = frozenset(
    {
        "name",
        "company_type",
        "company_code",
        "email",
        "description",
        "phone_number",
        "fax",
        "website",
        "tax_number",
        "status",
        "default_price_list_id",
        "default_discount_rate",
        "assignee_id",
        "default_ledger_account_id",
        "default_payment_method_id",
        "default_payment_term_id",
        "default_stock_location_id",
        "default_tax_type_id",
        "tags",
    }
)
ADDRESS_FIELDS = frozenset(
    {
        "address1",
        "address2",
        "suburb",
        "city",
        "state",
        "zip_code",
        "country",
        "country_code",
        "label",
        "company_name",
        "first_name",
        "last_name",
        "phone_number",
        "email",
    }
)
COUNTRY_CODES = {
    "new zealand": "NZ",
    "australia": "AU",
    "singapore": "SG",
    "united states": "US",
    "united states of america": "US",
    "united kingdom": "GB",
    "canada": "CA",
    "germany": "DE",
    "france": "FR",
}


def check_price_list(
    store: Store, errors: Errors, data: dict[str, Any], field: str, prefix: str = ""
) -> None:
    value = data.get(field)
    if value not in (None, "") and store.table("price_lists").lookup(str(value)) is None:
        errors.add(f"{prefix}{field}", "does not exist")


def company_errors(
    store: Store, errors: Errors, data: dict[str, Any], prefix: str = "", *, creating: bool
) -> None:
    if creating:
        errors.required(data, "name", f"{prefix}name")
        errors.required(data, "company_type", f"{prefix}company_type")
    errors.one_of(data, "company_type", COMPANY_TYPES, f"{prefix}company_type")
    errors.one_of(data, "status", COMPANY_STATUSES, f"{prefix}status")
    check_price_list(store, errors, data, "default_price_list_id", prefix)
    errors.decimal(data, "default_discount_rate", f"{prefix}default_discount_rate")


def company_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = permitted(data, COMPANY_FIELDS)
    if "default_price_list_id" in fields:
        fields["default_price_list_id"] = as_text(fields["default_price_list_id"])
        fields["default_price_type_id"] = fields["default_price_list_id"]
    if "default_discount_rate" in fields:
        fields["default_discount_rate"] = as_text(fields["default_discount_rate"])
    return fields


def create_company(store: Store, data: dict[str, Any]) -> Record:
    """Create a company from validated data; fires company.create."""
    table = store.table("companies")
    return domain.insert(store, "companies", records.company_record(table.next_id, **company_fields(data)))


def address_errors(errors: Errors, data: dict[str, Any], prefix: str = "") -> None:
    errors.required(data, "address1", f"{prefix}address1")


def create_address(store: Store, company: Record, data: dict[str, Any]) -> Record:
    """Create an address of `company` from validated data; fires address.create."""
    fields = permitted(data, ADDRESS_FIELDS)
    if not fields.get("country_code") and fields.get("country"):
        fields["country_code"] = COUNTRY_CODES.get(str(fields["country"]).strip().lower())
    table = store.table("addresses")
    address = domain.insert(
        store, "addresses", records.address_record(table.next_id, company["id"], **fields)
    )
    company["address_ids"].append(address["id"])
    domain.touch(store, "companies", company)
    return address
