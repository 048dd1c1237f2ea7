"""Putting a new version of a large file in place atomically, with the old version freed off the caller's path.

Readers see the old file or the new one, never a mix or a gap. Two costs of doing this on ext4 are kept
away from the caller:
  - renaming a file over an existing one makes ext4 push the new file's data towards the disk first
    (`auto_da_alloc`), which waits on the disk under load (tenths of a second for 100 MB here); an atomic
    exchange of the two names (Linux `renameat2(RENAME_EXCHANGE)`) swaps them without that, and leaves the
    old version under the new file's name;
  - freeing a large file's blocks waits on the disk too (ext4 with `discard`): the old version is given a
    hidden `.retired` name and deleted by a background thread.
Where the exchange is not available (not Linux, an old C library, a file system without it), a plain
rename over the target does the same job a little slower.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

# The suffix of an old version waiting to be deleted, and of a new version being written.
RETIRED = ".retired"
TEMP = ".tmp"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2: Any
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
except (AttributeError, OSError):  # not glibc >= 2.28
    _renameat2 = None


def _exchange(first: Path, second: Path) -> bool:
    """Swaps two existing names atomically. False when this system cannot (the caller falls back)."""
    if _renameat2 is None:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOENT, errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.ENOTSUP):
        return False  # no old version yet, or the file system cannot exchange
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def temp_name(target: Path) -> Path:
    """Where this process writes the next version of `target` (hidden, named after its process)."""
    return target.with_name(f".{target.name}.{os.getpid()}{TEMP}")


def final_name(temp: Path) -> Path:
    """The file a `temp_name` is the next version of."""
    return temp.with_name(temp.name[1:].removesuffix(TEMP).rpartition(".")[0])


def _dead(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _retired_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{time.time_ns()}{RETIRED}")


def move_into_place(temp: Path, target: Path) -> Path | None:
    """Moves `temp` onto `target` atomically. Returns the old version's new (hidden) name, to be deleted
    later with `RETIRER.retire`, or None when there was no old version or it is already gone."""
    if _exchange(temp, target):
        retired = _retired_name(target)
        os.rename(temp, retired)  # `temp` now names the old version; the new name does not exist yet
        return retired
    retired_link: Path | None = _retired_name(target)
    try:
        os.link(target, retired_link)  # type: ignore[arg-type]
    except OSError:  # no old version, or no hard links here: the rename frees it right away
        retired_link = None
    os.replace(temp, target)
    return retired_link


class Retirer:
    """One background thread that deletes old versions. Python waits for it at exit; a version left
    behind by a process that died is deleted by the next `sweep` of its folder."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        self.pending: dict[Path, Future[None]] = {}

    def retire(self, paths: Sequence[Path]) -> None:
        self.pool = self.pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="file-retire")
        self.pending = {p: f for p, f in self.pending.items() if not f.done()}
        for path in paths:
            self.pending[path] = self.pool.submit(path.unlink, missing_ok=True)

    def sweep(self, folder: Path) -> None:
        """Deletes the old versions in `folder` that are not already on their way out, and the new
        versions a process that died was writing (or had just swapped out: see move_into_place)."""
        for path in folder.glob(f".*{RETIRED}"):
            if path not in self.pending:
                path.unlink(missing_ok=True)
        for path in folder.glob(f".*{TEMP}"):
            pid = path.name.removesuffix(TEMP).rpartition(".")[2]
            if pid.isdigit() and _dead(int(pid)):
                path.unlink(missing_ok=True)

    def wait(self) -> None:
        for future in list(self.pending.values()):
            future.result()
        self.pending.clear()


RETIRER = Retirer()


def wait_for_retired_files() -> None:
    """Blocks until the old versions replaced so far are deleted (tests, benchmarks)."""
    RETIRER.wait()
