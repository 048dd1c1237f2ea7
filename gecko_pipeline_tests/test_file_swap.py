"""A new version of a file takes its name atomically; the old version is set aside, then deleted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gecko_pipeline.channels import file_swap


@pytest.fixture(params=["exchange", "rename"])
def swap_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways: the atomic exchange (Linux) and the rename a system without it falls back to."""
    if request.param == "rename":
        monkeypatch.setattr(file_swap, "_renameat2", None)
    elif file_swap._renameat2 is None:
        pytest.fail("this Linux C library has no renameat2: the exchange is never used here")
    return str(request.param)


def test_the_new_version_takes_the_name_and_the_old_one_is_set_aside(tmp_path: Path, swap_way: str) -> None:
    target, temp = tmp_path / "listings.csv", tmp_path / ".listings.csv.1.tmp"
    target.write_text("old ünïcode\n")
    temp.write_text("new\n")
    new_inode = temp.stat().st_ino
    with target.open() as reader:  # a reader that opened the old file keeps reading it
        retired = file_swap.move_into_place(temp, target)
        assert reader.read() == "old ünïcode\n"
    assert target.read_text() == "new\n" and target.stat().st_ino == new_inode
    assert not temp.exists()
    assert file_swap.final_name(file_swap.temp_name(target)) == target
    assert retired is not None and retired.name.endswith(file_swap.RETIRED)
    assert retired.read_text() == "old ünïcode\n"
    file_swap.RETIRER.retire([retired])
    file_swap.wait_for_retired_files()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["listings.csv"]


def test_a_first_version_has_nothing_to_set_aside(tmp_path: Path, swap_way: str) -> None:
    target, temp = tmp_path / "listings.json", tmp_path / ".listings.json.1.tmp"
    temp.write_text("[]\n")
    assert file_swap.move_into_place(temp, target) is None
    assert target.read_text() == "[]\n" and not temp.exists()


def test_a_swap_that_fails_for_another_reason_says_so(tmp_path: Path) -> None:
    if file_swap._renameat2 is None:
        pytest.fail("this Linux C library has no renameat2")
    target = tmp_path / "listings.csv"
    target.write_text("old\n")
    (tmp_path / "x").write_text("x")
    with pytest.raises(NotADirectoryError):  # an error, not a quiet fall back to the rename
        file_swap._exchange(tmp_path / "x" / "nested", target)
    assert target.read_text() == "old\n"


def test_a_sweep_deletes_what_dead_processes_left_and_nothing_a_live_one_writes(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])  # noqa: S607 - a process that is surely gone once waited for
    dead.wait()
    left = {
        "retired": tmp_path / f".listings.csv.{dead.pid}.123{file_swap.RETIRED}",
        "dead temp": tmp_path / f".listings.json.{dead.pid}{file_swap.TEMP}",
        "live temp": tmp_path / f".listings.csv.1{file_swap.TEMP}",  # pid 1 lives as long as the machine
        "own temp": file_swap.temp_name(tmp_path / "listings.csv"),
        "listing": tmp_path / "listings.csv",
    }
    for path in left.values():
        path.write_text("x")
    file_swap.RETIRER.sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        left[k].name for k in ("live temp", "own temp", "listing")
    )
