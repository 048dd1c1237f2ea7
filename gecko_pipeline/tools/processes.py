"""Child services for `demo` and `dev`: start a `gecko-pipeline` sub-command (or any command) in its own
process group, wait until it answers over HTTP, and stop the whole group on exit so nothing is orphaned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import httpx

from gecko_pipeline.config import child_environment


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str | None = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)


def gecko_command(*args: str) -> list[str]:
    """The `gecko-pipeline` command of this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "gecko_pipeline.tools.cli", *args]


def start_service(
    name: str,
    command: Sequence[str],
    *,
    ready_url: str | None = None,
    env: Mapping[str, str] | None = None,
    log_path: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> Service:
    """Start `command` in a new session; when `ready_url` is given, wait until it answers (any status)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        list(command),
        env=child_environment(env),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    service = Service(name=name, process=process, url=ready_url)
    if ready_url:
        try:
            _wait_until_ready(service, ready_url, timeout)
        except BaseException:
            # The child has its own session, so a Ctrl-C here never reaches it: stop it ourselves.
            service.stop()
            raise
    return service


def _wait_until_ready(service: Service, ready_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with code {service.process.returncode} before it was ready"
            )
        try:
            httpx.get(ready_url, timeout=1.0)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{service.name} did not answer at {ready_url} within {timeout:.0f} s"
                ) from None
            time.sleep(0.2)


class Services(ExitStack):
    """An ExitStack of services: leaving the block (or a signal) stops them in reverse order."""

    def start(self, name: str, command: Sequence[str], **kwargs: object) -> Service:
        service = start_service(name, command, **kwargs)  # type: ignore[arg-type]
        self.callback(service.stop)
        return service
