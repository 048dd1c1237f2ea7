"""OAuth against the real sandbox: refresh on start and on 401, rotation persisted, no secret logged;
and the Dagster resource building a client from the environment."""

from __future__ import annotations

import dataclasses
import json
import logging
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import httpx
import pytest

from gecko_pipeline.api import AuthenticationError, GeckoClient
from gecko_pipeline.config import load_settings
from gecko_pipeline.defs.resources import GeckoApiResource, build_resources


@pytest.fixture
def oauth_sandbox(sandbox_factory):
    return sandbox_factory(scale=10, access_token_ttl=3600)


def _oauth_settings(oauth_sandbox, settings_for, data_dir, access_token: str | None = None):
    config = oauth_sandbox.config
    return dataclasses.replace(
        settings_for(oauth_sandbox, data_dir),
        access_token=access_token,
        client_id=config.oauth_client_id,
        client_secret=oauth_sandbox.app_secret,
        refresh_token=config.oauth_refresh_token,
    )


def test_refresh_rotates_the_token_and_a_new_client_uses_the_stored_one(
    oauth_sandbox, settings_for, data_dir, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="gecko_pipeline.api")
    settings = _oauth_settings(oauth_sandbox, settings_for, data_dir)
    with GeckoClient.from_settings(settings) as first:  # no access token yet: refresh first
        assert first.get("/accounts/current")["account"]["id"]
        assert first.stats.snapshot()["token_refreshes"] == 1

    stored = json.loads(settings.token_store_path.read_text())
    assert stored["refresh_token"] != settings.refresh_token
    assert stat.S_IMODE(settings.token_store_path.stat().st_mode) == 0o600
    # The environment's refresh token died with the rotation...
    refused = httpx.post(
        f"{oauth_sandbox.url}/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": settings.refresh_token,
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        },
    )
    assert refused.status_code in (400, 401)
    # ...so a new process with the same environment starts from the stored pair, without a refresh.
    with GeckoClient.from_settings(settings) as second:
        assert second.get("/accounts/current")["account"]["id"]
        assert second.stats.snapshot()["token_refreshes"] == 0

    secrets = [
        settings.client_secret,
        settings.refresh_token,
        stored["refresh_token"],
        stored["access_token"],
    ]
    assert caplog.records
    for record in caplog.records:
        assert not any(s in record.getMessage() for s in secrets), record.getMessage()


def test_a_401_refreshes_once_however_many_threads_see_it(oauth_sandbox, settings_for, data_dir) -> None:
    settings = _oauth_settings(oauth_sandbox, settings_for, data_dir, access_token="expired-access-token")
    with GeckoClient.from_settings(settings, max_concurrency=8) as client, ThreadPoolExecutor(8) as pool:
        accounts = list(pool.map(lambda _: client.get("/accounts/current"), range(16)))
        stats = client.stats.snapshot()
    assert len(accounts) == 16
    assert stats["token_refreshes"] == 1
    assert json.loads(settings.token_store_path.read_text())["access_token"] != "expired-access-token"


def test_a_refused_refresh_token_says_how_to_recover(oauth_sandbox, settings_for, data_dir) -> None:
    settings = dataclasses.replace(
        _oauth_settings(oauth_sandbox, settings_for, data_dir), refresh_token="rt-revoked-7c1"
    )
    with GeckoClient.from_settings(settings) as client, pytest.raises(AuthenticationError) as caught:
        client.get("/accounts/current")
    message = str(caught.value)
    assert "POST /oauth/token" in message and "GECKO_REFRESH_TOKEN" in message
    assert "rt-revoked-7c1" not in message and settings.client_secret not in message
    assert not settings.token_store_path.exists()


def test_oauth_needs_all_three_settings(oauth_sandbox, settings_for, data_dir) -> None:
    settings = dataclasses.replace(_oauth_settings(oauth_sandbox, settings_for, data_dir), client_id=None)
    with pytest.raises(ValueError, match="GECKO_CLIENT_ID"):
        GeckoClient.from_settings(settings)


def test_the_resource_reads_secrets_from_the_environment_not_its_config(
    sandbox, data_dir, monkeypatch
) -> None:
    monkeypatch.setenv("GECKO_API_URL", sandbox.url)
    monkeypatch.setenv("GECKO_ACCESS_TOKEN", sandbox.token)
    monkeypatch.setenv("GECKO_DATA_DIR", str(data_dir))
    resources = build_resources(load_settings(), max_concurrency=2, page_size=100)
    shown = json.dumps(resources["gecko_api"].model_dump(), default=str)
    # The resource names the variable; the token itself stays in the environment.
    assert sandbox.token not in shown and "GECKO_ACCESS_TOKEN" in shown

    @dg.asset
    def variant_count(gecko_api: GeckoApiResource) -> dg.MaterializeResult:
        with gecko_api.get_client() as client:
            pages = list(client.iter_pages("/variants"))
            assert client.page_size == 100 and client.max_concurrency == 2
        return dg.MaterializeResult(metadata={"variants": sum(p.record_count for p in pages)})

    result = dg.materialize([variant_count], resources=resources)
    assert result.success
    assert sandbox.token not in json.dumps(result.dagster_run.run_config, default=str)
    count = result.asset_materializations_for_node("variant_count")[0].metadata["variants"].value
    assert count > 0


def test_an_access_token_about_to_expire_is_refreshed_before_it_is_refused(
    oauth_sandbox, settings_for, data_dir
) -> None:
    settings = _oauth_settings(oauth_sandbox, settings_for, data_dir)
    with GeckoClient.from_settings(settings) as client:
        client.get("/accounts/current")
    stored = json.loads(settings.token_store_path.read_text())
    stored["expires_at"] = time.time() - 1  # as if the process had slept past the access token's life
    settings.token_store_path.write_text(json.dumps(stored))
    httpx.post(f"{oauth_sandbox.url}/_sandbox/stats/reset")
    with GeckoClient.from_settings(settings) as client:
        client.get("/accounts/current")
        assert client.stats.snapshot()["token_refreshes"] == 1
    assert "401" not in httpx.get(f"{oauth_sandbox.url}/_sandbox/stats").json()["by_status"]
    assert json.loads(settings.token_store_path.read_text())["access_token"] != stored["access_token"]


def test_clients_sharing_the_data_folder_never_spend_a_refresh_token_twice(
    oauth_sandbox, settings_for, data_dir
) -> None:
    # E.g. a run and a sensor: both start from the environment's refresh token.
    settings = _oauth_settings(oauth_sandbox, settings_for, data_dir, access_token="stale-access-token")
    with GeckoClient.from_settings(settings) as run, GeckoClient.from_settings(settings) as sensor:
        run.get("/accounts/current")  # 401: rotates, stores the new pair
        sensor.get("/accounts/current")  # 401: adopts the stored pair instead of spending a dead token
        assert run.stats.snapshot()["token_refreshes"] == 1
        assert sensor.stats.snapshot()["token_refreshes"] == 0
