"""mdocument against its typed floor on the same driver, both in one process: the tightest pairing.

``crud.py`` runs every contender in a process of its own, as the issue's harness does. On a
shared machine its ratios move by ±0.1 from one run to the next: processes started seconds or
minutes apart meet different background load, CPU frequency and cache state, and ten rounds do
not decide a row to that precision. This script runs mdocument and the typed floor of one driver
(``raw+pydantic`` for PyMongo, ``motor+pydantic`` for Motor) in one process and one event loop,
with the same tasks, data and verification as ``crud.py`` (``_harness``). The two take turns
iteration by iteration (``_harness.Turns``): only one runs at a time, and the two samples of a
pair are a fraction of a second apart. Who goes first flips every round and every task. Each
contender has a database of its own, and the garbage collector runs before every timed
iteration (``Bench.measure``), so neither pays for the other's garbage.

On the shared 2-core machine of 2026-12, even pairs a quarter of a second apart differ by
±15 %: the noise is fast, so many pairs are needed, not far-apart ones. A row's ratio is the
median over all its pairs (rounds times measured iterations).

What it cannot show: what a separate process would add (nothing timed here: no import, no
connection set-up) and the peer ODMs (they need environments of their own; see ``crud.py``).

    python benchmarks/paired.py                            # both drivers, mixed + spec tasks
    python benchmarks/paired.py --drivers pymongo --tasks user_get_by_id --rounds 20
    python benchmarks/paired.py --smoke                    # tiny counts: CI's check

Each row: the median of the pairs' ratios (mdocument's CPU time over the floor's), its 95 %
interval (``_report.median_interval``), the 95 % interval of the rounds' medians, the target,
and whether the wider of the two intervals is wholly within it ("yes"), wholly above it ("NO")
or straddles it ("undecided").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script: `_harness` & co. live here
    sys.path.insert(0, str(HERE))

from _data import Data, load_data, shapes  # noqa: E402
from _harness import TASKS, Bench, Config, TaskResult, Turns, config_from  # noqa: E402
from _report import TASK_INFO, median_interval  # noqa: E402
from contenders import load  # noqa: E402
from crud import client_cpus, pin, server_for  # noqa: E402

# (floor, mdocument) of each driver.
PAIRS = {
    "pymongo": ("raw+pydantic", "mdocument"),
    "motor": ("motor+pydantic", "mdocument+motor"),
}
MIXED = ["user_insert_many", "user_insert_one", "user_fetch_all", "user_get_by_id", "user_update"]
SPEC = [
    "insert_many",
    "insert_one",
    "fetch_all",
    "get_by_id",
    "update_field",
    "find_fk",
    "large_create",
    "large_update",
    "nested_create",
    "nested_update",
    "nested_find",
    "nested_find_array",
]
READS = {"fetch_all", "get_by_id", "find_fk", "nested_find", "nested_find_array"}


def target(task: str) -> float:
    """The issue's target for a task: 1.10 for reads, 1.25 for writes (mixed and spec alike)."""
    return 1.10 if task.removeprefix("user_") in READS else 1.25


def verdict(interval: tuple[float, float] | None, limit: float) -> str:
    """Whether a row is within its target, by its interval."""
    if interval is None:
        return "too few rounds"
    low, high = interval
    return "yes" if high <= limit else "NO" if low > limit else "undecided"


async def run_task(
    driver: str, task: str, uri: str, config: Config, data: Data, floor_first: bool
) -> list[float]:
    """The ratios of mdocument's CPU time to the floor's in one task, one per pair of iterations.

    A pair is a measured iteration of mdocument and the floor's iteration it alternated with.
    Both contenders are opened anew (new clients, new classes), as a worker process of
    ``crud.py`` opens its contender for each task.
    """
    floor, ours = PAIRS[driver]
    order = [floor, ours] if floor_first else [ours, floor]
    turns = Turns(order)
    benches: dict[str, Bench] = {}

    async def one(name: str) -> TaskResult:
        await turns.start(name)
        try:
            return await TASKS[task](benches[name])
        finally:
            await turns.finish(name)

    try:
        for name in order:
            contender = load(name, shapes(data))
            await contender.open(uri)
            benches[name] = Bench(contender, uri, data, config)
            benches[name].turns = turns
        done = dict(zip(order, await asyncio.gather(*map(one, order)), strict=True))
    finally:
        for bench in benches.values():
            bench.close()
            await bench.contender.close()
    return [o / f for o, f in zip(done[ours].cpu, done[floor].cpu, strict=True)]


def run(
    drivers: list[str], config: Config, rounds: int, progress: bool
) -> dict[str, dict[str, list[list[float]]]]:
    """Per driver and task, the ratios of every pair, round by round.

    A fresh server for each task of each round (both drivers use it in turn), as ``crud.py``
    does by default: with one embedded server for the whole run, the large documents' tasks
    got ``internal server error`` from their second round on.
    """
    data = load_data(config.data_dir)
    ratios: dict[str, dict[str, list[list[float]]]] = {
        driver: {task: [] for task in config.tasks} for driver in drivers
    }
    for round_ in range(rounds):
        for position, task in enumerate(config.tasks):
            floor_first = (round_ + position) % 2 == 0
            with server_for(os.environ.get("MONGODB_URI")) as uri:  # or a fresh embedded one
                for driver in drivers:
                    pairs = asyncio.run(run_task(driver, task, uri, config, data, floor_first))
                    ratios[driver][task].append(pairs)
                    if progress:
                        shown = " ".join(f"{pair:.2f}" for pair in pairs)
                        print(f"  round {round_ + 1}/{rounds} {driver} {task}: {shown}", flush=True)
    return ratios


def summary(rounds: list[list[float]], limit: float) -> str:
    """One cell: the median of every pair, its interval, the rounds' interval and the verdict.

    The pairs of one round share a server and a moment, so they may lean together: the interval
    of the rounds' own medians (as ``crud.py`` gives) is shown too, and the verdict takes the
    wider of the two.
    """
    pairs = [pair for one in rounds for pair in one]
    by_pair = median_interval(pairs)
    by_round = median_interval([statistics.median(one) for one in rounds])
    shown = f"{statistics.median(pairs):.2f}"
    if by_pair is None or by_round is None:
        return f"{shown} {verdict(None, limit)}"
    wider = min(by_pair[0], by_round[0]), max(by_pair[1], by_round[1])
    return (
        f"{shown} [{by_pair[0]:.2f}-{by_pair[1]:.2f}] rounds [{by_round[0]:.2f}-{by_round[1]:.2f}]"
        f" {verdict(wider, limit)}"
    )


def report(results: dict[str, dict[str, list[list[float]]]], tasks: list[str]) -> str:
    """The table: per task, each driver's cell (see :func:`summary`)."""
    drivers = list(results)
    lines = [
        "| task | target | " + " | ".join(drivers) + " |",
        "| --- | --- | " + " | ".join("---" for _ in drivers) + " |",
    ]
    for task in tasks:
        limit = target(task)
        cells = [summary(results[driver][task], limit) for driver in drivers]
        lines.append(f"| {task} | {limit:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drivers", default="pymongo,motor", help="pymongo, motor or both")
    parser.add_argument("--tasks", default=",".join(MIXED + SPEC), help="comma-separated")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=5, help="measured, per task and round")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--ops", type=int, default=300, help="single operations, spec tasks")
    parser.add_argument("--bulk", type=int, default=1000, help="documents, spec bulk tasks")
    parser.add_argument("--large-ops", type=int, default=8)
    parser.add_argument("--user-ops", type=int, default=500)
    parser.add_argument("--user-bulk", type=int, default=5000)
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("ODM_BENCHMARK_DATA"),
        help="folder of the ODM benchmark spec's data files (see crud.py --help)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny counts, 2 rounds, two tasks unless --tasks"
    )
    parser.add_argument("--quiet", action="store_true", help="no line per round")
    parser.add_argument("--json", type=Path, help="write the pairs' ratios here")
    args = parser.parse_args(argv)
    if args.smoke:  # the code paths, in seconds: a fresh server costs ~3 s a task and round
        args.rounds, args.iterations, args.ops, args.bulk = 2, 1, 5, 10
        args.large_ops, args.user_ops, args.user_bulk = 1, 5, 10
        if args.tasks == parser.get_default("tasks"):
            args.tasks = "user_insert_many,user_update"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    drivers = [driver.strip() for driver in args.drivers.split(",") if driver.strip()]
    tasks = [task.strip() for task in args.tasks.split(",") if task.strip()]
    unknown = [d for d in drivers if d not in PAIRS] + [t for t in tasks if t not in TASK_INFO]
    if unknown:
        print(f"unknown driver or task: {', '.join(unknown)}", file=sys.stderr)
        return 2
    config = config_from(args, tasks, db_prefix="paired")
    # The measured contenders run in this process: it keeps the clients' CPU, the embedded
    # servers get the others (crud.pin; a server sharing the client's CPU evicts its caches).
    pinned = pin(not args.smoke)
    cpus = client_cpus()
    if cpus is not None:
        os.sched_setaffinity(0, cpus)
    print(
        f"tasks: {', '.join(tasks)}\nN: {config.ops} ops, {config.bulk} documents, "
        f"{config.large_ops} large; User: {config.user_ops} ops, {config.user_bulk} documents; "
        f"{config.warmup} warm-up + {config.iterations} measured iterations per task and round, "
        f"{args.rounds} rounds; a fresh server per task and round\nCPUs: {pinned}",
        flush=True,
    )
    started = time.perf_counter()
    results = run(drivers, config, args.rounds, not args.quiet)
    print(f"\n{time.perf_counter() - started:.0f} s. mdocument's CPU over the typed floor:\n")
    print(report(results, tasks))
    if args.json:
        args.json.write_text(json.dumps({"config": asdict(config), "ratios": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
