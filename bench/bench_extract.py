"""Extract benchmark: the sync as a user runs it (incremental_sync_job through Dagster) against the same
work in one process, and the core sync's memory as the account grows.

Per scale, a sandbox in its own process (on core 0 when taskset exists; rate limit off):
1. the core sync (`sync_all`, a full sync into a fresh file) in a child process: seconds, peak RSS (the
   child's own VmHWM: `ru_maxrss` of a child starts at its parent's RSS, which Linux carries across the
   exec), and requests per list against the pages a sync must request (ceil(records / 250) per listing,
   at least one: a resource whose API hides soft-deleted records is read by two listings);
2. at 10k and 50k variants, the first full sync both ways, each on a fresh data folder: the job's four
   steps' work in this process without Dagster (`bench/_pipeline.same_work`), and `incremental_sync_job`
   with `execute_in_process` on a DagsterInstance with SQLite storage under its own DAGSTER_HOME;
3. at 10k, the incremental sync with nothing changed, alternating: the same work in one process; the job
   through Dagster (SQLite instance), metered (events written, pool claims); the job on an in-memory
   instance (Dagster without its storage); `dagster job execute` in a new process.

Every figure is printed next to its baseline from the same run; goals are printed as references, never
as pass/fail. Run: `.venv/bin/python -m bench extract` (several minutes; `make bench` runs all).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench._pipeline import JobRun, PipelineHome
from bench._sandbox import sandbox_process
from gecko_pipeline.warehouse.catalog import RESOURCE_LIST
from gecko_pipeline.warehouse.publish import publish

RSS_SCALES = (10_000, 50_000, 100_000)
TIMED_SCALES = (10_000, 50_000)
FULL_REPEATS = {10_000: 2, 50_000: 2}
INCREMENTAL_SCALE, INCREMENTAL_REPEATS, CLI_REPEATS = 10_000, 5, 2
REAL_QUOTA, REAL_WINDOW = 300, 300.0
RSS_GOAL_MB, FULL_RATIO_GOAL, INCREMENTAL_GOAL_S = 300, 1.3, 3.0
SCALES = [int(s) for s in os.environ.get("BENCH_EXTRACT_SCALES", "").split(",") if s] or list(RSS_SCALES)


# --- 1. the core sync in a child process --------------------------------------------------------------


def core_sync(url: str, path: Path) -> dict[str, Any]:
    """bench/_core_sync.py in a new process (which imports no Dagster): its figures."""
    out = subprocess.run(
        [sys.executable, "-m", "bench._core_sync", url, str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    if out.returncode:
        raise RuntimeError(f"the sync failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def report_core(scale: int, core: dict[str, Any]) -> None:
    rows = sum(core["rows"].values())
    print(
        f"core sync in a child process (sync_all, full, fresh file, DuckDB memory_limit {core['memory_limit']}): "
        f"{core['seconds']:.1f} s, {rows:,} rows ({rows / core['seconds']:,.0f} rows/s); peak RSS "
        f"{core['peak_rss_mb']:.0f} MB (the same process before the sync: {core['before_mb']:.0f} MB)"
    )
    print("requests per list against the pages a full sync must request (ceil(records/250) per listing):")
    print(f"  {'list':22} {'requests':>9} {'minimum':>8} {'ratio':>6}")
    for name, need in core["minimum"].items():
        got = core["requests"].get(name, 0)
        note = "  (side-loaded with products)" if need == 0 else ""
        ratio = f"{got / need:6.2f}" if need else "     -"
        print(f"  {name:22} {got:>9} {need:>8} {ratio}{note}")
    spent, minimum = sum(core["requests"].values()), sum(core["minimum"].values())
    print(f"  {'all':22} {spent:>9} {minimum:>8} {spent / minimum:6.2f}")
    windows = math.ceil(spent / REAL_QUOTA)
    print(
        f"at the real limit ({REAL_QUOTA} per {REAL_WINDOW:.0f} s): {spent} requests need {windows} window(s): at "
        f"least {(windows - 1) * REAL_WINDOW / 60:.0f} min of waiting for resets"
    )


# --- 2. and 3. through Dagster and in one process ------------------------------------------------------


def _api_requests(url: str, action: Callable[[], Any]) -> tuple[Any, int]:
    """`action()` and the API requests it made (the sandbox's counter)."""
    httpx.post(f"{url}/_sandbox/stats/reset").raise_for_status()
    result = action()
    return result, int(httpx.get(f"{url}/_sandbox/stats").json()["requests"])


def _overhead(run: JobRun, work_s: float) -> str:
    """Where a run's time beyond the same work went."""
    meter = run.meter
    if meter is None:
        return ""
    events_s, pool_s = meter.seconds.get("events", 0.0), meter.seconds.get("pool", 0.0)
    written = meter.calls.get("events", 0)
    rest = run.seconds - work_s - events_s - pool_s
    return (
        f"{written} events written to the event log in {events_s:.2f} s ({1000 * events_s / max(written, 1):.1f} ms "
        f"each), pool slot claims {pool_s:.2f} s, the rest (plan, contexts, outputs; and noise) {rest:.2f} s"
    )


def first_full_sync(url: str, root: Path, scale: int) -> tuple[PipelineHome, PipelineHome]:
    """The first (full) sync both ways, alternating, each on a fresh data folder; returns the last pair."""
    work: list[tuple[float, float]] = []
    runs: list[JobRun] = []
    for n in range(FULL_REPEATS[scale]):
        plain, dagster = PipelineHome(root, f"plain{n}", url), PipelineHome(root, f"dagster{n}", url)
        work.append(plain.same_work())
        runs.append(dagster.run_in_process(dagster.definitions()))
    work_s = statistics.median(w[0] for w in work)
    extract_s = statistics.median(w[1] for w in work)
    run_s = statistics.median(r.seconds for r in runs)
    step_s = statistics.median(r.steps.get("extract", 0.0) for r in runs)
    median_run = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    print(f"first full sync, fresh data folder, median of {len(runs)} (alternating):")
    print(
        f"  same work in one process (the four steps' work, no Dagster): {work_s:.2f} s (extract {extract_s:.2f} s)"
    )
    print(
        f"  incremental_sync_job through Dagster (execute_in_process, SQLite instance): {run_s:.2f} s = "
        f"{run_s / work_s:.2f}x (goal <= {FULL_RATIO_GOAL}x); its extract step {step_s:.2f} s = "
        f"{step_s / extract_s:.2f}x the extract's work in one process"
    )
    print(f"    Dagster's own: {_overhead(median_run, work_s)}")
    return plain, dagster


def incremental(url: str, plain: PipelineHome, dagster: PipelineHome) -> None:
    """Nothing changed since the full sync: the same work, the job on SQLite and in-memory instances,
    and `dagster job execute`, alternating."""
    defs = dagster.definitions()
    work: list[tuple[float, float]] = []
    runs: list[JobRun] = []
    memory: list[JobRun] = []
    cli: list[JobRun] = []
    for n in range(INCREMENTAL_REPEATS):
        result, requests = _api_requests(url, plain.same_work)
        work.append(result)
        runs.append(dagster.run_in_process(defs))
        memory.append(dagster.run_in_process(defs, ephemeral=True))
        if n < CLI_REPEATS:
            cli.append(dagster.run_cli())
    work_s = statistics.median(w[0] for w in work)
    extract_s = statistics.median(w[1] for w in work)
    run_s = statistics.median(r.seconds for r in runs)
    median_run = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    memory_s = statistics.median(r.seconds for r in memory)
    cli_s = statistics.median(r.seconds for r in cli)
    startup_s = statistics.median(r.startup_s for r in cli)
    listings = sum(1 if r.single else len(r.listings(full=False)) for r in RESOURCE_LIST)
    print(
        f"incremental sync, nothing changed: {requests} API requests (the minimum: one page per listing, "
        f"{listings}), median of {len(runs)} (alternating):"
    )
    print(f"  same work in one process: {work_s:.2f} s (extract {extract_s:.2f} s)")
    print(
        f"  through Dagster (execute_in_process, SQLite instance): {run_s:.2f} s = {run_s - work_s:+.2f} s "
        f"(goal: within {INCREMENTAL_GOAL_S:.0f} s), {run_s / work_s:.2f}x; {median_run.events} events in the run"
    )
    print(f"    Dagster's own: {_overhead(median_run, work_s)}")
    print(
        f"  through Dagster on an in-memory instance (no event-log storage): {memory_s:.2f} s = "
        f"{memory_s - work_s:+.2f} s"
    )
    print(
        f"  `dagster job execute` (a new process, SQLite instance, median of {len(cli)}): {cli_s:.2f} s = "
        f"{cli_s - work_s:+.2f} s, of which {startup_s:.2f} s before the run exists (Python, imports, definitions)"
    )


# --- the whole benchmark -------------------------------------------------------------------------------


def publish_cost(path: Path, scale: int, sync_seconds: float) -> None:
    """One publish of the synced file (checkpoint, copy, atomic swap: what `published_warehouse` does after
    every sync, push and refresh), against a bare copy of the same file and the sync it follows."""
    copies = []
    for _ in range(3):
        started = time.perf_counter()
        shutil.copyfile(path, path.with_suffix(".copy"))
        copies.append(time.perf_counter() - started)
    runs = [publish(path, path.with_name("published.duckdb")) for _ in range(3)]
    seconds = statistics.median(r.seconds for r in runs)
    copy_s = statistics.median(copies)
    print(
        f"one publish at {scale:,} variants ({runs[0].bytes / 1e6:,.0f} MB, median of 3): {seconds:.2f} s; a bare "
        f"copy of the file {copy_s:.2f} s ({seconds / copy_s:.2f}x); {seconds / sync_seconds:.1%} of the full sync"
    )


def _sandbox(scale: int) -> Any:
    return sandbox_process("--scale", str(scale), "--rate-limit-quota", "1000000000", timeout=400)


def main() -> None:
    peaks: dict[int, float] = {}
    for scale in SCALES:
        print(f"\n== {scale:,} variants (sandbox in its own process; rate limit off)", flush=True)
        with _sandbox(scale) as url, tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
            root = Path(tmp)
            core = core_sync(url, root / "core.duckdb")
            report_core(scale, core)
            publish_cost(root / "core.duckdb", scale, core["seconds"])
            peaks[scale] = core["peak_rss_mb"]
            if scale in TIMED_SCALES:
                plain, dagster = first_full_sync(url, root, scale)
                if scale == INCREMENTAL_SCALE:
                    incremental(url, plain, dagster)
    first = SCALES[0]
    print(f"\npeak RSS of the core sync (child process VmHWM; goal <= {RSS_GOAL_MB} MB, flat):")
    for scale, peak in peaks.items():
        print(
            f"  {scale:>7,} variants: {peak:5.0f} MB = {peak / peaks[first]:.2f}x the {first:,}-variant sync"
        )


if __name__ == "__main__":
    main()
