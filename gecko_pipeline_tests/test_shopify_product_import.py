"""Importing a Shopify store's catalogue into the inventory system, over HTTP against both sandboxes: every
store variant linked by SKU or created exactly once, the problems reported per item, a crash mid-way
resumed without duplicates. Both sandboxes' dumps and request stats are the ground truth."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from shopify_products_world import (
    inventory_dump,
    inventory_writes,
    reset_inventory_stats,
    run_import,
    store_products,
)
from shopify_stock_world import TOKEN_ENV, StockWorld, stock_world

from gecko_pipeline.stores.shopify.links import double_links
from gecko_pipeline.stores.shopify.product_import import (
    CREATE,
    CREATED,
    ImportHooks,
    ImportResult,
    ledger_counts,
)
from gecko_pipeline.tools.cli import main

pytestmark = pytest.mark.slow(30)


def store_truth(world: StockWorld) -> dict[str, dict[str, Any]]:
    """Store variant GID -> its REST shape plus its product's title and status."""
    found = {}
    for product in store_products(world):
        for variant in product["variants"]:
            found[f"gid://shopify/ProductVariant/{variant['id']}"] = {
                **variant,
                "product_title": product["title"],
                "product_status": product["status"],
            }
    return found


def expected_sku_links(world: StockWorld, store: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Store variant -> inventory variant, by the rules: a SKU once in the store, on exactly one active
    inventory variant (or one archived one and no active one)."""
    skus = Counter((v["sku"] or "").strip() for v in store.values() if (v["sku"] or "").strip())
    inventory: dict[str, list[tuple[int, bool]]] = {}
    for v in inventory_dump(world, "variants"):
        if (v.get("sku") or "").strip():
            inventory.setdefault(v["sku"].strip(), []).append((v["id"], v["status"] == "active"))
    links = {}
    for gid, v in store.items():
        sku = (v["sku"] or "").strip()
        if not sku or skus[sku] > 1 or sku not in inventory:
            continue
        active = [i for i, a in inventory[sku] if a]
        if len(active) == 1:
            links[gid] = active[0]
        elif not active and len(inventory[sku]) == 1:
            links[gid] = inventory[sku][0][0]
    return links


def link_rows(world: StockWorld) -> dict[str, tuple[int | None, str, str]]:
    return {
        str(s): (v, str(b), str(st))
        for s, v, b, st in world.query(
            "SELECT store_variant_id, variant_id, linked_by, status FROM channel_product_links WHERE channel = 'shop'"
        )
    }


def plan_counts(result: ImportResult) -> dict[str, Any]:
    return {
        "linked_by_sku": result.linked_by_sku,
        "products_to_create": result.products_to_create,
        "variants_to_create": result.variants_to_create,
        "problems": dict(result.problems),
    }


@pytest.mark.timeout(300)
def test_a_store_of_2000_variants_imports_each_once_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    with stock_world(tmp_path, scale=300, shop_scale=2000) as world:
        reset_inventory_stats(world)
        dry = run_import(world, dry_run=True)
        assert inventory_writes(world) == {}  # a dry run writes nothing
        assert world.query("SELECT count(*) FROM channel_product_links") == [(0,)]
        assert dry.store_variants == 2000 and dry.variants_created == 0 and dry.posts == 0
        planned = [i for i in dry.items if i.action == CREATE]
        assert len(planned) == dry.variants_to_create > 1000
        would_link = {i.store_variant_id: i.variant_id for i in dry.items if i.action == "linked_by_sku"}
        assert len(would_link) == dry.linked_by_sku

        store = store_truth(world)
        expected = expected_sku_links(world, store)  # from the account before anything is created
        result = run_import(world)
        # The dry run said exactly what the run did.
        assert plan_counts(result) == plan_counts(dry)
        assert result.variants_created == result.variants_to_create
        assert result.products_created == result.products_to_create
        writes = inventory_writes(world)
        assert writes == {
            "POST /products": result.products_created,
            "POST /variants": result.variants_created,
        }
        assert result.posts == result.products_created + result.variants_created  # the minimum: one each

        rows = link_rows(world)
        # Every store variant is accounted for once: linked by SKU, created, or a reported problem.
        assert result.linked_by_sku + result.variants_created + result.problem_total == 2000
        assert {s for s, (_, b, st) in rows.items() if b == "sku" and st == "linked"} == set(expected)
        assert all(rows[s][0] == v for s, v in expected.items())
        assert would_link == expected  # the dry run listed exactly these links
        created = {s: v for s, (v, b, st) in rows.items() if b == "created" and st == "linked"}
        assert len(created) == result.variants_created
        # What was created holds the store's data: name, SKU, barcode, options, price in the channel's list.
        inventory = {v["id"]: v for v in inventory_dump(world, "variants")}
        products = {p["id"]: p for p in inventory_dump(world, "products")}
        for gid, variant_id in created.items():
            mine, theirs = inventory[variant_id], store[gid]
            assert mine["sku"] == theirs["sku"].strip()
            assert mine["upc"] == theirs["barcode"]
            assert Decimal(mine["retail_price"]) == Decimal(theirs["price"])
            assert mine["keep_selling"] == (theirs["inventory_policy"] == "continue")
            product = products[mine["product_id"]]
            options = [o for o in (theirs.get("option1"), theirs.get("option2"), theirs.get("option3")) if o]
            assert [mine[f"opt{i}"] for i in range(1, len(options) + 1)] == options
            if mine["product_id"] > 75:  # a product the import created (the account's own are below)
                assert product["name"] == theirs["product_title"]
        # No SKU was created twice; nothing links two store variants to one inventory variant.
        skus = Counter(v["sku"] for v in inventory.values() if v["sku"])
        assert all(skus[store[s]["sku"].strip()] == 1 for s in created)
        with world.con() as con:
            assert double_links(con, "shop") == []
            assert ledger_counts(con, "shop") == {
                "product created": result.products_created,
                "variant created": result.variants_created,
                **({"variant refused": result.problems["refused"]} if result.problems["refused"] else {}),
            }
        # The problems are the store's own: no SKU, SKUs twice, archived store products.
        assert result.problems["no_sku"] == sum(1 for v in store.values() if not (v["sku"] or "").strip())
        assert result.problems["sku_duplicate_in_store"] >= 0 and result.problems["archived_in_store"] > 0

        # A second run changes nothing: no create, no write request at all.
        reset_inventory_stats(world)
        again = run_import(world)
        assert inventory_writes(world) == {}
        assert (again.posts, again.products_created, again.variants_created, again.lookups) == (0, 0, 0, 0)
        assert again.already_linked == result.variants_created
        assert link_rows(world) == rows


def test_a_crash_between_the_post_and_its_record_resumes_without_duplicates(tmp_path: Path) -> None:
    with stock_world(tmp_path, scale=100, shop_scale=120) as world:
        posted: list[tuple[str, str]] = []

        def crash(kind: str, store_id: str) -> None:
            posted.append((kind, store_id))
            if len(posted) == 4:
                raise RuntimeError("killed between the POST and its record")

        with pytest.raises(RuntimeError, match="killed"):
            run_import(world, hooks=ImportHooks(after_post=crash))
        lost_kind, lost_id = posted[-1]
        pending = {
            r[0] for r in world.query("SELECT store_id FROM shopify_import_ledger WHERE outcome IS NULL")
        }
        # The lost one's intent is there without an outcome (with the intents of its chunk not yet sent);
        # the creates answered before it are recorded.
        assert lost_id in pending and not pending & {s for _, s in posted[:-1]}

        reset_inventory_stats(world)
        result = run_import(world)
        # The lost answer was found by a look-up and not posted again; the others were looked up first.
        assert result.recovered == 1 and result.lookups == len(pending)
        writes = inventory_writes(world)
        assert writes.get("POST /products", 0) == result.products_created
        assert writes.get("POST /variants", 0) == result.variants_created
        inventory = inventory_dump(world, "variants")
        skus = Counter(v["sku"] for v in inventory if v["sku"] and v["sku"].startswith(("GK-", "SHOP-")))
        created = [s for s, (_, b, st) in link_rows(world).items() if b == "created"]
        assert created and all(n == 1 for n in skus.values())
        store = store_truth(world)
        assert all(skus[store[s]["sku"].strip()] == 1 for s in created)
        products = Counter(
            tag
            for p in inventory_dump(world, "products")
            for tag in (p.get("tags") or "").split(",")
            if tag.startswith("shopify:")
        )
        assert products and all(n == 1 for n in products.values())  # no store product imported twice
        assert (lost_kind, lost_id) in posted


def test_a_crash_after_a_product_post_finds_the_product_by_its_marker(tmp_path: Path) -> None:
    with stock_world(tmp_path, scale=100, shop_scale=40) as world:

        def crash(kind: str, store_id: str) -> None:
            if kind == "product":
                raise RuntimeError("killed after the product POST")

        with pytest.raises(RuntimeError):
            run_import(world, hooks=ImportHooks(after_post=crash))
        result = run_import(world)
        assert result.recovered == 1 and result.products_created == result.products_to_create - 1
        tags = Counter(
            t
            for p in inventory_dump(world, "products")
            for t in (p.get("tags") or "").split(",")
            if t.startswith("shopify:")
        )
        assert all(n == 1 for n in tags.values())


def test_each_problem_is_reported_per_item_and_the_rest_goes_on(tmp_path: Path) -> None:
    with stock_world(tmp_path, scale=100, shop_scale=40) as world:
        new = world.shop_http.post
        new(
            "/products", json={"title": "Plain mug", "variants": [{"sku": None, "price": "5.00"}]}
        ).raise_for_status()
        twice = {"title": "Twin", "options": [{"name": "Size", "values": ["S", "M"]}]}
        twice["variants"] = [
            {"options": ["S"], "sku": "TWIN-1", "price": "4.00"},
            {"options": ["M"], "sku": "TWIN-1", "price": "4.00"},
        ]
        new("/products", json=twice).raise_for_status()
        # The inventory system refuses a product without a name, and a price of 13 digits.
        new(
            "/products", json={"title": "   ", "variants": [{"sku": "BLANK-1", "price": "3.00"}]}
        ).raise_for_status()
        huge = {"title": "Gold bar", "options": [{"name": "Size", "values": ["1 kg", "1 g"]}]}
        huge["variants"] = [
            {"options": ["1 kg"], "sku": "GOLD-KG", "price": "10000000000000.00"},
            {"options": ["1 g"], "sku": "GOLD-G", "price": "70.00"},
        ]
        new("/products", json=huge).raise_for_status()

        result = run_import(world)
        problems = {(i.sku, i.action): i.detail for i in result.items if i.action not in (CREATE, CREATED)}
        assert problems[(None, "no_sku")] == "the store variant has no SKU"
        assert problems[("TWIN-1", "sku_duplicate_in_store")] == "SKU TWIN-1 is on 2 variants of the store"
        assert "name: can't be blank" in str(problems[("BLANK-1", "refused")])
        assert "retail_price" in str(problems[("GOLD-KG", "refused")])
        # The rest went on: the gold bar's other variant and every other store variant were created.
        created = {i.sku for i in result.items if i.action == CREATED}
        assert "GOLD-G" in created and result.variants_created == len(created) > 5
        assert result.problems["refused"] == 2
        # A re-run reports the same refusals without sending them again.
        reset_inventory_stats(world)
        again = run_import(world)
        assert inventory_writes(world) == {}
        assert {(i.sku, i.action) for i in again.items} >= {("BLANK-1", "refused"), ("GOLD-KG", "refused")}


def test_the_command_lists_with_dry_run_then_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with stock_world(tmp_path, scale=100, shop_scale=40) as world:
        text = world.channels_path.read_text()
        world.channels_path.write_text(
            text.replace(
                "    price_list: retail\n", f"    price_list: retail\n    admin_url: {world.shop.url}\n"
            )
        )
        for name, value in {
            "GECKO_API_URL": world.inventory.url,
            "GECKO_ACCESS_TOKEN": world.inventory.token,
            "GECKO_DATA_DIR": str(world.data_dir),
            "GECKO_CHANNELS_FILE": str(world.channels_path),
            TOKEN_ENV: world.shop.token,
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["shopify-import-products", "--channel", "nope"]) == 2
        assert "no kind: shopify channel 'nope' in the channel file (Shopify channels: shop)" in (
            capsys.readouterr().err
        )
        monkeypatch.delenv(TOKEN_ENV)
        assert main(["shopify-import-products", "--channel", "shop", "--dry-run"]) == 2
        assert TOKEN_ENV in capsys.readouterr().err  # names the variable to set, no traceback
        monkeypatch.setenv(TOKEN_ENV, world.shop.token)
        assert main(["shopify-import-products", "--channel", "shop", "--dry-run"]) == 0
        listed = capsys.readouterr().out
        assert "would create" in listed and "\n  create  GK-" in listed and "\n  link    GK-" in listed
        assert inventory_writes(world) == {}
        assert main(["shopify-import-products", "--channel", "shop"]) == 0
        done = capsys.readouterr().out
        assert " created " in done and inventory_writes(world)["POST /variants"] == listed.count(
            "\n  create  "
        )


def test_answers_lost_behind_500s_are_found_by_a_look_up_not_posted_twice(tmp_path: Path) -> None:
    with stock_world(tmp_path, scale=100, shop_scale=120) as world:
        # The inventory sandbox applies a third of the POSTs, then answers 500 and forgets their keys.
        faults = {"error_after_write_rate": 0.3, "error_after_write_forgets_key": True}
        world.inv_http.put("/faults", json=faults).raise_for_status()
        result = run_import(world)
        world.inv_http.put("/faults", json={"error_after_write_rate": 0.0}).raise_for_status()
        assert (
            result.recovered > 0 and result.problem_total - result.problems["refused"] == result.problem_total
        )
        created = [s for s, (_, b, st) in link_rows(world).items() if b == "created" and st == "linked"]
        assert len(created) == result.variants_to_create - result.problems["refused"]
        skus = Counter(v["sku"] for v in inventory_dump(world, "variants") if v["sku"])
        store = store_truth(world)
        assert all(skus[store[s]["sku"].strip()] == 1 for s in created)  # none twice
        tags = Counter(
            t
            for p in inventory_dump(world, "products")
            for t in (p.get("tags") or "").split(",")
            if t.startswith("shopify:")
        )
        assert all(n == 1 for n in tags.values())
