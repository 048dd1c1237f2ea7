"""A server in its own process for a benchmark: the sandbox (`sandbox_process`) or any command
(`server_process`), on a free loopback port, pinned to core 0 when taskset exists so that the measured
client keeps the other core, and stopped with its whole process group on exit (gecko_pipeline.tools.processes)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from gecko_pipeline.tools.processes import Services, free_port, gecko_command

HOST = "127.0.0.1"
TOKEN = "bench-token"


def pinned(command: Sequence[str]) -> list[str]:
    """`command` on core 0 when taskset exists and there is another core for the client."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", "0", *command]
    return list(command)


@contextlib.contextmanager
def server_process(
    name: str,
    command: Callable[[int], Sequence[str]],
    *,
    ready_path: str = "/",
    env: Mapping[str, str] | None = None,
    pin: bool = True,
    timeout: float = 240.0,
) -> Iterator[str]:
    """Serves `command(port)` on a free port; yields its URL once `ready_path` answers (any status).

    Its output goes to a log file (a pipe nobody reads would fill up and stall the server), whose tail
    a failure to start shows."""
    port = free_port(HOST)
    url = f"http://{HOST}:{port}"
    argv = pinned(command(port)) if pin else list(command(port))
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp, Services() as services:
        log_path = Path(tmp) / f"{name}.log"
        try:
            services.start(
                name, argv, ready_url=url + ready_path, env=env, log_path=log_path, timeout=timeout
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log_path.read_text(errors='replace')[-2000:]}") from None
        yield url


def sandbox_process(
    *options: str, token: str = TOKEN, pin: bool = True, timeout: float = 240.0
) -> contextlib.AbstractContextManager[str]:
    """`gecko-pipeline sandbox` with `options` (scale, limits...), no access log; yields its URL."""

    def command(port: int) -> list[str]:
        return gecko_command(
            "--log-level",
            "WARNING",
            "sandbox",
            "--quiet",
            "--host",
            HOST,
            "--port",
            str(port),
            "--token",
            token,
            *options,
        )

    return server_process("sandbox", command, ready_path="/_sandbox/stats", pin=pin, timeout=timeout)
