"""`gecko-pipeline dev` end to end, and the Dagster UI driven by a real headless Chromium.

The stack is the real command in a subprocess (ephemeral ports, a tmp data folder and DAGSTER_HOME with
the project's dagster.yaml): sandbox, gateway, dagster dev. The browser opens the asset graph, clicks
"Materialize all", follows the run to success and checks the channel listings' metadata on its asset
page. Screenshots go to test-artifacts/ui/. The last test sends Ctrl-C and checks nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gecko_pipeline.tools import dev
from gecko_pipeline.tools.processes import free_port, gecko_command, port_in_use

pytestmark = pytest.mark.slow(150)

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium's connections are refused on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
SCALE = 300  # variants: enough for every channel case, small enough for a quick run
RUN_TIMEOUT = 240.0
# Schedules stay on (as in the demo) but at a tick that never comes during a test, so the only run
# the test waits for is the one it launched.
NEVER = "0 0 1 1 *"

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian's chromium package; .ci/run installs it)"
)

RUN_QUERY = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""

RUN_FAILURES_QUERY = """
query RunFailures($runId: ID!) {
  logsForRun(runId: $runId) { __typename ... on EventConnection { events {
    __typename
    ... on ExecutionStepFailureEvent { stepKey error { message } }
    ... on RunFailureEvent { message }
  } } }
}
"""

ASSET_QUERY = """
query Asset($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
    assetMaterializations(limit: 1) { runId metadataEntries { label } }
    assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { runId status } } } }
} } }
"""

AUTOMATION_QUERY = """
{ repositoriesOrError { __typename ... on RepositoryConnection { nodes {
    schedules { name description scheduleState { status } }
    sensors { name description sensorState { status } }
} } } }
"""


def _pids_with_home(dagster_home: Path) -> list[int]:
    """Processes of ours whose environment carries this test's DAGSTER_HOME: what the stack started."""
    marker = f"DAGSTER_HOME={dagster_home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class Stack:
    """`gecko-pipeline dev` run as a user would, in its own session, on free loopback ports."""

    def __init__(self, root: Path) -> None:
        self.data_dir = root / "data"
        self.dagster_home = root / "dagster_home"
        self.ports = {
            "ui": free_port(),
            "sandbox": free_port(),
            "shopify": free_port(),
            "gateway": free_port(),
        }
        self.ui_url = f"http://127.0.0.1:{self.ports['ui']}"
        self.output = root / "dev-command.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_for("Press Ctrl-C", 240)

    def wait_for(self, text: str, timeout: float, path: Path | None = None) -> None:
        """Wait until `text` shows in the command's output (or in the file `path`)."""
        path = path or self.output
        deadline = time.monotonic() + timeout
        while not path.exists() or text not in path.read_text(errors="replace"):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"gecko-pipeline dev: no {text!r} in {path.name}:\n{self.log()[-4000:]}")
            time.sleep(0.2)

    def launch(self) -> None:
        env = {
            **os.environ,
            "GECKO_DATA_DIR": str(self.data_dir),
            "DAGSTER_HOME": str(self.dagster_home),
            "GECKO_SYNC_CRON": NEVER,
            "GECKO_FULL_REFRESH_CRON": NEVER,
        }
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                gecko_command(
                    "dev",
                    "--port",
                    str(self.ports["ui"]),
                    "--sandbox-port",
                    str(self.ports["sandbox"]),
                    "--shopify-port",
                    str(self.ports["shopify"]),
                    "--gateway-port",
                    str(self.ports["gateway"]),
                    "--scale",
                    str(SCALE),
                ),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def kill(self) -> None:
        """Last resort at teardown: the dev command's group, then anything else it started."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        for pid in _pids_with_home(self.dagster_home):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="gecko-ui-") as root:
        running = Stack(Path(root))
        running.start()
        try:
            yield running
        finally:
            running.kill()


@pytest.fixture(scope="module")
def page(stack: Stack) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gecko-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = context.new_page()
            _dismiss_welcome(page)
            yield page
        finally:
            context.close()


def _dismiss_welcome(page: Any) -> None:
    # A fresh Dagster instance greets the first visit with a "Join the community" dialog, whenever it has
    # loaded (seconds later on a busy machine): Playwright clicks it away whenever it blocks an action.
    dialog = page.get_by_text("Join the Dagster community")
    page.add_locator_handler(dialog, lambda _: page.get_by_role("button", name="Skip").click())


def _wait_for_run(stack: Stack, run_id: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        status = dev.graphql(stack.ui_url, RUN_QUERY, {"runId": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(2.0)


def _run_failures(stack: Stack, run_id: str) -> str:
    events = dev.graphql(stack.ui_url, RUN_FAILURES_QUERY, {"runId": run_id})["logsForRun"].get("events", [])
    return "\n".join(
        f"{e.get('stepKey', 'run')}: {(e.get('error') or {}).get('message') or e.get('message')}"
        for e in events
        if e["__typename"] in {"ExecutionStepFailureEvent", "RunFailureEvent"}
    )


def test_dev_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            gecko_command(
                "dev",
                "--port",
                str(port),
                "--sandbox-port",
                str(free_port()),
                "--shopify-port",
                str(free_port()),
                "--gateway-port",
                str(free_port()),
            ),
            env={
                **os.environ,
                "GECKO_DATA_DIR": str(tmp_path / "data"),
                "DAGSTER_HOME": str(tmp_path / "home"),
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"Port {port} (Dagster UI) is taken" in result.stderr
    assert not (tmp_path / "data").exists()


def test_ctrl_c_while_starting_leaves_nothing_behind(tmp_path: Path) -> None:
    starting = Stack(tmp_path)
    starting.launch()
    try:
        # dagster dev has been spawned and is loading (its log appears when it is started).
        starting.wait_for("dagster", 120, starting.data_dir / "logs" / "dagster.log")
        assert starting.process is not None
        starting.process.send_signal(signal.SIGINT)
        assert starting.process.wait(timeout=120) == 0, starting.log()[-3000:]
        assert "Stopped" in starting.log()
        assert _pids_with_home(starting.dagster_home) == [], "a service outlived an early Ctrl-C"
    finally:
        starting.kill()


def test_dev_prints_what_to_open(stack: Stack) -> None:
    log = stack.log()
    assert f"Dagster UI        {stack.ui_url}" in log
    assert f"http://127.0.0.1:{stack.ports['sandbox']}" in log
    assert (stack.dagster_home / "dagster.yaml").read_text() == dev.PROJECT_DAGSTER_YAML.read_text()
    locations = dev.graphql(stack.ui_url, dev.LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["loadStatus"]) for e in locations] == [(dev.CODE_LOCATION, "LOADED")]
    # Every service answers on loopback.
    for port in stack.ports.values():
        assert port_in_use("127.0.0.1", port)


def test_schedules_and_sensors_are_on_and_described(stack: Stack) -> None:
    nodes = dev.graphql(stack.ui_url, AUTOMATION_QUERY)["repositoriesOrError"]["nodes"]
    schedules = [s for n in nodes for s in n["schedules"]]
    sensors = [s for n in nodes for s in n["sensors"]]
    assert {s["name"] for s in schedules} >= {"incremental_sync_schedule", "nightly_full_refresh_schedule"}
    assert sensors, "no sensors in the code location"
    for item in schedules:
        assert item["scheduleState"]["status"] == "RUNNING", item
        assert item["description"], item
    for item in sensors:
        assert item["sensorState"]["status"] == "RUNNING", item
        assert item["description"], item


@needs_chromium
def test_materialize_all_in_the_browser(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{stack.ui_url}/asset-groups")
    # The lineage sidebar lists the groups that make up the system.
    for group in ("inventory", "sales", "channels", "orders", "publish"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "01-asset-graph.png"))

    page.get_by_role("button", name="Materialize all").click()
    view = page.locator("a[href^='/runs/']").filter(has_text="View")
    expect(view).to_be_visible(timeout=30_000)
    run_id = view.get_attribute("href").rsplit("/", 1)[-1]

    page.goto(f"{stack.ui_url}/runs/{run_id}")
    status = _wait_for_run(stack, run_id)
    page.screenshot(path=str(ARTIFACTS / "02-run.png"))
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{_run_failures(stack, run_id)}"

    page.goto(f"{stack.ui_url}/assets/channel_listings")
    expect(page.get_by_text("Latest check results")).to_be_visible(timeout=30_000)
    # The latest materialisation's metadata table: the merchant's counts and the Markdown summary.
    for key in ("listed", "out of stock", "missing prices", "lowest stock"):
        expect(page.get_by_text(key, exact=True).first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "03-channel-listings.png"))
    page.get_by_text("lowest stock", exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "04-channel-listings-preview.png"))

    nodes = dev.graphql(stack.ui_url, AUTOMATION_QUERY)["repositoriesOrError"]["nodes"]
    automations = sum(len(n["schedules"]) + len(n["sensors"]) for n in nodes)
    page.goto(f"{stack.ui_url}/automation")
    expect(page.get_by_text("incremental_sync_schedule").first).to_be_visible(timeout=30_000)
    # Every schedule and sensor shows its toggle switched on (the row checkboxes stay unticked).
    expect(page.locator("input[type=checkbox]:checked")).to_have_count(automations, timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "05-automation.png"))


RUNS_QUERY = "{ runsOrError { __typename ... on Runs { results { runId jobName status } } } }"


@needs_chromium
def test_a_stock_move_reaches_dagster_through_the_gateway(stack: Stack, page: Any) -> None:
    """dev wired the webhooks: sandbox -> gateway -> webhook_event_sensor -> a targeted refresh run."""
    from playwright.sync_api import expect

    api_url = f"http://127.0.0.1:{stack.ports['sandbox']}"
    moved = httpx.post(
        f"{api_url}/_sandbox/activity/stock_move",
        json={"variant_id": 1, "location_id": 1, "quantity": "-3"},
        timeout=30,
    )
    assert moved.status_code == 200, moved.text
    deadline = time.monotonic() + RUN_TIMEOUT
    refresh: dict[str, str] | None = None
    while time.monotonic() < deadline:
        runs = dev.graphql(stack.ui_url, RUNS_QUERY)["runsOrError"]["results"]
        refresh = next((r for r in runs if r["jobName"] == "webhook_refresh_job"), None)
        if refresh and refresh["status"] in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(2.0)
    assert refresh is not None, "webhook_event_sensor launched no refresh run"
    assert refresh["status"] == "SUCCESS", _run_failures(stack, refresh["runId"])
    deliveries = httpx.get(f"{api_url}/_sandbox/webhook_deliveries", timeout=30).json()["webhook_deliveries"]
    assert [(d["event"], d["address"], d["state"]) for d in deliveries] == [
        (
            "variant.stock_level_update",
            f"http://127.0.0.1:{stack.ports['gateway']}{dev.RECEIVER_PATH}",
            "delivered",
        )
    ]
    page.goto(f"{stack.ui_url}/runs/{refresh['runId']}")
    expect(page.get_by_text("webhook_refresh_job").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "06-webhook-refresh-run.png"))

    # The refresh materialized the real assets: their pages keep every metadata entry a sync shows, and
    # their checks were evaluated by that run (none left "Not evaluated").
    for key, entries, shown in (
        (
            "variants",
            {"dagster/row_count", "sync_mode", "rows_inserted", "rows_updated", "requests", "cursor"},
            "rows_updated",
        ),
        (
            "channel_listings",
            {"dagster/row_count", "listed", "out of stock", "missing prices", "lowest stock"},
            "lowest stock",
        ),
    ):
        node = dev.graphql(stack.ui_url, ASSET_QUERY, {"key": {"path": [key]}})["assetNodeOrError"]
        [latest] = node["assetMaterializations"]
        assert latest["runId"] == refresh["runId"], key
        assert entries <= {m["label"] for m in latest["metadataEntries"]}, (key, latest["metadataEntries"])
        checks = node["assetChecksOrError"]["checks"]
        assert checks, key
        for check in checks:
            execution = check["executionForLatestMaterialization"]
            assert execution is not None and execution["runId"] == refresh["runId"], (key, check["name"])
            assert execution["status"] in {"SUCCEEDED", "FAILED"}, (key, check["name"], execution)
        page.goto(f"{stack.ui_url}/assets/{key}")
        expect(page.get_by_text(shown, exact=True).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Not evaluated")).to_have_count(0, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / f"07-{key}-after-webhook-refresh.png"))


def test_ctrl_c_stops_everything(stack: Stack) -> None:
    assert stack.process is not None and stack.process.poll() is None
    started = _pids_with_home(stack.dagster_home)
    assert len(started) >= 3, "expected the sandbox, the gateway and dagster dev's processes"
    stack.process.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C delivers to the foreground command
    assert stack.process.wait(timeout=60) == 0, stack.log()[-3000:]
    assert "Stopped" in stack.log()
    assert _pids_with_home(stack.dagster_home) == [], "processes outlived `gecko-pipeline dev`"
    for port in stack.ports.values():
        assert not port_in_use("127.0.0.1", port)
