"""`finishes(fn, within=..., what=...)`: run fn in a daemon thread and fail the test, instead of hanging
it, when fn does not return in time. For asserting that something finishes, never how fast."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def finishes(fn: Callable[[], T], *, within: float, what: str) -> T:
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            outcome["error"] = exc

    # A daemon thread: if fn hangs, the test fails and the process can still exit.
    thread = threading.Thread(target=target, name=f"bounded: {what}", daemon=True)
    thread.start()
    thread.join(within)
    if thread.is_alive():
        pytest.fail(f"{what} did not finish within {within:g}s: it hangs")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
