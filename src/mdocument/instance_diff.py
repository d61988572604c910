"""The changes of a save, and the form of a write, read from the instance: no dump.

A save of a loaded document dumps the whole document, proves that what may have changed in place
still has exactly its declared types (:mod:`exact`), and diffs the dump against the baseline:
work that grows with the document, for a change of one field. For a plain class (every field's
annotation is one :mod:`exact` knows, no validator or serializer, no hierarchy), a function
generated once per class walks the instance's values against the baseline instead:

- a value that is the baseline's own object (a top-level string, number, datetime..., or every
  value of a model of them) is passed over by its address: it is exact and did not change;
- every other value is checked for exactly its declared types at every depth, as :mod:`exact`
  checks a dump: a string, a number, a datetime... is then its own stored form, compared as it
  is; a list, a dict or a model is copied into its stored form;
- a value that is neither the baseline's object nor, where ``==`` is BSON's equality
  (:func:`exact.equality_names`), equal to it goes to ``diff_field``
  (:func:`mdocument.changes.diff_field`, passed in by the caller, a layer up), which finds the
  paths that changed exactly as the diff of two dumps does.

The walk answers ``None`` as soon as a value is not exactly its declared type (or a field is
missing): the save then takes the full path, which validates, coerces or refuses as usual.

:func:`instance_form` is the same reading for a write that sends the whole document (an insert,
or a save's full path): the stored form built from the instance's values, each checked as the
walk checks it, instead of pydantic's dump and a check of that dump.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mdocument.exact import Fields, Items, Leaf, Maybe, Node, SourceWriter, Values, field_node
from mdocument.names import STORED_ID

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["Form", "Walk", "instance_form", "instance_walk"]

Walk = Callable[[dict[str, Any], dict[str, Any], Any, Any, Any], "dict[str, Any] | None"]
"""``walk(values, baseline, changes, diff_field, absent)``: adds the changes of an instance's
``__dict__`` since ``baseline`` (a stored form) to ``changes``, through ``diff_field`` (see
:func:`mdocument.changes.diff_field`; ``absent``: its marker of a missing value); returns the
stored form of every top-level value it compared in full, or ``None`` (take the full path)."""


Form = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]
"""``form(values)``: the stored form of an instance's ``__dict__``, ``_id`` first, as
:func:`mdocument.codec.encode` dumps it, every value checked as the walk checks it; ``None``
(take the full path) as soon as one is not exactly its declared type, or a field is missing."""


class _Writer(SourceWriter):
    """Writes the source of one walk function.

    ``raw``: the walk of a loaded document's raw baseline, as the driver returned it and not yet
    proved its own stored form (see :func:`instance_walk`).
    """

    def __init__(self, raw: bool = False) -> None:
        super().__init__()
        self.raw = raw

    def proved(self, node: Node, before: str, pad: str) -> None:
        """In a raw walk, lines that ``return None`` unless ``before`` is a stored form of node.

        A raw value about to be compared or diffed must be what the full path's baseline (the
        raw document validated and dumped again) holds there: exactly its declared types, a
        model's dict exactly its keys. Anything else takes the full path.
        """
        if self.raw:
            self.emit(node, before, len(pad) // 4, "return None")

    def check(self, node: Leaf, value: str, pad: str) -> None:
        """Lines that ``return None`` unless ``value`` has exactly one of the leaf's types."""
        self.leaf(node, value, pad, "return None")

    def stored(self, node: Node, value: str, target: str, pad: str) -> None:
        """Lines that check ``value`` against ``node`` and put its stored form in ``target``."""
        copy = self.checked_copy(node, value, pad)
        if copy is not None:  # a scalar, or a list or dict of them
            self.lines.append(f"{pad}{target} = {copy}")
        elif isinstance(node, Maybe):
            self.lines += [f"{pad}if {value} is None:", f"{pad}    {target} = None", f"{pad}else:"]
            self.stored(node.inner, value, target, pad + "    ")
        elif isinstance(node, Items):
            item, form = self.name("v"), self.name("s")
            self.lines += [
                f"{pad}if type({value}) is not list: return None",
                f"{pad}{target} = []",
                f"{pad}for {item} in {value}:",
            ]
            self.stored(node.item, item, form, pad + "    ")
            self.lines.append(f"{pad}    {target}.append({form})")
        elif isinstance(node, Values):
            key, item, form = self.name("k"), self.name("v"), self.name("s")
            self.lines += [
                f"{pad}if type({value}) is not dict: return None",
                f"{pad}{target} = {{}}",
                f"{pad}for {key}, {item} in {value}.items():",
                f"{pad}    if type({key}) is not str: return None",
            ]
            self.stored(node.value, item, form, pad + "    ")
            self.lines.append(f"{pad}    {target}[{key}] = {form}")
        elif isinstance(node, Fields):  # a leaf was handled by checked_copy
            self.model(node, value, target, pad)

    def model(self, node: Fields, value: str, target: str, pad: str) -> None:
        values = self.name("d")
        self.lines += [
            f"{pad}if type({value}) is not {self.constant(node.model)}: return None",
            f"{pad}{values} = {value}.__dict__",
            # pydantic dumps a model in its __dict__'s order, which a field deleted and set
            # again changes: the form, built in the declared order, steps aside then.
            f"{pad}if [*{values}] != {self.constant(list(node.names))}: return None",
        ]
        forms: list[str] = []
        for (key, inner), name in zip(node.fields, node.names, strict=True):
            item, form = self.name("v"), self.name("s")
            self.lines.append(f"{pad}{item} = {values}[{name!r}]")
            self.stored(inner, item, form, pad)
            forms.append(f"{key!r}: {form}")
        self.lines.append(f"{pad}{target} = {{{', '.join(forms)}}}")

    def checked_copy(self, node: Node, value: str, pad: str) -> str | None:
        """Lines that check a value equal to its own stored form; that form's expression.

        The expression copies a list or a dict, and runs only where the value changed. ``None``
        (and no lines) for a value that is not its own stored form, such as a model.
        """
        if isinstance(node, Leaf):
            self.check(node, value, pad)
            return value
        if isinstance(node, Items) and isinstance(node.item, Leaf):
            item = self.name("v")
            self.lines += [
                f"{pad}if type({value}) is not list: return None",
                f"{pad}for {item} in {value}:",
            ]
            self.check(node.item, item, pad + "    ")
            return f"list({value})"
        if isinstance(node, Values) and isinstance(node.value, Leaf):
            key, item = self.name("k"), self.name("v")
            self.lines += [
                f"{pad}if type({value}) is not dict: return None",
                f"{pad}for {key}, {item} in {value}.items():",
                f"{pad}    if type({key}) is not str: return None",
            ]
            self.check(node.value, item, pad + "    ")
            return f"dict({value})"
        return None

    def unchanged(self, node: Node, value: str, before: str) -> str | None:
        """An expression true when ``value`` holds, leaf for leaf, the very objects of ``before``.

        A saved baseline is a stored form whose every value has exactly its declared type, so a
        value that *is* the baseline's object needs no check and did not change: a model left
        alone is passed over in one identity test per field, without building its stored form.
        In a raw walk the identity is the proof: the instance's value is what validation (at the
        load, or at an assignment since) returned, which is exact; a raw dict with other keys
        than the model's does not pass. Only for a model of leaves (a list of them, or
        ``None``); ``None`` for anything else.
        """
        if isinstance(node, Maybe):
            inner = self.unchanged(node.inner, value, before)
            return None if inner is None else f"({value} is None and {before} is None or {inner})"
        if isinstance(node, Items):
            item, base = self.name("x"), self.name("y")
            inner = self.unchanged(node.item, item, base)
            if inner is None:
                return None
            return (
                f"(type({value}) is list and type({before}) is list and "
                f"len({value}) == len({before}) and "
                f"all({inner} for {item}, {base} in zip({value}, {before})))"
            )
        if (
            not isinstance(node, Fields)
            or not node.fields
            or not all(
                isinstance(inner, Leaf)
                or (isinstance(inner, Maybe) and isinstance(inner.inner, Leaf))
                for _, inner in node.fields
            )
        ):
            return None
        values = self.name("d")
        same = [
            f"{values}[{name!r}] is {before}[{key!r}]"  # a key it lacks: KeyError, full path
            for (key, _), name in zip(node.fields, node.names, strict=True)
        ]
        same[0] = f"({values} := {value}.__dict__)" + same[0][len(values) :]
        # A stored form's dict has exactly the model's keys: the same objects under those keys
        # are the same stored form. A raw dict is first held to as many keys (all of them then
        # found): it may list them in another order, kept as the server has it, which no diff
        # looks at (dicts are compared key by key).
        keys = f"len({before}) == {len(node.fields)} and " if self.raw else ""
        return (
            f"(type({value}) is {self.constant(node.model)} and type({before}) is dict and "
            f"{keys}{' and '.join(same)})"
        )

    def field(self, name: str, key: str, node: Node, equal: bool) -> None:
        """Lines that compare one top-level field."""
        value, before, form = self.name("v"), self.name("b"), self.name("s")
        self.lines.append(f"        {value} = values[{name!r}]")
        if isinstance(node, Leaf):
            self.leaf_field(key, node, equal, value, before)
            return
        # Checked even where assignment validated it: a value written past it (``__dict__``)
        # takes the full path, which stores its dump.
        copy = self.checked_copy(node, value, "        ")
        self.lines.append(f"        {before} = baseline.get({key!r}, absent)")
        pad = "        "
        if copy is not None and equal:  # compared as it is: copied only when it changed
            if self.raw:  # the instance's own object, checked above, is proved: not another
                self.lines.append(f"{pad}if {value} is not {before}:")
                self.proved(node, before, pad + "    ")
                self.lines += [
                    f"{pad}    if {before} != {value}:",
                    f"{pad}        {form} = {copy}",
                ]
                pad += "    "
            else:
                self.lines += [
                    f"{pad}if {value} is not {before} and {before} != {value}:",
                    f"{pad}    {form} = {copy}",
                ]
        else:
            unchanged = None if copy is not None else self.unchanged(node, value, before)
            if unchanged is not None:  # a model of leaves left alone: passed over, unchecked
                self.lines += [f"{pad}if not {unchanged}:"]
                pad += "    "
            self.proved(node, before, pad)
            if copy is None:
                self.stored(node, value, form, pad)
            else:
                self.lines.append(f"{pad}{form} = {copy}")
            same = f"{form} is not {before}" + (f" and {before} != {form}" if equal else "")
            self.lines.append(f"{pad}if {same}:")
        self.lines += [
            f"{pad}    diff_field({before}, {form}, {key!r}, changes)",
            f"{pad}    tops[{key!r}] = {form}",
        ]

    def leaf_field(self, key: str, node: Leaf, equal: bool, value: str, before: str) -> None:
        """Lines that compare a top-level string, number, datetime...: identity first.

        The baseline's own object needs no check: a saved baseline's values are exact, and a
        raw one the instance holds is what validation returned. Only a value that is another
        object is checked (a value written past validation, ``__dict__``, takes the full path,
        which stores its dump), its raw baseline proved, and compared. A large document's save
        looks at its untouched values by address only, without reading them.
        """
        pad = "            "
        self.lines += [
            f"        {before} = baseline.get({key!r}, absent)",
            f"        if {value} is not {before}:",
        ]
        self.check(node, value, pad)
        self.proved(node, before, pad)
        if equal:  # == is BSON's equality here: an equal value is no change
            self.lines.append(f"{pad}if {before} != {value}:")
            pad += "    "
        self.lines += [
            f"{pad}diff_field({before}, {value}, {key!r}, changes)",
            f"{pad}tops[{key!r}] = {value}",
        ]

    def function(self, signature: str, start: str, result: str) -> Any:
        """The function ``signature``: ``start``, the lines written, then ``return result``."""
        body = "\n".join(self.lines)
        source = (
            f"def {signature}):\n"
            f"{start}    try:\n"
            f"{body}\n"
            "    except KeyError:  # a field deleted from the instance: the full path reports it\n"
            "        return None\n"
            f"    return {result}"
        )
        return self.define(source, signature.partition("(")[0])


def instance_walk(
    fields: Iterable[tuple[str, str, FieldInfo]], equal: frozenset[str], *, raw: bool = False
) -> Walk | None:
    """The walk of a plain class's instances; ``None`` when a field's annotation is unknown.

    ``fields``: every stored field (name, stored name, field info), ``_id`` included; ``equal``:
    the stored names where ``==`` is BSON's equality (:func:`exact.equality_names`). Only for a
    class that has both checks of :mod:`exact` (the caller's to ensure).

    ``raw``: the walk of the first save after a load, against the raw document the driver
    returned (its top-level keys, those of the stored form). Such a baseline is not yet proved
    its own stored form, and proving all of it (:func:`exact.stored_check`) would look at every
    value twice. Where the instance holds the raw document's very object, validation (at the
    load, or at an assignment since) returned that object: it keeps exact values as they are
    and makes new objects of any other, so that raw value is proved by identity. Only the raw
    values that are not the instance's are checked, as the stored check would (and a passed-over
    model's raw dict held to as many keys as the model has); any that fails takes the full path.
    (A nested model built without validation around the raw objects themselves is passed over
    too: it sends nothing, as the full path, which compares it with the raw values validated,
    sends nothing.)
    """
    writer = _Writer(raw)
    for name, stored, info in fields:
        node = field_node(info, frozenset())
        if node is None:
            return None
        writer.field(name, stored, node, stored in equal)
    walk: Walk = writer.function(
        "walk(values, baseline, changes, diff_field, absent", "    tops = {}\n", "tops"
    )
    return walk


def instance_form(fields: Iterable[tuple[str, str, FieldInfo]]) -> Form | None:
    """The stored form of a plain class's instances, read from them without a dump.

    A write of a new document (or the full path of a save) otherwise dumps it with pydantic's
    serializer and then proves the dump exact (:mod:`exact`): two walks of every value, where
    this is one. ``fields``: as for :func:`instance_walk`, in the class's order (that of its
    instances' ``__dict__``); the form puts ``_id`` first, as :func:`mdocument.codec.encode`
    does. ``None`` when a field's annotation is unknown.
    """
    fields = list(fields)
    writer = _Writer()
    # Dumped in the __dict__'s order (see _Writer.model): a reordered one takes the dump's path.
    order = writer.constant([name for name, _, _ in fields])
    writer.lines.append(f"        if [*values] != {order}: return None")
    fields.sort(key=lambda field: field[1] != STORED_ID)  # ``_id`` first, as encode puts it
    forms: list[str] = []
    for name, stored, info in fields:
        node = field_node(info, frozenset())
        if node is None:
            return None
        value, form = writer.name("v"), writer.name("s")
        writer.lines.append(f"        {value} = values[{name!r}]")
        writer.stored(node, value, form, "        ")
        forms.append(f"{stored!r}: {form}")
    built: Form = writer.function("form(values", "", f"{{{', '.join(forms)}}}")
    return built
