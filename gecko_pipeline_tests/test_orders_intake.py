"""Order intake over real HTTP (uvicorn on an ephemeral port) and the drop folder, into ops.sqlite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from gecko_pipeline import ops_db, signing
from gecko_pipeline.channels.config import parse_channels
from gecko_pipeline.config import Settings
from gecko_pipeline.orders import inbox
from gecko_pipeline.orders.intake import (
    SIGNATURE_HEADER,
    drop_folder,
    ingest_drop_folder,
    intake_app,
    sandbox_channel_secret,
)
from gecko_pipeline.tools.background import GatewayHandle

CHANNELS = parse_channels(
    {
        "channels": [
            {"name": "webstore", "order_secret_env": "TEST_WEBSTORE_SECRET"},
            {"name": "marketplace", "order_secret_env": "TEST_MARKETPLACE_SECRET"},
        ]
    }
)
ENV = {"TEST_MARKETPLACE_SECRET": "market-secret"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", named_secrets=ENV
    )  # the default URL is the embedded sandbox's


@pytest.fixture
def server(settings: Settings) -> Iterator[GatewayHandle]:
    with GatewayHandle(intake_app(settings, channels=CHANNELS, max_body_bytes=4096)) as handle:
        yield handle


def inbox_rows(settings: Settings) -> list[inbox.InboxRow]:
    con = ops_db.connect(settings.ops_path)
    try:
        return inbox.read_inbox(con, 1, 10**9)
    finally:
        con.close()


def post(url: str, channel: str, body: bytes, secret: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = signing.sign(secret, body)
    return httpx.post(f"{url}/channels/{channel}/orders", content=body, headers=headers)


def test_a_signed_batch_is_stored_before_the_answer(server: GatewayHandle, settings: Settings) -> None:
    body = json.dumps(
        [{"channel_order_id": "1", "lines": [{"unit_price": 9.95}]}, {"channel_order_id": "2"}]
    ).encode()
    answer = post(server.url, "marketplace", body, "market-secret")
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 2
    rows = inbox_rows(settings)
    assert [(r.channel, r.channel_order_id, r.source) for r in rows] == [
        ("marketplace", "1", "http"),
        ("marketplace", "2", "http"),
    ]
    # A JSON number is kept as its exact decimal text (still a number), never through a binary float.
    assert '"unit_price":9.95' in rows[0].payload
    assert inbox.loads(rows[0].payload)["lines"][0]["unit_price"] == Decimal("9.95")


def test_one_order_and_the_orders_envelope_are_accepted(server: GatewayHandle, settings: Settings) -> None:
    secret = sandbox_channel_secret("webstore")  # no variable set: the documented sandbox default
    assert post(server.url, "webstore", b'{"channel_order_id": "9"}', secret).status_code == 202
    assert (
        post(server.url, "webstore", b'{"orders": [{"channel_order_id": "10"}]}', secret).status_code == 202
    )
    assert [r.channel_order_id for r in inbox_rows(settings)] == ["9", "10"]


@pytest.mark.parametrize("signature", [None, "forged", signing.sign("other-secret", b"[]")])
def test_bad_or_missing_signatures_are_refused_and_nothing_is_stored(
    server: GatewayHandle, settings: Settings, signature: str | None
) -> None:
    headers = {SIGNATURE_HEADER: signature} if signature else {}
    answer = httpx.post(
        f"{server.url}/channels/marketplace/orders", content=b'[{"channel_order_id": "1"}]', headers=headers
    )
    assert answer.status_code == 401
    assert inbox_rows(settings) == []


def test_unknown_channels_oversized_and_non_json_bodies_are_refused(
    server: GatewayHandle, settings: Settings
) -> None:
    assert post(server.url, "nowhere", b"[]", "x").status_code == 404
    big = json.dumps([{"channel_order_id": str(i), "notes": "x" * 100} for i in range(60)]).encode()
    assert len(big) > 4096
    assert post(server.url, "marketplace", big, "market-secret").status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield from (big[i : i + 1000] for i in range(0, len(big), 1000))

    chunked = httpx.post(
        f"{server.url}/channels/marketplace/orders",
        content=chunks(),
        headers={SIGNATURE_HEADER: signing.sign("market-secret", big)},
    )
    assert chunked.status_code == 413
    assert post(server.url, "marketplace", b"{not json", "market-secret").status_code == 400
    assert inbox_rows(settings) == []


def test_a_channel_without_a_secret_is_closed_outside_the_sandbox(tmp_path: Path) -> None:
    real = Settings(api_url="https://api.example.com", data_dir=tmp_path / "data")
    with GatewayHandle(intake_app(real, channels=CHANNELS)) as handle:
        answer = post(handle.url, "webstore", b"[]", sandbox_channel_secret("webstore"))
    assert answer.status_code == 503
    assert "TEST_WEBSTORE_SECRET" in answer.json()["error"]


def test_the_drop_folder_ingests_json_and_ndjson_once_and_keeps_broken_lines(settings: Settings) -> None:
    folder = drop_folder(settings.data_dir)
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps({"orders": [{"channel": "webstore", "channel_order_id": "1"}]}))
    (folder / "b.ndjson").write_text('{"channel": "marketplace", "channel_order_id": "2"}\n\n{broken\n')
    (folder / ".c.ndjson.part").write_text('{"channel_order_id": "3"}\n')  # still being written
    con = ops_db.connect(settings.ops_path)
    try:
        result = ingest_drop_folder(con, folder)
        assert (result.files, result.orders) == (2, 3)
        rows = inbox.read_inbox(con, 1, 100)
        assert [(r.channel, r.channel_order_id, r.source) for r in rows] == [
            ("webstore", "1", "file:a.json"),
            ("marketplace", "2", "file:b.ndjson"),
            (None, None, "file:b.ndjson"),
        ]
        assert rows[2].payload == "{broken"
        assert sorted(p.name for p in folder.iterdir()) == [".c.ndjson.part", "done"]
        # The same content dropped again (a relay retrying) is not stored twice.
        (folder / "a-again.json").write_text(
            json.dumps({"orders": [{"channel": "webstore", "channel_order_id": "1"}]})
        )
        again = ingest_drop_folder(con, folder)
        assert (again.files, again.orders, again.duplicates) == (0, 0, 1)
        assert inbox.last_inbox_id(con) == 3
    finally:
        con.close()


def test_quarantine_list_and_replay_from_the_command_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from gecko_pipeline.tools.cli import main

    monkeypatch.setenv("GECKO_DATA_DIR", str(settings.data_dir))
    con = ops_db.connect(settings.ops_path)
    try:
        inbox.ensure_schema(con)
        qid = inbox.quarantine(
            con,
            inbox_id=1,
            channel="webstore",
            channel_order_id="7",
            payload='{"channel_order_id": "7"}',
            field="lines",
            reason="order webstore:7: field lines: has no order lines",
        )
    finally:
        con.close()
    assert main(["quarantine", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"#{qid}" in listed and "webstore:7" in listed and "field lines: has no order lines" in listed

    fixed = tmp_path / "fixed.json"
    fixed.write_text('{"channel_order_id": "7", "lines": [{"sku": "A", "quantity": "1", "unit_price": "1"}]}')
    assert main(["quarantine", "replay", str(qid), "--payload", str(fixed)]) == 0
    assert "back in the inbox" in capsys.readouterr().out
    assert main(["quarantine", "replay", str(qid)]) == 1  # only an open entry can be replayed
    con = ops_db.connect(settings.ops_path)
    try:
        (row,) = inbox.read_inbox(con, 1, 100)
        assert (row.channel, row.channel_order_id, row.source) == ("webstore", "7", f"replay:q{qid}")
        assert json.loads(row.payload)["lines"][0]["sku"] == "A"
        assert inbox.list_quarantine(con) == []
    finally:
        con.close()


HOSTILE_BODIES = [
    ("10,000 deep", b"[" * 10_000 + b"]" * 10_000, "nested deeper than"),
    ("deep inside an order", b'{"channel_order_id": "1", "notes": ' + b"[" * 40 + b"]" * 40 + b"}", "nested"),
    ("lone surrogate", b'{"channel_order_id": "1", "notes": "\\ud800"}', "lone surrogate"),
    ("lone surrogate key", b'{"\\udfff": 1}', "lone surrogate"),
    ("raw surrogate bytes", b'{"channel_order_id": "\xed\xa0\x80"}', "not acceptable JSON"),
    ("NaN", b'{"channel_order_id": "1", "lines": [{"quantity": NaN}]}', "NaN"),
    ("Infinity", b'[{"channel_order_id": "1", "total": -Infinity}]', "Infinity"),
    ("duplicate keys", b'{"channel_order_id": "1", "channel_order_id": "2"}', "duplicate key"),
    ("a string root", b'"an order"', "order object"),
    ("a number root", b"42", "order object"),
    ("null", b"null", "order object"),
]


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayHandle, Settings]]:
    """An intake with the default body limit (1 MiB), shared by the hostile-body cases."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("roomy") / "data", named_secrets=ENV)
    with GatewayHandle(intake_app(settings, channels=CHANNELS)) as handle:
        yield handle, settings


@pytest.mark.parametrize(("name", "body", "reason"), HOSTILE_BODIES, ids=[h[0] for h in HOSTILE_BODIES])
def test_hostile_bodies_get_a_4xx_with_the_reason_never_a_500(
    roomy: tuple[GatewayHandle, Settings], name: str, body: bytes, reason: str
) -> None:
    handle, settings = roomy
    answer = post(handle.url, "marketplace", body, "market-secret")
    assert answer.status_code == 400, (name, answer.status_code, answer.text[:200])
    assert reason in answer.json()["error"]
    assert inbox_rows(settings) == []


def test_a_100_kb_id_and_odd_items_are_stored_for_the_push_to_judge(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", named_secrets=ENV)
    big = {"channel_order_id": "x" * 100_000}
    body = json.dumps([big, 7, None, {"channel_order_id": "🦎"}]).encode()
    with GatewayHandle(intake_app(settings, channels=CHANNELS)) as handle:
        answer = post(handle.url, "marketplace", body, "market-secret")
    assert answer.status_code == 202 and answer.json()["accepted"] == 4
    rows = inbox_rows(settings)
    assert [len(r.channel_order_id or "") for r in rows] == [100_000, 0, 0, 1]
    assert json.loads(rows[0].payload) == big and rows[1].payload == "7"


def test_hostile_drop_files_are_kept_whole_and_never_stop_the_folder(settings: Settings) -> None:
    folder = drop_folder(settings.data_dir)
    folder.mkdir(parents=True)
    (folder / "a-deep.json").write_bytes(b"[" * 10_000 + b"]" * 10_000)
    (folder / "b-surrogate.json").write_text('{"channel": "webstore", "channel_order_id": "\\ud800"}')
    (folder / "c.ndjson").write_text(
        '{"channel_order_id": NaN}\n{"channel": "webstore", "channel_order_id": "ok"}\n'
    )
    con = ops_db.connect(settings.ops_path)
    try:
        result = ingest_drop_folder(con, folder)
        assert (result.files, result.orders) == (3, 4)
        rows = inbox.read_inbox(con, 1, 100)
        assert [r.channel_order_id for r in rows] == [None, None, None, "ok"]
        assert rows[0].payload.startswith("[[[[") and "\\ud800" in rows[1].payload  # nothing lost
        assert sorted(p.name for p in folder.iterdir()) == ["done"]
    finally:
        con.close()
