"""CRUD benchmark: mdocument's client-side cost against the raw driver and other ODMs.

Each contender (raw PyMongo async, PyMongo + plain pydantic models, mdocument, the same three on
Motor, Beanie, ODMantic) runs in its own Python process, with its own virtual environment where its
dependencies conflict with mdocument's, against a MongoDB-compatible server in another process.
The metric is the client process's CPU time (``time.process_time()``) per operation, as a ratio
to the raw driver's; wall time is shown for information (on the embedded server, the server's own
speed dominates it). See ``benchmarks/README.md``.

    python benchmarks/crud.py --setup-peers       # once: virtual environments of the peer ODMs
    python benchmarks/crud.py                     # default counts: 8 to 10 minutes on 2 cores
    python benchmarks/crud.py --quick             # small counts, about a minute
    python benchmarks/crud.py --smoke             # tiny counts, 1 iteration: CI's check
    python benchmarks/crud.py --profile           # cProfile of mdocument's hot paths
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script or imported: `_harness` & co. live here
    sys.path.insert(0, str(HERE))

from _harness import TASKS, Config, config_from  # noqa: E402
from _report import (  # noqa: E402
    floor_summary,
    markdown,
    profile_summaries,
    ratio_summary,
    summarise,
    table,
)

CONTENDERS = [
    "raw",
    "raw+pydantic",
    "mdocument",
    "motor",
    "motor+pydantic",
    "mdocument+motor",
    "beanie",
    "odmantic",
]
# Contenders that run from a virtual environment of their own, and what is installed there.
PEERS: dict[str, list[str]] = {
    "beanie": ["beanie>=2,<3"],
    "odmantic": ["odmantic>=1,<2"],
}
# Contenders on Motor run in the current interpreter when it has Motor (mdocument's `motor`
# extra); raw Motor otherwise borrows ODMantic's environment.
MOTOR = {"motor", "motor+pydantic", "mdocument+motor"}
BORROWED = {"motor": "odmantic"}
# The module a peer's environment must import.
PEER_MODULES = {"beanie": "beanie", "odmantic": "odmantic"}
PROFILE_TASKS = ["fetch_all", "get_by_id", "update_field"]
DEFAULT_VENVS = Path(
    os.environ.get("MDOCUMENT_BENCH_VENVS")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mdocument-bench"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts, about a minute")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny counts, no warm-up, 1 iteration, one server: checks that every task runs",
    )
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated, among {', '.join(CONTENDERS)} (default: all)",
    )
    parser.add_argument("--tasks", help=f"comma-separated, among {', '.join(TASKS)} (default: all)")
    parser.add_argument("--skip-large", action="store_true", help="leave out the large_* tasks")
    parser.add_argument("--ops", type=int, help="operations per iteration (default 150)")
    parser.add_argument(
        "--bulk", type=int, help="documents of insert_many and fetch_all (default 1000)"
    )
    parser.add_argument("--large-ops", type=int, help="large documents per iteration (default 8)")
    parser.add_argument(
        "--user-ops", type=int, help="operations per iteration, mixed User tasks (default 500)"
    )
    parser.add_argument(
        "--user-bulk", type=int, help="documents of the mixed User bulk tasks (default 5000)"
    )
    parser.add_argument(
        "--iterations", type=int, help="measured iterations per task and round (default 3)"
    )
    parser.add_argument("--warmup", type=int, help="warm-up iterations per task (default 1)")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("ODM_BENCHMARK_DATA"),
        help="folder of the ODM benchmark spec's small_doc.json, large_doc.json and "
        "large_doc_nested.json ($ODM_BENCHMARK_DATA); documents of the same shape are "
        "generated for missing files",
    )
    parser.add_argument(
        "--server",
        choices=["per-task", "shared"],
        default="per-task",
        help="a fresh embedded server for each task, which all contenders of the task use in "
        "turn (default), or one for the whole run; ignored when $MONGODB_URI is set",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="run everything this many times, pooling the samples (default 2, --quick 1)",
    )
    parser.add_argument(
        "--venvs-dir",
        type=Path,
        default=DEFAULT_VENVS,
        help=f"virtual environments of the peer ODMs (default {DEFAULT_VENVS})",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="CONTENDER=PATH",
        help="run a contender with this interpreter",
    )
    parser.add_argument(
        "--peers-here",
        action="store_true",
        help="run the peer ODMs in this interpreter, which has them (nox -s bench: the bench "
        "extra), instead of from their own virtual environments",
    )
    parser.add_argument(
        "--setup-peers",
        action="store_true",
        help="create the peers' virtual environments (python -m venv + pip install) first",
    )
    parser.add_argument("--json", type=Path, help="also write the results here, as JSON")
    parser.add_argument(
        "--markdown", type=Path, help="also write the tables here, as Markdown (per shape)"
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="mdocument",
        metavar="CONTENDERS",
        help="profile (cProfile) the timed phases of these contenders (default mdocument) for "
        f"--tasks (default here: {', '.join(PROFILE_TASKS)}) and print the top costs",
    )
    parser.add_argument("--profile-dir", type=Path, help="keep the .prof files here")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the system place the processes (default on Linux with 2 CPUs or more: the "
        "measured client on the first CPU, the embedded server on the others)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "ops": 30 if quick else 150,
        "bulk": 100 if quick else 1000,
        "large_ops": 2 if quick else 8,
        "user_ops": 50 if quick else 500,
        "user_bulk": 500 if quick else 5000,
        "iterations": 2 if quick else 3,
        "warmup": 1,
        "rounds": 1 if quick else 2,
    }
    if args.smoke:
        defaults = {
            "ops": 3,
            "bulk": 10,
            "large_ops": 1,
            "user_ops": 3,
            "user_bulk": 10,
            "iterations": 1,
            "warmup": 0,
            "rounds": 1,
        }
        args.server = "shared"
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.tasks is None:
        args.tasks = ",".join(PROFILE_TASKS if args.profile else TASKS)
    return args


# -- interpreters -------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def setup_peers(venvs: Path, names: list[str]) -> None:
    """Create (or update) the virtual environment of each peer ODM."""
    for name in names:
        if name not in PEERS:
            continue
        venv = venvs / name
        if not venv_python(venv).exists():
            print(f"creating {venv}", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        print(f"installing {' '.join(PEERS[name])} into {venv}", flush=True)
        subprocess.run(
            [str(venv_python(venv)), "-m", "pip", "install", "-q", "-U", *PEERS[name]],
            check=True,
        )


def interpreters(
    args: argparse.Namespace, names: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The Python of each contender that can run, and why the others cannot."""
    given = dict(item.split("=", 1) for item in args.python)
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    here = {module: importlib.util.find_spec(module) is not None for module in ("motor", *PEERS)}
    for name in names:
        if name in given:
            found[name] = given[name]
            continue
        if name in MOTOR and here["motor"]:
            found[name] = sys.executable
            continue
        owner = BORROWED.get(name, name)
        if owner not in PEERS:
            if name in MOTOR:
                missing[name] = "Motor is not installed here (pip install -e '.[motor]')"
            else:
                found[name] = sys.executable
            continue
        python = venv_python(args.venvs_dir / owner)
        if args.peers_here and here[PEER_MODULES[owner]]:
            found[name] = sys.executable
        elif python.exists():
            found[name] = str(python)
        elif here[PEER_MODULES[owner]]:  # installed here, and no environment of its own
            found[name] = sys.executable
        else:
            missing[name] = f"no {python} (run with --setup-peers, or pass --python {name}=PATH)"
    return found, missing


# -- CPUs ---------------------------------------------------------------------------------------

# (client CPUs, server CPUs) when pinned. A client and the server sharing one CPU evict each
# other's caches on every round trip, and where the system put them changed a ratio of 500
# single operations by 10-30 % from one process to the next.
_split: tuple[set[int], set[int]] | None = None


def pin(enabled: bool) -> str:
    """Split this machine's CPUs between the measured clients and the server; what was done."""
    global _split
    if not enabled or not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return "not pinned (one CPU)"
    _split = {cpus[0]}, set(cpus[1:])
    return f"clients pinned to CPU {cpus[0]}, the embedded server to CPUs {cpus[1:]}"


def client_cpus() -> set[int] | None:
    """The CPUs :func:`pin` gave the measured clients (``None``: not pinned)."""
    return None if _split is None else _split[0]


def _on_cpus(cpus: set[int] | None) -> Any:
    """A ``preexec_fn`` that runs the child on ``cpus`` (``None``: anywhere)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


# -- server -------------------------------------------------------------------------------------


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    from mdocument.embedded import EmbeddedServer

    # The server's processes inherit this process's CPUs while it starts.
    everywhere = os.sched_getaffinity(0) if _split is not None else None
    if _split is not None:
        os.sched_setaffinity(0, _split[1])
    try:
        server = EmbeddedServer().start()
    finally:
        if everywhere is not None:
            os.sched_setaffinity(0, everywhere)
    try:
        yield server.uri
    finally:
        server.stop()


@contextlib.contextmanager
def server_for(shared: str | None) -> Iterator[str]:
    """The URI of the server a task runs on: the shared one, or a fresh one."""
    if shared is not None:
        yield shared
        return
    with embedded_server() as uri:
        yield uri


# -- running ------------------------------------------------------------------------------------


def run_worker(
    name: str, python: str, uri: str, config: Config, profile_dir: Path | None
) -> dict[str, Any]:
    """Run one contender in its own process; its report, or one whose tasks all failed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [
            python,
            str(HERE / "_worker.py"),
            "--contender",
            name,
            "--uri",
            uri,
            "--config",
            json.dumps(asdict(config)),
            "--out",
            str(out),
        ]
        if profile_dir is not None:
            command += ["--profile-dir", str(profile_dir)]
        clients = _split[0] if _split is not None else None
        process = subprocess.run(command, check=False, preexec_fn=_on_cpus(clients))
        if process.returncode == 0 and out.exists():
            report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
            return report
    error = f"worker exited with status {process.returncode}"
    return {
        "contender": name,
        "versions": {},
        "results": [
            {"task": t, "contender": name, "ops": 0, "cpu": [], "wall": [], "error": error}
            for t in config.tasks
        ],
    }


def run_all(
    args: argparse.Namespace,
    tasks: list[str],
    pythons: dict[str, str],
    config: Config,
    profile_dir: Path | None,
) -> list[dict[str, Any]]:
    """Every task for every contender, one process each; one report per contender.

    Contenders take turns task by task, so that all contenders of a task are measured within a
    short time of each other (on a shared machine, the background load changes over minutes);
    their order rotates from one task (and round) to the next.
    """
    reports: dict[str, dict[str, Any]] = {}
    names = list(pythons)
    external = os.environ.get("MONGODB_URI")
    with contextlib.ExitStack() as stack:
        shared = external
        if shared is None and args.server == "shared":
            shared = stack.enter_context(embedded_server())
        if args.smoke:  # one process per contender for every task: seconds, not minutes
            uri = shared or ""
            for name in names:
                report = run_worker(name, pythons[name], uri, config, profile_dir)
                for result in report["results"]:
                    _progress(0, result["task"], name, result, 0.0)
                reports[name] = {**report, "python": pythons[name]}
            return [reports[name] for name in names]
        turn = 0
        for round_ in range(args.rounds):
            for task in tasks:
                with server_for(shared) as uri:
                    order = names[turn % len(names) :] + names[: turn % len(names)]
                    turn += 1
                    for name in order:
                        begun = time.perf_counter()
                        one = replace(config, tasks=[task])
                        report = run_worker(name, pythons[name], uri, one, profile_dir)
                        result = report["results"][0]
                        _progress(round_, task, name, result, time.perf_counter() - begun)
                        merged = reports.setdefault(name, {**report, "results": []})
                        merged["python"] = pythons[name]
                        _merge(merged["results"], result)
    return [reports[name] for name in names if name in reports]


def _merge(results: list[dict[str, Any]], result: dict[str, Any]) -> None:
    """Pool the samples of one more round of a task with the earlier ones."""
    for earlier in results:
        if earlier["task"] == result["task"]:
            earlier["cpu"] += result["cpu"]
            earlier["wall"] += result["wall"]
            earlier["error"] = earlier["error"] or result["error"]
            return
    results.append(result)


def _progress(round_: int, task: str, name: str, result: dict[str, Any], seconds: float) -> None:
    if result["error"]:
        what = f"FAILED: {result['error']}"
    else:
        cpu = statistics.median(result["cpu"]) / result["ops"] * 1e6
        what = f"{cpu:9.1f} µs CPU/unit"
    print(f"  [{round_ + 1}] {task:<18} {name:<15} {what}  ({seconds:.1f} s)", file=sys.stderr)


def epilogue(pythons: dict[str, str], profile_dir: Path | None) -> None:
    """The profiles of a profiling run; otherwise the query language's cost."""
    if profile_dir is not None:
        print("\nProfiles (cProfile, timed phases only):\n")
        print(profile_summaries(profile_dir))
    elif "mdocument" in pythons:
        # Issue 5's budget: building and compiling a typed query < 5% of a find-by-id.
        print("\nQuery language cost (benchmarks/query_cost.py):\n", flush=True)
        script = str(Path(__file__).with_name("query_cost.py"))
        subprocess.run([sys.executable, script], check=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [name.strip() for name in args.contenders.split(",") if name.strip()]
    tasks = [task.strip() for task in args.tasks.split(",") if task.strip()]
    if args.skip_large:
        tasks = [task for task in tasks if not task.startswith("large_")]
    unknown = [n for n in names if n not in CONTENDERS] + [t for t in tasks if t not in TASKS]
    if unknown:
        print(f"unknown contender or task: {', '.join(unknown)}", file=sys.stderr)
        return 2
    profiled: list[str] = []
    if args.profile:
        profiled = [name.strip() for name in args.profile.split(",")]
        names = profiled
    if args.setup_peers:
        setup_peers(args.venvs_dir, sorted({BORROWED.get(name, name) for name in names}))
    pythons, skipped = interpreters(args, names)
    config = config_from(args, tasks)
    pinned = pin(args.pin and not args.smoke)
    external = os.environ.get("MONGODB_URI")
    server_mode = (
        "$MONGODB_URI (one server for all contenders)"
        if external
        else "embedded SecantusDB, "
        + ("a fresh server per task" if args.server == "per-task" else "one server for the run")
    )
    print(
        f"tasks: {', '.join(tasks)}\ncontenders: {', '.join(pythons)}\n"
        f"N: {config.ops} ops per iteration, {config.bulk} documents for insert_many/fetch_all, "
        f"{config.large_ops} large documents; mixed User: {config.user_ops} ops, "
        f"{config.user_bulk} documents; {config.warmup} warm-up + {config.iterations} "
        f"measured iterations per task and round, {args.rounds} round(s)\n"
        f"processes: one per task and contender, contenders taking turns task by task\n"
        f"server: {server_mode}\nCPUs: {pinned}",
        flush=True,
    )
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}", flush=True)

    profile_dir = args.profile_dir
    cleanup: tempfile.TemporaryDirectory[str] | None = None
    if profiled and profile_dir is None:
        cleanup = tempfile.TemporaryDirectory()
        profile_dir = Path(cleanup.name)

    started = time.perf_counter()
    reports = run_all(args, tasks, pythons, config, profile_dir if profiled else None)
    elapsed = time.perf_counter() - started

    rows = summarise(reports)
    order = list(pythons)
    print(
        f"\nResults ({elapsed:.0f} s).\n"
        "CPU = CPU time of the client process (process_time) per unit, median of the samples;\n"
        "± = median absolute deviation of the CPU samples, relative to their median;\n"
        "/raw = CPU ratio to raw PyMongo async; /raw+pyd = to PyMongo + plain pydantic models;\n"
        "/floor = to the contender's typed floor (raw+pydantic, or motor+pydantic on Motor),\n"
        "  the median of the ratios of samples paired by round and iteration;\n"
        "wall = elapsed time per unit, for information (the server's speed dominates it).\n"
    )
    print(table(rows, order))
    print()
    print(ratio_summary(rows, order))
    print()
    print(floor_summary(rows))
    print("\nversions:")
    for report in reports:
        versions = ", ".join(f"{k} {v}" for k, v in report.get("versions", {}).items())
        print(f"  {report['contender']:<15} {versions}")
    sources = next((r["data"] for r in reports if r.get("data")), {})
    for file, source in sources.items():
        print(f"data {file}: {source}")
    if args.markdown:
        args.markdown.write_text(markdown(rows, order), encoding="utf-8")
        print(f"\nMarkdown written to {args.markdown}")
    if not args.smoke:
        epilogue(pythons, profile_dir if profiled else None)
    write_json(args, config, server_mode, elapsed, skipped, reports, rows)
    if cleanup is not None:
        cleanup.cleanup()
    failed = [row for row in rows if row.error is not None]
    return 1 if failed else 0


def write_json(
    args: argparse.Namespace,
    config: Config,
    server_mode: str,
    elapsed: float,
    skipped: dict[str, str],
    reports: list[dict[str, Any]],
    rows: list[Any],
) -> None:
    """Every sample, the versions and the configuration, to ``--json``."""
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "config": asdict(config),
                    "server": server_mode,
                    "elapsed_s": elapsed,
                    "skipped": skipped,
                    "reports": reports,
                    "rows": [asdict(row) for row in rows],
                },
                indent=1,
            ),
            encoding="utf-8",
        )
        print(f"\nJSON written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
