"""Streaming a query holds a batch of documents in memory, not the whole result."""

from __future__ import annotations

import gc
import tracemalloc

from mdocument import Document, init

SMALL = 5_000
LARGE = 50_000


class Tick(Document):
    n: int
    label: str


def ticks(start: int, stop: int) -> list[dict[str, object]]:
    return [{"n": i, "label": f"tick {i:06d}"} for i in range(start, stop)]


async def _iteration_peak() -> tuple[int, int]:
    """How many documents ``async for`` over ``Tick.find()`` gave, and the peak traced memory."""
    gc.collect()
    tracemalloc.start()
    try:
        count = 0
        async for tick in Tick.find():
            assert tick.n >= 0
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


# Without a batch size, after the first batch (101 documents) the server sends the rest in
# batches of up to 16 MiB, and PyMongo decodes a whole batch at once, so the peak would grow
# with the result (measured before the fix: 5,000 documents 2.7 MB, 50,000 documents 27 MB).
# QuerySet.__aiter__ asks for batches of 1,000: about 0.6 MB for both.
async def test_iterating_a_query_holds_a_batch_not_the_result(mongodb_database):
    await init(mongodb_database, models=[Tick])
    collection = mongodb_database["tick"]
    await collection.insert_many(ticks(0, SMALL))
    await _iteration_peak()  # one-time costs: caches, connections, validators
    count, small_peak = await _iteration_peak()
    assert count == SMALL
    await collection.insert_many(ticks(SMALL, LARGE))
    count, large_peak = await _iteration_peak()
    assert count == LARGE
    # Holding every document (or every decoded batch of the whole result) costs about ten times
    # as much for ten times the documents; streaming a batch at a time costs about the same.
    print(f"peak traced memory: {SMALL} documents {small_peak} B, {LARGE} documents {large_peak} B")
    assert large_peak < small_peak * 3, (small_peak, large_peak)
