"""The report of :func:`mdocument.check`: findings, counts, samples, and what was fixed.

A :class:`Report` holds one :class:`Finding` per kind of inconsistency and place (an edge, a
unique field, a journal operation), with a count and at most five sample ids; never a
sensitive value. ``Report.to_dict()`` is what ``mdocument check --json`` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from mdocument.fields import OnDelete

__all__ = ["NOTES", "SAMPLE", "Finding", "FindingKind", "Progress", "Report"]

FindingKind = Literal["dangling", "stale_copy", "journal", "duplicate"]
"""What a :class:`Finding` is about."""

Progress = Callable[[str, int], None]
"""A progress callback: the step (``"Post.author_id"``, ``"journal"``...) and its running count
of documents read."""

SAMPLE = 5
"""Sample ids (and values) kept per finding."""

NOTES = {
    OnDelete.RESTRICT: (
        "on_delete=RESTRICT cannot be honoured: the parent is gone already; delete these "
        "documents or point them elsewhere by hand"
    ),
    "duplicate": (
        "never fixed: decide which document keeps the value, change the others, then create "
        "the unique index (init creates it)"
    ),
}


def _plain(value: Any) -> Any:
    """A JSON-ready form of a stored value: ids and dates as strings, containers walked."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        items = cast("Mapping[Any, Any]", value)
        return {str(key): _plain(item) for key, item in items.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in cast("Sequence[Any]", value)]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@dataclass
class Finding:
    """One kind of inconsistency at one place: an edge, a unique field, or a journal operation.

    Attributes:
        kind: ``dangling``, ``stale_copy``, ``journal`` or ``duplicate``.
        collection: the collection holding the inconsistent documents (for a journal entry:
            the collection of the documents its write was about).
        field: the edge or field (``Post.author_id``); for a journal entry, its operation
            (``delete`` or ``sync``).
        rule: the edge's on-delete rule (``CASCADE``...) for references and copies, else
            ``None``.
        count: how many were found: documents with a dangling reference or holding a
            duplicated value, copies (child and source pairs) that differ from their source,
            journal entries.
        sample: up to five ids of them (the children, the documents, the journal entries).
        fixable: whether ``fix=True`` repairs this kind of finding here.
        fixed: how many of ``count`` were repaired (always 0 without ``fix=True``).
        values: duplicates only: up to five of the duplicated values, ``"***"`` for a
            sensitive field.
        note: what could not be done, and why.
    """

    kind: FindingKind
    collection: str
    field: str
    rule: str | None
    count: int = 0
    sample: list[Any] = dataclasses.field(default_factory=list[Any])
    fixable: bool = True
    fixed: int = 0
    values: list[Any] = dataclasses.field(default_factory=list[Any])
    note: str = ""

    @property
    def remaining(self) -> int:
        """How many are still inconsistent after this run."""
        return max(self.count - self.fixed, 0)

    def add(self, count: int, ids: Iterable[Any]) -> None:
        """Count more of this finding, keeping the first few ids as a sample."""
        self.count += count
        for item in ids:
            if len(self.sample) >= SAMPLE:
                break
            self.sample.append(item)

    def explain(self, note: str) -> None:
        """Add a note once."""
        if note and note not in self.note:
            self.note = f"{self.note}; {note}" if self.note else note

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready values (ids as strings)."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "collection": self.collection,
            "field": self.field,
            "rule": self.rule,
            "count": self.count,
            "fixed": self.fixed,
            "remaining": self.remaining,
            "fixable": self.fixable,
            "sample": [_plain(item) for item in self.sample],
        }
        if self.kind == "duplicate":
            data["values"] = [_plain(item) for item in self.values]
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Report:
    """What :func:`check` found, and with ``fix=True`` what it repaired.

    Attributes:
        findings: one :class:`Finding` per kind and place, in the order they were checked.
        fix: whether the run repaired (``fix=True``).
        scanned: documents read to check references and copies.
    """

    findings: list[Finding] = dataclasses.field(default_factory=list[Finding])
    fix: bool = False
    scanned: int = 0

    @property
    def ok(self) -> bool:
        """Whether the data is consistent after this run: nothing found, or all of it fixed."""
        return all(finding.remaining == 0 for finding in self.findings)

    @property
    def fixed(self) -> int:
        """How many inconsistencies this run repaired, over all findings."""
        return sum(finding.fixed for finding in self.findings)

    @property
    def remaining(self) -> int:
        """How many inconsistencies are left, over all findings."""
        return sum(finding.remaining for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (what ``mdocument check --json`` prints)."""
        return {
            "ok": self.ok,
            "fix": self.fix,
            "scanned": self.scanned,
            "found": sum(finding.count for finding in self.findings),
            "fixed": self.fixed,
            "remaining": self.remaining,
            "findings": [finding.to_dict() for finding in self.findings],
        }

    def __str__(self) -> str:
        if not self.findings:
            return f"consistent: no findings ({self.scanned:,} documents read)"
        found = sum(finding.count for finding in self.findings)
        head = f"{len(self.findings)} findings, {found:,} inconsistencies"
        if self.fix:
            head += f": {self.fixed:,} fixed, {self.remaining:,} left"
        head += f" ({self.scanned:,} documents read)"
        header = ("kind", "collection", "field", "rule", "count", "fixed", "sample ids")
        rows: list[tuple[str, ...]] = [header]
        for finding in self.findings:
            more = "…" if finding.count > len(finding.sample) else ""
            rows.append(
                (
                    finding.kind,
                    finding.collection,
                    finding.field,
                    finding.rule or "-",
                    f"{finding.count:,}",
                    f"{finding.fixed:,}" if self.fix else "-",
                    ", ".join(str(item) for item in finding.sample) + more,
                )
            )
        widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
        lines = [head, ""]
        for row in rows:
            cells = [
                cell.rjust(width) if column in (4, 5) else cell.ljust(width)
                for column, (cell, width) in enumerate(zip(row, widths, strict=False))
            ]
            lines.append("  ".join([*cells, row[-1]]).rstrip())
        notes = [
            f"{finding.field} ({finding.kind}): {finding.note}"
            for finding in self.findings
            if finding.note
        ]
        notes.extend(
            f"{finding.field} duplicated values: "
            + ", ".join(repr(_plain(value)) for value in finding.values)
            for finding in self.findings
            if finding.values
        )
        if notes:
            lines.extend(["", *notes])
        return "\n".join(lines)
