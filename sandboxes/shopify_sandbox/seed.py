"""Deterministic shop data from (scale, seed): locations, products with options and variants, stock,
customers and orders in every state. The same every run.

SKUs follow the inventory API sandbox's pattern `GK-{product:05d}-{position:02d}` for product numbers
1..k and positions from 1, so most of them exist on both sides; every 50th variant has a store-only SKU
(`SHOP-{n:06d}`) and every 97th none (README: "Seeded data").
"""

from __future__ import annotations

import gc
import random
from decimal import Decimal
from typing import Any

from shopify_sandbox import orders
from shopify_sandbox.records import (
    QUANTITY_NAMES,
    Location,
    OptionValue,
    Product,
    ProductOption,
    Shop,
    Variant,
)
from shopify_sandbox.store import Store

YEAR = 365 * 86400
NOUNS = ["Gobstopper", "Tee", "Mug", "Notebook", "Tent", "Scarf", "Lamp", "Bottle", "Cap", "Sock"]
COLOURS = ["Red", "Blue", "Green", "Black", "White", "Peach", "Teal"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
TYPES = ["Candy", "Apparel", "Homeware", "Stationery", "Outdoor"]
VENDORS = ["Gecko", "Kea", "Tui", "Weka"]
PLACES = [
    ("Main warehouse", "1 Gecko Way", "Newark", "New Jersey", "NJ", "07102"),
    ("Retail store", "200 Broadway", "New York", "New York", "NY", "10007"),
    ("Overflow", "9 Dock Road", "Albany", "New York", "NY", "12207"),
    ("West depot", "55 Pier St", "Oakland", "California", "CA", "94607"),
]
FIRST = ["Ana", "Bob", "Chen", "Dee", "Eli", "Fay", "Gus", "Hana"]
LAST = ["Norman", "Okafor", "Park", "Quinn", "Reyes", "Silva"]
# Product sizes drawn as the inventory API sandbox draws its own, so product numbers span the same range.
SIZE_CHOICES = (1, 1, 2, 3, 4, 4, 5, 6, 8, 10)


def _price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(300, 20000)) / 100


class Seeder:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.config = store.config
        self.rng = random.Random(self.config.seed)
        self.now = store.started
        self.start = self.now - YEAR

    def run(self) -> None:
        # Hundreds of thousands of small long-lived records: the cyclic collector would rescan the
        # growing heap again and again while they are made (seeding takes twice as long with it on).
        gc.disable()
        try:
            self.seed_shop()
            self.seed_locations()
            self.seed_catalogue()
            self.seed_orders()
        finally:
            self.store.frozen = None
            gc.enable()

    def seed_shop(self) -> None:
        store = self.store
        store.shop = Shop(
            id=store.next_id("Shop"),
            name="Gecko Sandbox Store",
            domain=self.config.shop_domain,
            email="owner@gecko-sandbox.example",
            currency=self.config.shop_currency,
            timezone=self.config.shop_timezone,
            created_at=self.start - YEAR,
            updated_at=self.start,
        )

    def seed_locations(self) -> None:
        count = max(1, self.config.locations)
        for i in range(count):
            name, street, city, province, code, zip_code = PLACES[i % len(PLACES)]
            location = Location(
                id=self.store.next_id("Location"),
                name=name if i < len(PLACES) else f"{name} {i + 1}",
                address1=street,
                city=city,
                province=province,
                province_code=code,
                zip=zip_code,
                country="United States",
                country_code="US",
                is_active=not (count >= 3 and i == count - 1),  # the last of three or more is deactivated
                fulfills_online_orders=i == 0 or i % 2 == 1,
                created_at=self.start - YEAR + i * 86400,
                updated_at=self.start + i * 86400,
            )
            self.store.locations[location.id] = location

    def seed_catalogue(self) -> None:
        store, rng = self.store, self.rng
        active_locations = [loc.id for loc in store.locations.values() if loc.is_active]
        remaining = self.config.scale
        pid = 0
        variant_number = 0
        while remaining > 0:
            pid += 1
            size = min(rng.choice(SIZE_CHOICES), remaining)
            remaining -= size
            created = self.start + int(
                (self.config.scale - remaining) / max(1, self.config.scale) * (YEAR - 7200)
            )
            updated = min(self.now - 60, created + int(rng.random() * rng.random() * (self.now - created)))
            roll = rng.random()
            status = "ARCHIVED" if roll < 0.04 else "DRAFT" if roll < 0.10 else "ACTIVE"
            noun = NOUNS[pid % len(NOUNS)]
            title = f"{COLOURS[pid % len(COLOURS)]} {noun} {pid}"
            options: list[ProductOption] = []
            combos: list[tuple[str, ...]] = [()]  # no options: the one "Default Title" variant
            if size > 1:
                sizes = SIZES[: min(size, len(SIZES))] if size <= 3 else SIZES[: (size + 1) // 2]
                colours = COLOURS[:2] if size > 3 else []
                options.append(
                    ProductOption(
                        store.next_id("ProductOption"),
                        "Size",
                        1,
                        [OptionValue(store.next_id("ProductOptionValue"), s) for s in sizes],
                    )
                )
                if colours:
                    options.append(
                        ProductOption(
                            store.next_id("ProductOption"),
                            "Color",
                            2,
                            [OptionValue(store.next_id("ProductOptionValue"), c) for c in colours],
                        )
                    )
                    combos = [(s, c) for s in sizes for c in colours][:size]  # type: ignore[assignment]
                else:
                    combos = [(s,) for s in sizes]
            product = Product(
                id=store.next_id("Product"),
                title=title,
                handle=f"{title.lower().replace(' ', '-')}",
                status=status,
                vendor=VENDORS[pid % len(VENDORS)],
                product_type=TYPES[pid % len(TYPES)],
                tags=(["summer", "sale"] if pid % 3 == 1 else ["core"] if pid % 3 == 2 else []),
                description_html=f"<p>{title}, seeded by the sandbox.</p>",
                options=options,
                variant_ids=[],
                created_at=created,
                updated_at=updated,
                published_at=created if status == "ACTIVE" else None,
            )
            store.products[product.id] = product
            base_price = _price(rng)
            for position, combo in enumerate(combos, start=1):
                variant_number += 1
                self.seed_variant(product, pid, position, combo, variant_number, base_price, active_locations)

    def seed_variant(
        self,
        product: Product,
        pid: int,
        position: int,
        combo: tuple[str, ...],
        n: int,
        base_price: Decimal,
        locations: list[int],
    ) -> None:
        store, rng = self.store, self.rng
        sku: str | None = f"GK-{pid:05d}-{position:02d}"
        if n % 97 == 0:
            sku = None  # some variants have no SKU
        elif n % 50 == 0:
            sku = f"SHOP-{n:06d}"  # store-only SKUs: the inventory system does not know them
        levels: dict[int, list[int]] = {}
        for index, location_id in enumerate(locations):
            if rng.random() < (0.92 if index == 0 else 0.55):
                quantities = [0] * len(QUANTITY_NAMES)
                q = rng.random()
                quantities[0] = -rng.randint(1, 5) if q < 0.02 else 0 if q < 0.12 else rng.randint(1, 120)
                if rng.random() < 0.05:
                    quantities[3] = rng.randint(1, 3)  # damaged
                if rng.random() < 0.05:
                    quantities[2] = rng.randint(5, 50)  # incoming
                levels[location_id] = quantities
        variant = Variant(
            id=store.next_id("ProductVariant"),
            product_id=product.id,
            item_id=store.next_id("InventoryItem"),
            sku=sku,
            barcode=f"{4006381333931 + n}" if n % 3 == 0 else None,
            price=base_price + Decimal(position - 1),
            compare_at_price=(base_price + Decimal(10)) if n % 5 == 0 else None,
            position=position,
            options=combo,
            inventory_policy="CONTINUE" if n % 20 == 0 else "DENY",
            taxable=n % 17 != 0,
            tracked=n % 33 != 0,
            requires_shipping=n % 41 != 0,
            weight=Decimal(rng.randint(50, 3000)) / 1000,
            weight_unit="KILOGRAMS",
            cost=(base_price * Decimal("0.45")).quantize(Decimal("0.01")),
            created_at=product.created_at + position,
            updated_at=max(product.created_at + position, product.updated_at - rng.randint(0, 3600)),
            item_updated_at=product.updated_at,
            levels=levels,
        )
        variant.level_updated = dict.fromkeys(levels, variant.item_updated_at)
        store.variants[variant.id] = variant
        store.items[variant.item_id] = variant.id
        product.variant_ids.append(variant.id)

    def seed_orders(self) -> None:
        store, rng = self.store, self.rng
        sellable = [v.id for v in store.variants.values() if store.products[v.product_id].status == "ACTIVE"]
        if not sellable:
            return
        count = self.config.order_count
        states = [
            "pending",
            "paid",
            "paid",
            "fulfilled",
            "fulfilled",
            "partial",
            "authorized",
            "partially_paid",
            "cancelled",
            "refunded",
        ]
        primary = store.primary_location().id
        for i in range(count):
            moment = self.start + YEAR // 2 + int(i / max(1, count) * (YEAR // 2 - 7200))
            store.frozen = moment
            state = states[i % len(states)]
            customer = (
                None
                if i % 7 == 6
                else {
                    "email": f"customer{i % max(1, count // 3)}@example.com",
                    "first_name": FIRST[i % len(FIRST)],
                    "last_name": LAST[i % len(LAST)],
                }
            )
            address = {
                "first_name": FIRST[i % len(FIRST)],
                "last_name": LAST[i % len(LAST)],
                "address1": f"{i + 1} Main St",
                "city": "Boston",
                "province": "Massachusetts",
                "province_code": "MA",
                "zip": "02108",
                "country": "United States",
                "country_code": "US",
            }
            lines: list[dict[str, Any]] = [
                {"variant_id": rng.choice(sellable), "quantity": rng.choice((1, 1, 2, 3))}
                for _ in range(rng.choice((1, 1, 2, 3, 4)))
            ]
            if i % 20 == 19:
                lines.append(
                    {
                        "title": "Gift wrapping",
                        "price": "4.50",
                        "quantity": 1,
                        "requires_shipping": False,
                        "taxable": False,
                    }
                )
            spec: dict[str, Any] = {
                "line_items": lines,
                "customer": customer,
                "company": {"name": f"Wholesale Co {i % 5}", "location": "Head office"}
                if i % 20 == 7
                else None,
                "shipping_address": address,
                "tax_lines": [{"title": "State Tax", "rate": "0.0625"}]
                + ([{"title": "City Tax", "rate": "0.01"}] if i % 4 == 0 else []),
                "taxes_included": i % 5 == 4,
                "shipping_lines": [
                    {
                        "title": "Standard",
                        "code": "STANDARD",
                        "price": "6.95",
                        "tax_lines": [{"title": "State Tax", "rate": "0.0625"}],
                    }
                ]
                if i % 3
                else [],
                "discounts": [{"code": "WELCOME10", "value_type": "percentage", "value": "10"}]
                if i % 6 == 2
                else [],
                "presentment_currency": "EUR" if i % 10 == 3 else None,
                "exchange_rate": "0.92",
                "location_id": primary,
                "financial_status": {
                    "pending": "pending",
                    "authorized": "authorized",
                    "partially_paid": "partially_paid",
                }.get(state, "paid"),
                "test": i % 50 == 49,
            }
            order = orders.place_order(store, spec)
            store.frozen = moment + 3600
            if state in ("fulfilled", "partial", "refunded") and order.fulfillment_order_ids:
                if state == "partial":
                    first = store.fulfillment_orders[order.fulfillment_order_ids[0]].lines[0]
                    orders.fulfil_order(
                        store,
                        order,
                        {
                            "line_items": [{"line_item_id": first.line_item_id, "quantity": 1}],
                            "tracking": {"number": f"1Z{i:08d}", "company": "UPS"},
                        },
                    )
                else:
                    orders.fulfil_order(
                        store,
                        order,
                        {
                            "tracking": {
                                "number": f"1Z{i:08d}",
                                "company": "UPS",
                                "url": f"https://ups.example/track/1Z{i:08d}",
                            }
                        },
                    )
            if state == "cancelled":
                orders.cancel(store, order, "customer", restock=True, refund_money=True)
            if state == "refunded":
                store.frozen = moment + 7200
                line = order.line_items[0]
                orders.refund(
                    store,
                    order,
                    {
                        "line_items": [{"line_item_id": line.id, "quantity": 1, "restock": True}],
                        "note": "damaged in transit",
                    },
                )
