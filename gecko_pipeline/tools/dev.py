"""`gecko-pipeline dev` (what `make dev` runs): the whole system on this machine, with the Dagster UI.

Starts, each in its own process group and only on 127.0.0.1:
1. the API sandbox (`gecko-pipeline sandbox`, a modest account, the real quota over a shorter window);
2. the gateway (`gecko-pipeline gateway`: webhook receiver + order intake), and points the sandbox's
   webhook subscriptions at it (`gecko-pipeline subscribe`);
3. `dagster dev` (webserver + daemon) on the project's Definitions, with the environment pointing at
   the sandbox; waits until the code location has loaded.
Then prints what to open and waits; Ctrl-C or SIGTERM (or any service dying) stops everything it started.

gecko_pipeline_tests/test_ui_browser.py runs this command itself, on ephemeral ports.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from gecko_pipeline.config import (
    GATEWAY_PORT,
    SANDBOX_APP_SECRET,
    SANDBOX_HOST,
    SANDBOX_PORT,
    SANDBOX_TOKEN,
    Settings,
    load_settings,
)
from gecko_pipeline.config import child_environment as config_child_environment
from gecko_pipeline.tools import shopify_demo
from gecko_pipeline.tools.processes import Service, Services, gecko_command, port_in_use, start_service
from gecko_pipeline.webhooks.receiver import RECEIVER_PATH

HOST = SANDBOX_HOST  # loopback only: nothing here is meant to be reachable from another machine
UI_PORT = 3000
DEV_SCALE = 2000
# The real quota (300 requests) over a 60 s window instead of 300 s: the same pacing behaviour, but a
# user who clicks "Materialize all" a few times in a row waits at most a minute, not five.
DEV_RATE_LIMIT_QUOTA = 300
DEV_RATE_LIMIT_WINDOW = 60
DEFINITIONS_MODULE = "gecko_pipeline.definitions"
CODE_LOCATION = "gecko_pipeline"  # as in pyproject's [tool.dagster] and workspace.yaml
# The project's instance settings (one DuckDB writer, few sensor threads); `make dev` copies the same file.
PROJECT_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"  # the project root's


@dataclass(frozen=True)
class DevConfig:
    data_dir: Path
    dagster_home: Path
    sandbox_port: int = SANDBOX_PORT
    gateway_port: int = GATEWAY_PORT
    ui_port: int = UI_PORT
    scale: int = DEV_SCALE
    rate_limit_quota: int = DEV_RATE_LIMIT_QUOTA
    rate_limit_window: int = DEV_RATE_LIMIT_WINDOW
    shopify_port: int = shopify_demo.SHOPIFY_PORT

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.sandbox_port}"

    @property
    def shopify_url(self) -> str:
        return f"http://{HOST}:{self.shopify_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ui_port}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


@dataclass
class DevStack:
    config: DevConfig
    services: list[Service]
    subscriptions: str

    def failed_service(self) -> Service | None:
        return next((s for s in self.services if s.process.poll() is not None), None)


class DevError(RuntimeError):
    """A service of the dev stack could not start; the message says which and shows its log's tail."""


def child_environment(config: DevConfig) -> dict[str, str]:
    """What every child sees: the sandbox's URL and demo credentials, the data folder, the Dagster home.

    Secrets travel only in the environment: resources read them when they build a client, so they never
    appear in run config or in the UI.
    """
    return {
        "GECKO_API_URL": config.api_url,
        "GECKO_ACCESS_TOKEN": SANDBOX_TOKEN,
        "GECKO_CLIENT_SECRET": SANDBOX_APP_SECRET,
        "GECKO_DATA_DIR": str(config.data_dir),
        "DAGSTER_HOME": str(config.dagster_home),
        # The Shopify sandbox as channel `shopify`: the channel file and the variables it names.
        **shopify_demo.environment(config.data_dir, config.shopify_url),
    }


def prepare_dagster_home(home: Path, template: Path = PROJECT_DAGSTER_YAML) -> Path:
    """Create DAGSTER_HOME with the project's dagster.yaml unless one is already there (a user's own wins)."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() and template.exists():
        shutil.copyfile(template, target)
    return target


def graphql(ui_url: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One query against the Dagster webserver's GraphQL API; raises on transport or GraphQL errors."""
    response = httpx.post(
        f"{ui_url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=30.0
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise DevError(f"GraphQL error from {ui_url}: {body['errors']}")
    return body["data"]


LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""


def wait_for_code_location(
    ui_url: str, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> str:
    """Wait until every code location has loaded; a location that fails to load is an error with its message."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise DevError(f"dagster dev exited with code {process.returncode} while loading definitions")
        entries = graphql(ui_url, LOCATIONS_QUERY)["workspaceOrError"].get("locationEntries") or []
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            for entry in entries:
                error = entry["locationOrLoadError"]
                if error and error["__typename"] == "PythonError":
                    raise DevError(f"code location {entry['name']} failed to load:\n{error['message']}")
            return ", ".join(e["name"] for e in entries)
        if time.monotonic() > deadline:
            raise DevError(f"the code location did not load within {timeout:.0f} s")
        time.sleep(0.5)


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_group(service: Service, grace: float = 10.0) -> None:
    """Stop a service, then make sure nothing of its process group outlives it (dagster dev has children)."""
    service.stop()
    pgid = service.process.pid
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _start(
    services: Services, config: DevConfig, name: str, command: list[str], *, ready_url: str, timeout: float
) -> Service:
    log_path = config.logs_dir / f"{name}.log"
    # A stop request while start_service waits for readiness would leave its child unknown to `services`
    # (an orphan): it is held until the child is registered, then honoured.
    with _STOP.held(name):
        try:
            service = start_service(
                name,
                command,
                ready_url=ready_url,
                env=child_environment(config),
                log_path=log_path,
                timeout=timeout,
            )
        except RuntimeError as exc:
            raise DevError(f"{exc}\n--- last lines of {log_path} ---\n{_log_tail(log_path)}") from None
        services.callback(_stop_group, service)
    return service


def write_workspace(config: DevConfig) -> Path:
    """A workspace file naming the code location `gecko_pipeline` (with `-m` it would be the module's name).

    Written under DAGSTER_HOME rather than read from the clone, so `dev` works from any directory.
    """
    path = config.dagster_home / "workspace.yaml"
    path.write_text(
        "# Written by `gecko-pipeline dev` on every start.\n"
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {DEFINITIONS_MODULE}\n"
        f"      location_name: {CODE_LOCATION}\n"
    )
    return path


def dagster_command(config: DevConfig) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        HOST,
        "-p",
        str(config.ui_port),
        "-w",
        str(write_workspace(config)),
    ]


def start_stack(services: Services, config: DevConfig, *, ui_timeout: float = 180.0) -> DevStack:
    """Start sandbox, gateway (+ subscriptions) and dagster dev under `services`, each waited for."""
    config.logs_dir.mkdir(parents=True, exist_ok=True)
    prepare_dagster_home(config.dagster_home)
    started: list[Service] = []

    started.append(
        _start(
            services,
            config,
            "sandbox",
            gecko_command(
                "sandbox",
                "--host",
                HOST,
                "--port",
                str(config.sandbox_port),
                "--scale",
                str(config.scale),
                "--token",
                SANDBOX_TOKEN,
                "--app-secret",
                SANDBOX_APP_SECRET,
                "--rate-limit-quota",
                str(config.rate_limit_quota),
                "--rate-limit-window",
                str(config.rate_limit_window),
            ),
            ready_url=f"{config.api_url}/_sandbox/stats",
            timeout=120.0,
        )
    )

    started.append(
        _start(
            services,
            config,
            "shopify-sandbox",
            shopify_demo.sandbox_command(config.shopify_port),
            ready_url=f"{config.shopify_url}/_sandbox/health",
            timeout=120.0,
        )
    )

    started.append(
        _start(
            services,
            config,
            "gateway",
            gecko_command(
                "gateway",
                "--host",
                HOST,
                "--port",
                str(config.gateway_port),
            ),
            ready_url=f"{config.gateway_url}/",
            timeout=60.0,
        )
    )
    # The sandbox keeps subscriptions in memory: a fresh one has none, so this runs on every start.
    subscriptions = ensure_subscriptions(config)

    dagster = _start(
        services,
        config,
        "dagster",
        dagster_command(config),
        ready_url=f"{config.ui_url}/server_info",
        timeout=ui_timeout,
    )
    started.append(dagster)
    try:
        wait_for_code_location(config.ui_url, ui_timeout, dagster.process)
    except DevError as exc:
        log_path = config.logs_dir / "dagster.log"
        raise DevError(f"{exc}\n--- last lines of {log_path} ---\n{_log_tail(log_path)}") from None
    return DevStack(config=config, services=started, subscriptions=subscriptions)


def ensure_subscriptions(config: DevConfig) -> str:
    """Point the sandbox's webhook subscriptions at the gateway (idempotent: creates only missing ones)."""
    result = subprocess.run(
        gecko_command("subscribe", "--address", f"{config.gateway_url}{RECEIVER_PATH}"),
        env=config_child_environment(child_environment(config)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise DevError(f"gecko-pipeline subscribe failed ({result.returncode}):\n{result.stderr[-2000:]}")
    # The command's first line is its summary ("N already there, M created for URL").
    return (result.stdout.strip().splitlines() or ["subscriptions ensured"])[0]


def banner(stack: DevStack) -> str:
    config = stack.config
    return "\n".join(
        [
            "",
            "gecko_pipeline dev is up (everything on 127.0.0.1):",
            f"  Dagster UI        {config.ui_url}   (Lineage > Materialize all; Automation: schedules, sensors)",
            f"  API sandbox       {config.api_url}   ({config.scale:,} variants; "
            f"{config.rate_limit_quota} requests / {config.rate_limit_window} s; stats at /_sandbox/stats)",
            f"  Shopify sandbox   {config.shopify_url}   (channel `shopify`; shop control plane at /_sandbox)",
            f"  Gateway           {config.gateway_url}   (webhooks at {RECEIVER_PATH}, "
            "channel orders at /channels/<channel>/orders, Shopify at /shopify/<channel>/webhooks)",
            f"  Webhooks          {stack.subscriptions}",
            f"  Data              {config.data_dir}   (warehouse.duckdb, published.duckdb, ops.sqlite, feeds/)",
            f"  Dagster home      {config.dagster_home}",
            f"  Logs              {config.logs_dir}/{{sandbox,shopify-sandbox,gateway,dagster}}.log",
            "Press Ctrl-C to stop everything.",
        ]
    )


class _StopRequests:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, so `services` stops everything on the way out; except
    while a child is being started, when the request is held until the child is registered."""

    def __init__(self) -> None:
        self.holding: str | None = None
        self.pending = False

    def handle(self, _signo: int, _frame: FrameType | None) -> None:
        if self.holding is None:
            raise KeyboardInterrupt
        if not self.pending:
            print(
                f"\nStopping as soon as {self.holding} has started (or failed) ...",
                file=sys.stderr,
                flush=True,
            )
        self.pending = True

    @contextmanager
    def held(self, name: str) -> Iterator[None]:
        self.holding = name
        try:
            yield
        finally:
            self.holding = None
        if self.pending:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        # SIGINT is set explicitly: a shell starts background commands with it ignored.
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_STOP = _StopRequests()


def _check_ports_free(config: DevConfig) -> str | None:
    for name, port in (
        ("sandbox", config.sandbox_port),
        ("Shopify sandbox", config.shopify_port),
        ("gateway", config.gateway_port),
        ("Dagster UI", config.ui_port),
    ):
        if port_in_use(HOST, port):
            return f"Port {port} ({name}) is taken: stop whatever runs there (another `make dev`?) and retry."
    return None


def config_from_args(args: argparse.Namespace, settings: Settings | None = None) -> DevConfig:
    settings = settings or load_settings()
    data_dir = settings.data_dir.resolve()
    dagster_home = settings.dagster_home_path.resolve()
    return DevConfig(
        data_dir=data_dir,
        dagster_home=dagster_home,
        sandbox_port=args.sandbox_port,
        gateway_port=args.gateway_port,
        ui_port=args.port,
        scale=args.scale,
        rate_limit_quota=args.rate_limit_quota,
        rate_limit_window=args.rate_limit_window,
        shopify_port=args.shopify_port,
    )


def run_dev(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # readiness polls are not news
    problem = _check_ports_free(config)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    with _STOP.installed():
        try:
            with Services() as services:
                print(
                    f"Starting the sandboxes, the gateway and dagster dev (logs in {config.logs_dir}) ...",
                    flush=True,
                )
                stack = start_stack(services, config)
                print(banner(stack), flush=True)
                while (failed := stack.failed_service()) is None:
                    time.sleep(1.0)
                print(
                    f"{failed.name} exited with code {failed.process.returncode}; stopping the rest.\n"
                    f"--- last lines of {config.logs_dir / (failed.name + '.log')} ---\n"
                    f"{_log_tail(config.logs_dir / (failed.name + '.log'))}",
                    file=sys.stderr,
                )
                return 1
        except KeyboardInterrupt:
            print("\nStopped: sandboxes, gateway and dagster dev are down.", flush=True)
            return 0
        except DevError as exc:
            print(f"make dev could not start: {exc}", file=sys.stderr)
            return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dev", help="sandbox + gateway + the Dagster UI on 127.0.0.1, stopped together by Ctrl-C"
    )
    parser.add_argument("--port", type=int, default=UI_PORT, help=f"Dagster UI port (default {UI_PORT})")
    parser.add_argument(
        "--sandbox-port", type=int, default=SANDBOX_PORT, help=f"API sandbox port (default {SANDBOX_PORT})"
    )
    parser.add_argument(
        "--shopify-port",
        type=int,
        default=shopify_demo.SHOPIFY_PORT,
        help=f"Shopify sandbox port (default {shopify_demo.SHOPIFY_PORT})",
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=GATEWAY_PORT,
        help=f"webhook receiver + order intake port (default {GATEWAY_PORT})",
    )
    parser.add_argument(
        "--scale", type=int, default=DEV_SCALE, help=f"variants in the sandbox account (default {DEV_SCALE})"
    )
    parser.add_argument(
        "--rate-limit-quota",
        type=int,
        default=DEV_RATE_LIMIT_QUOTA,
        help=f"sandbox requests per window (default {DEV_RATE_LIMIT_QUOTA}, as the real API)",
    )
    parser.add_argument(
        "--rate-limit-window",
        type=int,
        default=DEV_RATE_LIMIT_WINDOW,
        help=f"sandbox rate-limit window in seconds (default {DEV_RATE_LIMIT_WINDOW}; the real API: 300)",
    )
    parser.set_defaults(func=run_dev)
