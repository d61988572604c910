"""A benchmark worker: runs one contender through the tasks, in its own interpreter.

Started by ``crud.py`` with the contender's Python (an ODM may live in a virtual environment
of its own)::

    python benchmarks/_worker.py --contender NAME --uri URI --config JSON --out PATH

It writes ``{"contender": ..., "versions": {...}, "results": [...]}`` as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

# Run as a script: this folder is sys.path[0], so `_data`, `_harness`, `contenders` import.
from _data import load_data, shapes
from _harness import TASKS, Bench, Config, TaskResult
from contenders import load


async def run(name: str, uri: str, config: Config, profile_dir: str | None) -> dict[str, Any]:
    data = load_data(config.data_dir)
    contender = load(name, shapes(data))
    await contender.open(uri)
    bench = Bench(contender, uri, data, config, profile_dir)
    results: list[dict[str, Any]] = []
    try:
        for task in config.tasks:
            try:
                result = await TASKS[task](bench)
            except Exception as exc:  # reported in the table, the other tasks still run
                traceback.print_exc()
                result = TaskResult(task, name, 0, error=f"{type(exc).__name__}: {exc}"[:300])
            results.append(result.as_dict())
    finally:
        bench.close()
        await contender.close()
    return {
        "contender": name,
        "versions": contender.versions(),
        "config": asdict(config),
        "data": data.sources,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contender", required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--config", required=True, help="the Config, as JSON")
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile-dir", help="write cProfile stats of the timed phases here")
    args = parser.parse_args()
    config = Config(**json.loads(args.config))
    report = asyncio.run(run(args.contender, args.uri, config, args.profile_dir))
    Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
