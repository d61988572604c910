"""Turning workers' measurements into the results table, and cProfile stats into a summary."""

from __future__ import annotations

import io
import math
import pstats
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What each task times, as the table's notes show it. "doc" tasks report per document.
TASK_INFO: dict[str, tuple[str, str, str]] = {
    # task: (group, unit, what the "do task" phase does)
    "insert_many": ("core", "doc", "build N small objects + one bulk insert"),
    "insert_one": ("core", "op", "build + insert one small object, N times (spec: creation)"),
    "fetch_all": ("core", "doc", "load all N small documents into objects"),
    "get_by_id": ("core", "op", "get a small document by _id, N times (spec: find by filter)"),
    "update_field": ("core", "op", "set field1 on a loaded small object + save, N times"),
    "find_fk": ("spec", "op", "find the small document by its foreign key (a Ref), N times"),
    "large_create": ("spec", "op", "build + insert one large (2.4 MB image) object, N times"),
    "large_update": ("spec", "op", "set field1 on a loaded large object + save, N times"),
    "nested_create": ("spec", "op", "build + insert one nested object, N times"),
    "nested_update": ("spec", "op", "set embedded_str_doc_1.field1 + save, N times"),
    "nested_find": ("spec", "op", "find by embedded_str_doc_1.unique_id, N times"),
    "nested_find_array": ("spec", "op", "find by embedded_str_doc_array.unique_id, N times"),
    "user_insert_many": ("mixed", "doc", "build N mixed User objects + one bulk insert"),
    "user_insert_one": ("mixed", "op", "build + insert one mixed User object, N times"),
    "user_fetch_all": ("mixed", "doc", "load all N mixed User documents into objects"),
    "user_get_by_id": ("mixed", "op", "get a mixed User document by _id, N times"),
    "user_update": ("mixed", "op", "load-modify-save: set name on a loaded User + save, N times"),
}

BASELINE = "raw"
OBJECTS_BASELINE = "raw+pydantic"
# The typed floor of each contender: the same driver, plain pydantic models (one validation per
# document loaded, one model_dump per document written) and explicit driver calls.
FLOORS = {
    "raw+pydantic": "raw+pydantic",
    "mdocument": "raw+pydantic",
    "beanie": "raw+pydantic",
    "motor+pydantic": "motor+pydantic",
    "mdocument+motor": "motor+pydantic",
    "odmantic": "motor+pydantic",
}
# The columns of the summaries against the typed floor.
FLOOR_COLUMNS = ["mdocument", "mdocument+motor", "beanie", "odmantic"]


@dataclass
class Row:
    """One task of one contender, summarised."""

    task: str
    contender: str
    ops: int
    cpu_us: float  # median CPU time per op (or per document), microseconds
    wall_us: float
    spread: float  # median absolute deviation of the CPU samples, relative to their median
    cpu_ratio: float | None = None
    cpu_ratio_objects: float | None = None
    cpu_ratio_floor: float | None = None  # to the typed floor: median of the paired ratios
    # A 95 % interval of that ratio from the rounds' own ratios (see median_interval); None
    # with fewer than 6 rounds.
    floor_interval: tuple[float, float] | None = None
    wall_ratio: float | None = None
    error: str | None = None


def summarise(reports: list[dict[str, Any]]) -> list[Row]:
    """One row per task and contender, with the ratios to the baselines."""
    rows: list[Row] = []
    samples: dict[tuple[str, str], list[float]] = {}
    per_round: dict[str, int] = {}  # measured samples per round, by contender
    for report in reports:
        per_round[report["contender"]] = report.get("config", {}).get("iterations", 0)
        for result in report["results"]:
            if result["error"] or not result["cpu"]:
                rows.append(
                    Row(
                        result["task"], result["contender"], 0, 0.0, 0.0, 0.0, error=result["error"]
                    )
                )
                continue
            ops = result["ops"]
            cpu = statistics.median(result["cpu"]) / ops * 1e6
            wall = statistics.median(result["wall"]) / ops * 1e6
            median = statistics.median(result["cpu"])
            spread = statistics.median(abs(sample - median) for sample in result["cpu"]) / median
            rows.append(Row(result["task"], result["contender"], ops, cpu, wall, spread))
            samples[result["task"], result["contender"]] = result["cpu"]
    by_key = {(row.task, row.contender): row for row in rows if row.error is None}
    for row in rows:
        if row.error is not None:
            continue
        base = by_key.get((row.task, BASELINE))
        objects = by_key.get((row.task, OBJECTS_BASELINE))
        if base is not None:
            row.cpu_ratio = row.cpu_us / base.cpu_us
            row.wall_ratio = row.wall_us / base.wall_us
        if objects is not None:
            row.cpu_ratio_objects = row.cpu_us / objects.cpu_us
        floor = by_key.get((row.task, FLOORS.get(row.contender, "")))
        if floor is not None:
            mine, theirs = samples[row.task, row.contender], samples[row.task, floor.contender]
            row.cpu_ratio_floor = _paired(mine, theirs)
            size = per_round.get(row.contender, 0)
            if size and len(mine) == len(theirs) and len(mine) % size == 0 and all(theirs):
                rounds = [
                    _paired(mine[start : start + size], theirs[start : start + size])
                    for start in range(0, len(mine), size)
                ]
                row.floor_interval = median_interval(rounds)
    order = {task: position for position, task in enumerate(TASK_INFO)}
    rows.sort(key=lambda row: order.get(row.task, len(order)))
    return rows


def _paired(mine: list[float], floor: list[float]) -> float:
    """The median of the ratios of samples taken in the same round and iteration.

    Contenders of a task run one after the other within a round, so the samples of one round
    and iteration share the machine's background load: pairing them cancels part of it.
    """
    if len(mine) != len(floor) or not all(floor):
        return statistics.median(mine) / statistics.median(floor)
    return statistics.median(a / b for a, b in zip(mine, floor, strict=True))


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free interval for the median of what ``values`` sample.

    The values are the rounds' own paired ratios: rounds run minutes apart, so they are closer
    to independent than the iterations of one round, which share the machine's load of the
    moment. The interval is the pair of order statistics whose coverage, from the binomial
    distribution of how many values fall below the median, is at least ``confidence``: with
    10 rounds the 2nd and 9th smallest (97.9 %), with 6 the smallest and the largest (96.9 %);
    ``None`` with fewer than 6.
    """
    ordered = sorted(values)
    n = len(ordered)
    below = 0.0  # P(at most k - 1 values below the median)
    k = 0
    while True:
        nxt = below + math.comb(n, k) / 2**n
        if nxt > (1 - confidence) / 2:
            break
        below, k = nxt, k + 1
    if k == 0:
        return None
    return ordered[k - 1], ordered[n - k]


def _interval(row: Row | None) -> str:
    if row is None or row.floor_interval is None:
        return ""
    low, high = row.floor_interval
    return f" [{low:.2f}-{high:.2f}]"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(rows: list[Row], contenders: list[str]) -> str:
    """The results as a fixed-width text table, grouped by task."""
    rank = {name: position for position, name in enumerate(contenders)}
    header = (
        f"{'task':<18} {'contender':<15} {'N':>5} {'CPU µs/unit':>12} {'±':>5} "
        f"{'/raw':>6} {'/raw+pyd':>8} {'/floor':>6} {'wall µs/unit':>13} {'wall/raw':>8}"
    )
    lines = [header, "-" * len(header)]
    current = None
    for row in sorted(
        rows, key=lambda r: (list(TASK_INFO).index(r.task), rank.get(r.contender, 99))
    ):
        if row.task != current:
            if current is not None:
                lines.append("")
            current = row.task
            group, unit, what = TASK_INFO[row.task]
            lines.append(f"{row.task} [{group}, per {unit}]: {what}")
        if row.error is not None:
            lines.append(f"{'':<18} {row.contender:<15} FAILED: {row.error}")
            continue
        lines.append(
            f"{'':<18} {row.contender:<15} {row.ops:>5} {row.cpu_us:>12.1f} "
            f"{row.spread * 100:>4.0f}% {_ratio(row.cpu_ratio):>6} "
            f"{_ratio(row.cpu_ratio_objects):>8} {_ratio(row.cpu_ratio_floor):>6} "
            f"{row.wall_us:>13.1f} {_ratio(row.wall_ratio):>8}"
        )
    return "\n".join(lines)


def ratio_summary(rows: list[Row], contenders: list[str]) -> str:
    """CPU ratio to the raw driver: one line per task, one column per contender."""
    names = [name for name in contenders if name != BASELINE]
    lines = [f"{'CPU time / raw':<18}" + "".join(f"{name:>16}" for name in names)]
    for task in TASK_INFO:
        cells = {row.contender: row for row in rows if row.task == task}
        if not cells:
            continue
        line = f"{task:<18}"
        for name in names:
            row = cells.get(name)
            line += f"{'-' if row is None or row.cpu_ratio is None else f'{row.cpu_ratio:.2f}':>16}"
        lines.append(line)
    return "\n".join(lines)


def floor_summary(rows: list[Row]) -> str:
    """CPU ratio to the typed floor (paired medians): one line per task, one column per ODM.

    With 6 rounds or more, each ratio is followed by its 95 % interval from the rounds'
    ratios (see :func:`median_interval`).
    """
    names = [name for name in FLOOR_COLUMNS if any(row.contender == name for row in rows)]
    lines = [f"{'CPU time / floor':<18}" + "".join(f"{name:>22}" for name in names)]
    for task in TASK_INFO:
        cells = {row.contender: row for row in rows if row.task == task}
        if not cells:
            continue
        line = f"{task:<18}"
        for name in names:
            row = cells.get(name)
            cell = "-" if row is None else _ratio(row.cpu_ratio_floor) + _interval(row)
            line += f"{cell:>22}"
        lines.append(line)
    return "\n".join(lines)


def markdown(rows: list[Row], contenders: list[str]) -> str:
    """Markdown tables, one per shape: µs of client CPU per unit, (ratio to the typed floor)."""
    names = [name for name in contenders if any(row.contender == name for row in rows)]
    cells = {(row.task, row.contender): row for row in rows}
    out: list[str] = []
    shapes = (("the spec's documents", ("core", "spec")), ("the mixed User", ("mixed",)))
    for title, groups in shapes:
        tasks = [t for t, info in TASK_INFO.items() if info[0] in groups]
        tasks = [t for t in tasks if any((t, name) in cells for name in names)]
        if not tasks:
            continue
        out.append(f"| task ({title}) | " + " | ".join(names) + " |")
        out.append("| --- |" + " ---: |" * len(names))
        for task in tasks:
            line = f"| `{task}` (per {TASK_INFO[task][1]}) |"
            for name in names:
                row = cells.get((task, name))
                if row is None:
                    line += " - |"
                elif row.error is not None:
                    line += " failed |"
                elif row.cpu_ratio_floor is None:
                    line += f" {row.cpu_us:.1f} µs |"
                else:
                    ratio = f"**{row.cpu_ratio_floor:.2f}**{_interval(row)}"
                    line += f" {row.cpu_us:.1f} µs ({ratio}) |"
            out.append(line)
        out.append("")
    return "\n".join(out)


# -- profiles -----------------------------------------------------------------------------------


def _is_mdocument(filename: str) -> bool:
    parts = Path(filename).parts
    return "mdocument" in parts and "benchmarks" not in parts


def _short(filename: str) -> str:
    parts = Path(filename).parts
    for anchor in ("mdocument", "pydantic", "pymongo", "bson", "asyncio"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) :])
    return Path(filename).name


def profile_summary(path: Path, limit: int = 15) -> str:
    """The top functions of one profile: mdocument's own (cumulative), and all (own time)."""
    stats = pstats.Stats(str(path), stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    entries = [
        (func, calls, own, cumulative) for func, (_, calls, own, cumulative, _) in raw.items()
    ]
    total = sum(own for _, _, own, _ in entries) or 1.0
    mine_own = sum(own for func, _, own, _ in entries if _is_mdocument(func[0]))
    lines = [
        f"{path.stem}: {total:.3f} s CPU profiled (timed phases, profiler overhead included); "
        f"{mine_own / total * 100:.1f}% of it in mdocument's own code",
        "  inside mdocument, by cumulative CPU time (coroutines: per resumption):",
    ]
    mine = sorted((e for e in entries if _is_mdocument(e[0][0])), key=lambda e: -e[3])
    for (filename, line, name), calls, own, cumulative in mine[:limit]:
        lines.append(
            f"    {cumulative / total * 100:5.1f}% cum {own / total * 100:5.1f}% own "
            f"{calls:>7} calls  {_short(filename)}:{line} {name}"
        )
    lines.append("  everything, by own time:")
    for (filename, line, name), calls, own, _ in sorted(entries, key=lambda e: -e[2])[:limit]:
        where = f"{_short(filename)}:{line} {name}" if filename != "~" else name
        lines.append(f"    {own / total * 100:5.1f}% own {calls:>7} calls  {where}")
    return "\n".join(lines)


def profile_summaries(directory: Path) -> str:
    """Summaries of every profile in ``directory``."""
    return "\n\n".join(profile_summary(path) for path in sorted(directory.glob("*.prof")))


__all__ = [
    "Row",
    "floor_summary",
    "markdown",
    "profile_summaries",
    "ratio_summary",
    "summarise",
    "table",
]
