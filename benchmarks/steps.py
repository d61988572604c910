"""What each client-side step of a write or a load costs, per document, without a server.

The CRUD tables (``crud.py``) time whole operations against a server, and single operations move
by ±10-20 % between runs on a shared machine. This script times the steps mdocument adds around
the driver, in one process and without I/O, for the mixed ``User`` and the spec's nested
document, next to what the typed floor does (``model_validate`` after a read, ``model_dump``
before a write): the numbers that say what each optimization bought.

    python benchmarks/steps.py              # medians of 9 runs over 2,000 documents
    python benchmarks/steps.py --count 200 --runs 3    # quicker

Steps of mdocument, per document:

- ``encode``: the stored form (``codec.encode``: the dump, ``_id`` first);
- ``exact check``: the walk that proves a second validation would change nothing
  (``DocumentMapping.exact_check``); ``checked form``: both, as a write does them;
- ``stored check`` / ``baseline``: the same proof for a loaded document, and the baseline of its
  first save (``forms.normalized``);
- ``diff``: the changes of a save after one field changed (``changes.diff``), with the
  whole-value ``==`` shortcuts the class allows;
- ``walk``: what a plain class's save does instead of checked form + baseline + diff: its changes
  read from the instance (``forms.quick_changes``, see ``mdocument.instance_diff``), against a
  loaded document's raw baseline and against a saved one;
- ``full validation``: what a write would cost instead of the exact check (validate + dump).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import bson
from _data import USER, load_data, shapes, user_doc, with_unique_ids
from _harness import build_models
from bson.codec_options import DEFAULT_CODEC_OPTIONS
from pydantic import BaseModel, ConfigDict, Field

from mdocument import Document, ObjectId
from mdocument import forms as forms_module
from mdocument.changes import RegistryRef, diff, remember
from mdocument.changes import loaded as loaded_state
from mdocument.codec import codec_options, decode, encode
from mdocument.forms import checked_form, normalized

OPTIONS = codec_options(DEFAULT_CODEC_OPTIONS)


class _Floor(BaseModel):
    """The typed floor's base, as in ``contenders/pymongo_pydantic.py``."""

    model_config = ConfigDict(arbitrary_types_allowed=True, validate_by_name=True)

    id: bson.ObjectId = Field(default_factory=bson.ObjectId, alias="_id")


def per_document(work: Callable[[], Any], count: int, runs: int) -> float:
    """Median CPU microseconds per document of ``work`` (one call handles ``count`` documents)."""
    samples = []
    for _ in range(runs):
        started = time.process_time()
        work()
        samples.append((time.process_time() - started) / count * 1e6)
    return statistics.median(samples)


def measure(
    name: str, documents: list[dict[str, Any]], change: Callable[[Any], None], runs: int
) -> list[tuple[str, float]]:
    """The steps of one shape, as (step, µs per document)."""
    shape = {"user": USER, "nested": shapes(load_data(None))["nested"]}[name]
    ours = build_models(
        {name: shape},
        document_base=Document,
        embedded_base=BaseModel,
        object_id=ObjectId,
        namespace=lambda kind: {},
        module=__name__,
    )[name]
    floor = build_models(
        {name: shape},
        document_base=_Floor,
        embedded_base=BaseModel,
        object_id=bson.ObjectId,
        namespace=lambda kind: {},
        module=__name__,
    )[name]
    mapping = ours.__mdocument_mapping__
    built = [ours(**document) for document in documents]
    floors = [floor(**document) for document in documents]
    naive = [bson.decode(bson.encode(raw)) for raw in (f.model_dump(by_alias=True) for f in floors)]
    raws = [
        bson.decode(bson.encode(encode(d, mapping), codec_options=OPTIONS), OPTIONS) for d in built
    ]
    loaded = [ours.model_validate(raw) for raw in raws]
    for document in loaded:
        change(document)
    forms = [encode(document, mapping) for document in loaded]
    baselines = [normalized(mapping, raw) for raw in raws]
    # Read defensively, so that the script also measures versions of mdocument without them.
    exact = getattr(mapping, "exact_check", None)
    stored = getattr(mapping, "stored_check", None)
    names: frozenset[str] = getattr(mapping, "equality_names", frozenset())

    def changes(before: dict[str, Any], after: dict[str, Any], shortcuts: bool) -> Any:
        return diff(before, after, names) if shortcuts and names else diff(before, after)

    count = len(documents)

    def full_validation() -> None:
        for document in loaded:
            encode(ours.model_validate(encode(document, mapping)), mapping)

    steps: dict[str, Callable[[], Any]] = {
        "floor: model_dump": lambda: [document.model_dump(by_alias=True) for document in floors],
        "floor: model_validate": lambda: [floor.model_validate(raw) for raw in naive],
        "load (decode)": lambda: [decode(mapping, raw) for raw in raws],
        "encode": lambda: [encode(document, mapping) for document in loaded],
        "checked form": lambda: [checked_form(mapping, document) for document in loaded],
        "full validation (instead)": full_validation,
        "baseline": lambda: [normalized(mapping, raw) for raw in raws],
        "diff": lambda: [
            changes(before, after, True) for before, after in zip(baselines, forms, strict=True)
        ],
        "diff without == shortcuts": lambda: [
            changes(before, after, False) for before, after in zip(baselines, forms, strict=True)
        ],
    }
    quick = getattr(forms_module, "quick_changes", None)
    if quick is not None and getattr(mapping, "instance_walk", None) is not None:
        # The changes of a save read from the instance, against a loaded (raw) baseline and
        # a saved one: what replaces checked form + baseline + diff for a plain class.
        walked = [ours.model_validate(raw) for raw in raws]
        for document, raw in zip(walked, raws, strict=True):
            change(document)
            loaded_state(document, raw, RegistryRef(None), None)
        saved = [ours.model_validate(raw) for raw in raws]
        for document in saved:  # as a save leaves it: the baseline holds the instance's values
            remember(document, checked_form(mapping, document), raw=False)
            change(document)
        steps["walk (loaded baseline)"] = lambda: [quick(mapping, d) for d in walked]
        steps["walk (saved baseline)"] = lambda: [quick(mapping, d) for d in saved]
    if exact is not None:
        steps["exact check"] = lambda: [exact(form) for form in forms]
    if stored is not None:
        steps["stored check"] = lambda: [stored(raw) for raw in raws]
    return [(step, per_document(work, count, runs)) for step, work in steps.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="documents per run")
    parser.add_argument("--runs", type=int, default=9, help="runs per step (median)")
    args = parser.parse_args()
    nested = load_data(None).nested

    def rename(user: Any) -> None:
        user.name = "renamed"

    def change_nested(document: Any) -> None:
        document.embedded_str_doc_1.field1 = "changed"

    shapes_to_run = {
        "user": ([user_doc(number) for number in range(args.count)], rename),
        "nested": (
            [with_unique_ids(nested, number * 100) for number in range(args.count // 10)],
            change_nested,
        ),
    }
    print(f"python {sys.version.split()[0]}; medians of {args.runs} runs; µs per document")
    for name, (documents, change) in shapes_to_run.items():
        print(f"\n{name} ({len(documents)} documents)")
        for step, micros in measure(name, documents, change, args.runs):
            print(f"  {step:28s} {micros:8.2f}")


if __name__ == "__main__":
    main()
