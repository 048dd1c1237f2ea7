"""Deterministic merchant data from (scale, seed): the same account every time, any size.

Plain loops over integers and shared strings keep 100,000 variants and 200,000 orders to seconds.
Stock is consistent by construction: committed at a location is the sum of the unshipped quantities
of the active/finalized orders that ship from it, on hand is seeded per location, and every total is
derived by stock.recompute.
"""

from __future__ import annotations

import functools
import gc
import random
from collections import defaultdict
from decimal import Decimal

from gecko_sandbox import catalogue, records, stock
from gecko_sandbox.clock import date_only, iso_ms
from gecko_sandbox.config import SandboxConfig
from gecko_sandbox.resources import build_tables
from gecko_sandbox.store import Record, Store

YEAR_MS = 365 * 24 * 3600 * 1000
ACCOUNT_CURRENCY = 1
TAX_RATE_PERCENT = 15

BRANDS = ["Gecko", "Kea", "Tui", "Weka", None]
TYPES = ["Candy", "Apparel", "Homeware", "Stationery", "Outdoor"]
NOUNS = ["Gobstopper", "Tee", "Mug", "Notebook", "Tent", "Scarf", "Lamp", "Bottle", "Cap", "Sock"]
COLOURS = ["Red", "Blue", "Green", "Black", "White", "Peach", "Teal"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
CITIES = ["Auckland", "Wellington", "Christchurch", "Singapore", "Sydney", "Melbourne"]
CARRIERS = ["GeckoShip", "NZ Post", "DHL"]
# Every account, however small, has orders in every status and both kinds of return.
FORCED_ORDER_STATUS = {
    1: "draft",
    2: "active",
    3: "fulfilled",
    4: "finalized",
    5: "void",
    6: "deleted",
    13: "fulfilled",
}


@functools.lru_cache(maxsize=65536)
def money(cents: int) -> str:
    """Wire money with the precision variety real data has: "12.0", "12.5", "12.55". Cached: the same
    string object serves every record with that price (less memory, faster seeding)."""
    whole, frac = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    if frac == 0:
        return f"{sign}{whole}.0"
    if frac % 10 == 0:
        return f"{sign}{whole}.{frac // 10}"
    return f"{sign}{whole}.{frac:02d}"


class Seeder:
    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.rng = random.Random(config.seed)
        self.now_ms = store.clock.started_ms
        self.start_ms = self.now_ms - YEAR_MS

    # --- helpers ---------------------------------------------------------------------------------
    def stamps(self, n: int) -> list[tuple[int, int]]:
        """n (created, updated) epoch-ms pairs, created rising with the index, all before startup."""
        rng = self.rng
        span = YEAR_MS - 60_000
        out = []
        for i in range(n):
            created = self.start_ms + int((i + rng.random()) * span / max(n, 1))
            updated = created + int(rng.random() * rng.random() * (self.now_ms - 60_000 - created))
            out.append((created, updated))
        return out

    def add(self, table: str, record: Record) -> Record:
        return self.store.table(table).add(record)

    # --- the account -----------------------------------------------------------------------------
    def run(self) -> None:
        build_tables(self.store)
        self.seed_reference_data()
        self.seed_catalogue()
        self.seed_customers()
        self.seed_orders()
        for variant in self.store.table("variants").records.values():
            stock.recompute(variant)
        self.seed_product_quantities()

    def seed_reference_data(self) -> None:
        created = iso_ms(self.start_ms - 86_400_000)
        n_loc = max(1, self.config.location_count)
        self.location_ids = list(range(1, n_loc + 1))
        # Roles: 1 is primary; with 3 or more, the second-last holds no stock and the last is archived.
        self.non_holding = n_loc - 1 if n_loc >= 3 else None
        self.archived_location = n_loc if n_loc >= 3 else None
        self.holding = [i for i in self.location_ids if i not in (self.non_holding, self.archived_location)]
        for i in self.location_ids:
            self.add(
                "locations",
                {
                    "id": i,
                    "created_at": created,
                    "updated_at": created,
                    "label": "Primary Location" if i == 1 else f"Warehouse {i}",
                    "address1": f"{10 + i} Tennyson St",
                    "address2": "",
                    "suburb": "Mt Eden",
                    "city": CITIES[i % len(CITIES)],
                    "state": None,
                    "zip_code": f"10{i:02d}",
                    "country": "NZ",
                    "holds_stock": i != self.non_holding,
                    "status": "archived" if i == self.archived_location else "active",
                },
            )
        for cid, iso, name, rate, symbol, status in (
            (1, "NZD", "New Zealand Dollar", "1.0", "$", "active"),
            (2, "USD", "US Dollar", "0.61234", "US$", "active"),
            (3, "AUD", "Australian Dollar", "0.91", "A$", "archived"),
        ):
            self.add(
                "currencies",
                {
                    "id": cid,
                    "created_at": created,
                    "updated_at": created,
                    "iso": iso,
                    "name": name,
                    "rate": rate,
                    "symbol": symbol,
                    "separator": ".",
                    "delimiter": ",",
                    "precision": 2,
                    "format": "%u%n",
                    "status": status,
                    "subunit": 100,
                },
            )
        for pid, code, name, is_cost, currency, is_default, position in (
            ("buy", "BUY", "Buy", True, 1, True, None),
            ("wholesale", "WHOLE", "Wholesale", False, 1, True, None),
            ("retail", "RETAIL", "Retail", False, 1, True, None),
            (1, "RETAIL - US", "United States", False, 2, None, 1),
            (2, "VIP", "VIP customers", False, 1, None, 2),
        ):
            currency_row = self.store.table("currencies").records[currency]
            record: Record = {
                "id": pid,
                "code": code,
                "name": name,
                "is_cost": is_cost,
                "currency_id": currency,
                "currency_symbol": currency_row["symbol"],
                "currency_iso": currency_row["iso"],
                "is_default": is_default,
                "created_at": created,
                "updated_at": created,
            }
            if position is not None:
                record["position"] = position
            self.add("price_lists", record)
        self.store.table("price_lists").next_id = 3
        components = [
            (1, 1, 1, "GST", "15.0", False),
            (2, 3, 1, "GST", "15.0", False),
            (3, 3, 2, "Levy", "2.5", True),
        ]
        for tid, code, name, rate, status, comp_ids in (
            (1, "GST", "GST on sales", "15.0", "active", [1]),
            (2, "EXEMPT", "Tax Exempt", "0.0", "active", []),
            (3, "GSTLEVY", "GST plus levy", "17.875", "active", [2, 3]),
            (4, "OLD", "Old rate", "12.5", "archived", []),
        ):
            self.add(
                "tax_types",
                {
                    "id": tid,
                    "created_at": created,
                    "updated_at": created,
                    "code": code,
                    "imported_from": None,
                    "name": name,
                    "status": status,
                    "quickbooks_online_id": None,
                    "xero_online_id": None,
                    "effective_rate": rate,
                    "tax_component_ids": comp_ids,
                },
            )
        for cid, tid, position, label, rate, compound in components:
            self.add(
                "tax_components",
                {
                    "id": cid,
                    "tax_type_id": tid,
                    "position": position,
                    "label": label,
                    "rate": rate,
                    "compound": compound,
                },
            )
        self.add(
            "accounts",
            {
                "id": 1,
                "created_at": created,
                "updated_at": created,
                "name": "Gecko Sandbox Traders",
                "country": "NZ",
                "contact_email": "ops@sandbox.example",
                "contact_phone": "+64 9 555 0100",
                "contact_mobile": None,
                "industry": "Retail",
                "website": "https://sandbox.example",
                "tax_label": "GST",
                "tax_number": "123-456-789",
                "tax_number_label": "GST number",
                "time_zone": "Pacific/Auckland",
                "default_order_price_list_id": "wholesale",
                "default_purchase_order_price_list_id": "buy",
                "default_sales_ledger_account_on": "variant",
                "default_tax_treatment": "exclusive",
                "stock_level_warn": True,
                "primary_location_id": 1,
                "primary_billing_location_id": 1,
                "default_currency_id": ACCOUNT_CURRENCY,
                "default_payment_method_id": 1,
                "default_payment_term_id": 1,
                "billing_contact_id": 1,
                "default_sales_order_tax_type_id": 1,
                "default_purchase_order_tax_type_id": 1,
                "default_tax_exempt_id": 2,
                "default_tax_type_id": 1,
                "location_ids": [i for i in self.location_ids if i != self.archived_location],
                "user_ids": [1],
                "default_order_price_type_id": "wholesale",
                "default_purchase_order_price_type_id": "buy",
                "default_tax_type": "exclusive",
                "default_tax_rate": "15.0",
                "logo_url": None,
            },
        )

    # --- catalogue -------------------------------------------------------------------------------
    def product_sizes(self) -> list[int]:
        rng, remaining, sizes = self.rng, self.config.scale, []
        if remaining >= 60:
            sizes.append(55)  # the awkward one: a product with 50+ variants
            remaining -= 55
        while remaining > 0:
            k = min(rng.choice((1, 1, 2, 3, 4, 4, 5, 6, 8, 10)), remaining)
            sizes.append(k)
            remaining -= k
        return sizes

    def seed_catalogue(self) -> None:
        rng = self.rng
        sizes = self.product_sizes()
        product_stamps = self.stamps(len(sizes))
        variant_id = 0
        self.sellable_variants: list[int] = []
        self.variant_cents: dict[int, int] = {}
        for index, size in enumerate(sizes):
            pid = index + 1
            created, updated = product_stamps[index]
            roll = rng.random()
            status = "archived" if roll < 0.04 else "disabled" if roll < 0.09 else "active"
            if len(sizes) >= 3 and index >= len(sizes) - 2:  # every account has both, whatever its size
                status = "archived" if index == len(sizes) - 1 else "disabled"
            ptype = TYPES[pid % len(TYPES)]
            name = f"{COLOURS[pid % len(COLOURS)]} {NOUNS[pid % len(NOUNS)]} {pid}"
            ids = list(range(variant_id + 1, variant_id + size + 1))
            tags = None if pid % 3 == 0 else ("summer,sale" if pid % 3 == 1 else "core")
            product = self.add(
                "products",
                catalogue.product_record(
                    pid,
                    name,
                    created_at=iso_ms(created),
                    updated_at=iso_ms(updated),
                    brand=BRANDS[pid % len(BRANDS)],
                    description=f"{name}, seeded by the sandbox.",
                    opt1="Size" if size > 1 else None,
                    opt2="Colour" if size > 6 else None,
                    product_type=ptype,
                    status=status,
                    tags=tags,
                    variant_ids=ids,
                ),
            )
            for position, vid in enumerate(ids, start=1):
                v_created = created + position * 1000
                v_updated = max(v_created, updated - rng.randint(0, 3_600_000))
                self.seed_variant(vid, product, position, v_created, v_updated)
            variant_id += size

    def seed_variant(self, vid: int, product: Record, position: int, created: int, updated: int) -> None:
        rng = self.rng
        pid, pname, pstatus = product["id"], product["name"], product["status"]
        r = rng.random()
        archived = pstatus == "archived" or r < 0.03
        sellable = not (0.03 <= r < 0.06)
        manage_stock = not (0.06 <= r < 0.09)
        keep_selling = 0.09 <= r < 0.14
        max_online = str(rng.randint(1, 20)) if 0.14 <= r < 0.19 else None
        # Small accounts get each awkward case at least once, on variants 2-6.
        archived = archived or vid == 2
        sellable = sellable and vid != 3
        manage_stock = manage_stock and vid != 4
        keep_selling = keep_selling or vid == 5
        max_online = "3" if vid == 6 else max_online
        wholesale = rng.randint(150, 20000)
        self.variant_cents[vid] = wholesale
        buy, retail, us = wholesale // 2, wholesale * 9 // 5, wholesale * 11 // 10
        wholesale_s: str | None = money(wholesale)
        retail_s: str | None = money(retail)
        if vid % 53 == 0:
            retail_s = None  # a null price
        prices_list: list[Record] = [
            {"price_list_id": "buy", "value": money(buy)},
            {"price_list_id": "wholesale", "value": wholesale_s},
            {"price_list_id": "retail", "value": retail_s},
        ]
        if vid % 97 == 0:
            prices_list.pop(1)  # a missing list
            wholesale_s = None
        if vid % 10 < 7:
            prices_list.append({"price_list_id": "1", "value": None if vid % 41 == 0 else money(us)})
        if vid % 10 < 3:
            prices_list.append({"price_list_id": "2", "value": money(wholesale * 4 // 5)})
        locations = []
        for loc in self.location_ids:
            if loc == self.non_holding:
                continue
            present = (
                rng.random() < 0.9
                if loc == 1
                else rng.random() < 0.12
                if loc == self.archived_location
                else rng.random() < 0.6
            )
            if not present:
                continue
            if loc == self.archived_location:
                on_hand = "0"
            else:
                q = rng.random()
                if q < 0.02 or (vid == 7 and loc == 1):
                    on_hand = f"-{rng.randint(1, 12)}"
                elif q < 0.04:
                    on_hand = f"{rng.randint(0, 40)}.5"
                elif q < 0.12:
                    on_hand = "0"
                else:
                    on_hand = str(rng.randint(1, 150))
                if vid % 2 and "." not in on_hand:
                    on_hand += ".0"  # "10" and "10.0" both occur in real responses
            locations.append(stock.location_entry(loc, on_hand, None if vid % 2 else "0"))
        sku = None if vid % 101 == 0 else f"GK-{pid:05d}-{position:02d}"
        if vid % 499 == 0 and vid > 1:
            sku = f"GK-{pid:05d}-{max(position - 1, 1):02d}"  # SKUs are not unique
        option = SIZES[(position - 1) % len(SIZES)]
        self.add(
            "variants",
            catalogue.variant_record(
                vid,
                product,
                created_at=iso_ms(created),
                updated_at=iso_ms(updated),
                buy_price=money(buy),
                country_of_origin="NZ",
                composite=None if vid % 2 else False,
                keep_selling=keep_selling,
                last_cost_price=money(buy),
                manage_stock=manage_stock,
                max_online=max_online,
                moving_average_cost=money(buy),
                name=f"{pname} {option}",
                online_ordering=sellable,
                opt1=option,
                opt2=COLOURS[position % len(COLOURS)] if position > 6 else None,
                position=position,
                retail_price=retail_s,
                sellable=sellable,
                sku=sku,
                status="archived" if archived else "active",
                taxable=vid % 17 != 0,
                wholesale_price=wholesale_s,
                variant_prices=prices_list,
                locations=locations,
            ),
        )
        if sellable and not archived and pstatus != "archived":
            self.sellable_variants.append(vid)

    def seed_product_quantities(self) -> None:
        variants = self.store.table("variants").records
        for product in self.store.table("products").records.values():
            total = sum((stock.dec(variants[v]["stock_on_hand"]) for v in product["variant_ids"]), Decimal(0))
            product["quantity"] = stock.fmt(total)

    # --- customers -------------------------------------------------------------------------------
    def seed_customers(self) -> None:
        rng = self.rng
        n = max(3, self.config.scale // 5)
        stamps = self.stamps(n)
        address_id = 0
        self.customers: list[tuple[int, int, int]] = []  # (company, shipping, billing)
        for index in range(n):
            cid = index + 1
            created, updated = stamps[index]
            r = rng.random()
            ctype = "supplier" if r < 0.1 else "consumer" if r < 0.4 else "business"
            s = rng.random()
            status = "archived" if s < 0.03 else "disabled" if s < 0.08 else "active"
            name = f"{'Supplier' if ctype == 'supplier' else 'Customer'} {cid}"
            addresses = [address_id + 1] + ([address_id + 2] if cid % 2 == 0 else [])
            for position, aid in enumerate(addresses):
                self.add(
                    "addresses",
                    records.address_record(
                        aid,
                        cid,
                        created_at=iso_ms(created + position),
                        updated_at=iso_ms(updated),
                        address1=f"{cid} Queen St",
                        address2="",
                        city=CITIES[cid % len(CITIES)],
                        company_name=name,
                        country="New Zealand",
                        country_code="NZ",
                        email=f"orders{cid}@example.com" if position == 0 else "",
                        label="Shipping" if position == 0 else "Billing",
                        phone_number="",
                        state="",
                        status="archived" if aid % 37 == 0 and position else "active",
                        suburb="",
                        zip_code=f"{1000 + cid % 9000}",
                    ),
                )
            address_id += len(addresses)
            price_list = (None, "retail", "wholesale", "1", None, None)[cid % 6]
            self.add(
                "companies",
                records.company_record(
                    cid,
                    created_at=iso_ms(created),
                    updated_at=iso_ms(updated),
                    assignee_id=1,
                    company_code=f"C{cid:05d}" if cid % 2 else None,
                    company_type=ctype,
                    default_discount_rate=None if cid % 4 else "5.0",
                    default_price_list_id=price_list,
                    description="",
                    email=f"buyer{cid}@example.com" if cid % 10 < 7 else None,
                    name=name,
                    status=status,
                    tags=["wholesale"] if ctype == "business" else [],
                    address_ids=addresses,
                    default_price_type_id=price_list,
                ),
            )
            if ctype != "supplier":
                self.customers.append((cid, addresses[0], addresses[-1]))

    # --- orders and what follows them ------------------------------------------------------------
    def seed_orders(self) -> None:
        rng = self.rng
        n = self.config.order_count
        if not self.sellable_variants or not self.customers:
            return
        stamps = self.stamps(n)
        self.committed: dict[tuple[int, int], int] = defaultdict(int)
        self.ids = dict.fromkeys(("line", "ful", "ful_line", "ret", "ret_line", "inv", "inv_line", "pay"), 0)
        statuses = (
            ("draft",) * 10
            + ("active",) * 25
            + ("finalized",) * 20
            + ("fulfilled",) * 30
            + ("void",) * 10
            + ("deleted",) * 5
        )
        sellable = self.sellable_variants
        holding = self.holding
        ids = self.ids
        for index in range(n):
            oid = index + 1
            created, updated = stamps[index]
            created_s, updated_s = iso_ms(created), iso_ms(updated)
            status = FORCED_ORDER_STATUS.get(oid) or statuses[int(rng.random() * 100)]
            company, shipping, billing = self.customers[int(rng.random() * len(self.customers))]
            location = 1 if rng.random() < 0.7 or len(holding) == 1 else holding[rng.randrange(len(holding))]
            lines: list[Record] = []
            total_cents = 0
            for position in range((1, 1, 2, 2, 3, 3, 4, 5)[int(rng.random() * 8)]):
                ids["line"] += 1
                vid = sellable[int(rng.random() * len(sellable))]
                qty = 1 + int(rng.random() * 5)
                price = self.variant_cents[vid]
                total_cents += qty * price
                lines.append(
                    records.line_record(
                        ids["line"],
                        oid,
                        created_at=created_s,
                        updated_at=updated_s,
                        variant_id=vid,
                        line_type="product",
                        position=position,
                        price=money(price),
                        quantity=f"{qty}.0",
                    )
                )
            if oid % 5 < 2:
                ids["line"] += 1
                total_cents += 995
                lines.append(
                    records.line_record(
                        ids["line"],
                        oid,
                        created_at=created_s,
                        updated_at=updated_s,
                        freeform=True,
                        label="Shipping - Courier",
                        line_type="shipping",
                        position=len(lines),
                        price="9.95",
                        quantity="1.0",
                        shippable=False,
                    )
                )
            total_cents += total_cents * TAX_RATE_PERCENT // 100
            order = records.order_record(
                oid,
                created_at=created_s,
                updated_at=updated_s,
                billing_address_id=billing,
                company_id=company,
                currency_id=ACCOUNT_CURRENCY,
                shipping_address_id=shipping,
                stock_location_id=location,
                email=f"buyer{company}@example.com",
                issued_at=date_only(created),
                status=status,
                reference_number=f"WEB-{100000 + oid}" if oid % 3 == 0 else ("" if oid % 3 == 1 else None),
                total=money(total_cents),
                tags=["web"] if oid % 4 == 0 else [],
                order_line_item_ids=[line["id"] for line in lines],
            )
            product_lines = [line for line in lines if not line["freeform"]]
            self.seed_shipments(order, product_lines, rng, updated)
            if status == "fulfilled" and oid % 10 == 3:
                self.seed_return(order, product_lines[0], received=oid % 20 == 3)
            if (status == "fulfilled" and oid % 10 < 7) or (status == "finalized" and oid % 10 < 3):
                self.seed_invoice(order, lines, total_cents, paid=status == "fulfilled", when=updated)
            for line in lines:
                self.add("order_line_items", line)
            self.add("orders", order)
        variants = self.store.table("variants").records
        for (vid, location), qty in self.committed.items():
            entry = stock.entry_for(variants[vid], location)
            entry["committed"] = f"{qty}.0"

    def seed_shipments(
        self, order: Record, product_lines: list[Record], rng: random.Random, when: int
    ) -> None:
        """Fulfillments by status; the unshipped rest of active/finalized orders is committed."""
        status, oid = order["status"], order["id"]
        stamp = order["updated_at"]
        variants = self.store.table("variants").records
        plan: list[tuple[str, list[Record]]] = []
        if status == "fulfilled":
            plan.append(("fulfilled", product_lines))
        elif status in ("active", "finalized"):
            r = {2: 0.1, 4: 0.3}.get(oid) or rng.random()  # order 2 partly shipped, order 4 packed
            if r < 0.2:
                plan.append(("fulfilled", product_lines[:1]))
            elif status == "finalized" and r < 0.5:
                plan.append(("packed", product_lines))
        shipped: dict[int, int] = {}
        ids = self.ids
        for ful_status, ful_lines in plan:
            ids["ful"] += 1
            fid = ids["ful"]
            order["fulfillment_ids"].append(fid)
            line_ids = []
            for pos, line in enumerate(ful_lines):
                ids["ful_line"] += 1
                line_ids.append(ids["ful_line"])
                line["fulfillment_line_item_ids"].append(ids["ful_line"])
                if ful_status == "fulfilled":
                    shipped[line["id"]] = int(float(line["quantity"]))
                self.add(
                    "fulfillment_line_items",
                    records.fulfillment_line_record(
                        ids["ful_line"],
                        fid,
                        line,
                        variants[line["variant_id"]]["sku"],
                        created_at=stamp,
                        updated_at=stamp,
                        position=pos,
                    ),
                )
            shipped_now = ful_status == "fulfilled"
            self.add(
                "fulfillments",
                records.fulfillment_record(
                    fid,
                    order,
                    created_at=stamp,
                    updated_at=stamp,
                    delivery_type="Courier",
                    packed_at=date_only(when),
                    shipped_at=stamp if shipped_now else None,
                    status=ful_status,
                    tracking_company=CARRIERS[fid % 3] if shipped_now else None,
                    tracking_number=f"TRK{fid:08d}" if shipped_now else None,
                    fulfillment_line_item_ids=line_ids,
                ),
            )
        if plan:
            full = len(plan[0][1]) == len(product_lines)
            order["packed_status"] = "packed" if full else "partial"
            if plan[0][0] == "fulfilled":
                order["fulfillment_status"] = "shipped" if full else "partial"
        if status in ("active", "finalized"):
            for line in product_lines:
                unshipped = int(float(line["quantity"])) - shipped.get(line["id"], 0)
                if unshipped:
                    self.committed[(line["variant_id"], order["stock_location_id"])] += unshipped

    def seed_return(self, order: Record, line: Record, received: bool) -> None:
        ids, stamp = self.ids, order["updated_at"]
        ids["ret"] += 1
        ids["ret_line"] += 1
        rid = ids["ret"]
        order["fulfillment_return_ids"].append(rid)
        line["fulfillment_return_line_item_ids"].append(ids["ret_line"])
        self.add(
            "fulfillment_return_line_items",
            records.return_line_record(
                ids["ret_line"],
                rid,
                line,
                created_at=stamp,
                updated_at=stamp,
            ),
        )
        self.add(
            "fulfillment_returns",
            records.return_record(
                rid,
                order,
                created_at=stamp,
                updated_at=stamp,
                received_at=stamp if received else None,
                status="received" if received else "returning",
                fulfillment_return_line_item_ids=[ids["ret_line"]],
            ),
        )
        if received:
            order["return_status"] = "partial"
        else:
            order["returning_status"] = "partial"

    def seed_invoice(
        self, order: Record, lines: list[Record], total_cents: int, paid: bool, when: int
    ) -> None:
        ids, stamp = self.ids, order["updated_at"]
        ids["inv"] += 1
        inv = ids["inv"]
        order["invoice_ids"].append(inv)
        order["invoices"].append(inv)
        order["invoice_numbers"][str(inv)] = f"INV{inv:05d}"
        inv_lines = []
        for pos, line in enumerate(lines):
            ids["inv_line"] += 1
            inv_lines.append(ids["inv_line"])
            line["invoice_line_item_ids"].append(ids["inv_line"])
            self.add(
                "invoice_line_items",
                records.invoice_line_record(
                    ids["inv_line"],
                    inv,
                    line,
                    created_at=stamp,
                    updated_at=stamp,
                    position=pos,
                ),
            )
        payments = []
        if paid:
            ids["pay"] += 1
            payments.append(ids["pay"])
            order["payment_ids"].append(ids["pay"])
            self.add(
                "payments",
                records.payment_record(
                    ids["pay"],
                    inv,
                    money(total_cents),
                    created_at=stamp,
                    updated_at=stamp,
                    paid_at=stamp,
                ),
            )
        self.add(
            "invoices",
            records.invoice_record(
                inv,
                order,
                created_at=stamp,
                updated_at=stamp,
                invoiced_at=date_only(when),
                payment_status="paid" if paid else "unpaid",
                invoice_line_item_ids=inv_lines,
                payment_ids=payments,
            ),
        )
        order["invoice_status"] = "invoiced"
        order["payment_status"] = "paid" if paid else "unpaid"


def seed_store(config: SandboxConfig, store: Store) -> Store:
    # Millions of small containers: the cyclic GC would rescan them over and over while they are built
    # (3x slower at 100k variants). None of them forms a cycle; freeze them out of later collections.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        Seeder(config, store).run()
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    return store
