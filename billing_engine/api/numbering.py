"""Document numbers: gapless series, one per kind of document and year, kept in the database.

A document is numbered when it is issued, never before: an engine invoice on approval (its
draft carries a provisional `DRAFT-` number, so drafts, rejected and withdrawn invoices never
take one), an ad-hoc invoice when it is created (it is live from creation: that is its
approval), a credit note when it is issued. `take()` reads the series' counter row locked
(`select_for_update`) inside the transaction that issues the document, so a rollback gives the
number back, concurrent issuers queue behind one another, and no number is skipped or used twice.

Numbers read `<SERIES>-<YEAR>-<NNNNNN>`: `INV-2026-000123` (invoices, contract-cycle and ad-hoc
alike), `CN-2026-000007` (credit notes). The counter row of a series and year is named by that
prefix (`INV-2026`), so a number is always `<row name>-<value, 6 digits>`. Rows without a year
are the closed series from before yearly numbering (`INV` for `INV-000001`, `AH` for ad-hoc
`AH-000001`; migration 0002 carried their counters over): nothing takes from them any more, and
`verify()` still checks that their numbers run without a gap.

`verify()` (`manage.py verify_numbering`) gathers every issued number from `ISSUED` and reports
each series' range, any gap (a number taken whose document is missing, or never taken) and any
duplicate. An app that issues numbered documents from these series registers where its numbers
live with `register_issued()`.
"""

from __future__ import annotations

import re
import uuid
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction

from ..models import AdhocInvoice, EngineInvoice, NumberSequence

#: The series documents are numbered in, and what each holds.
SERIES = {"INV": "invoices", "CN": "credit notes"}
WIDTH = 6  # digits of the counter part (more once a year passes 999,999: never cut)

_NUMBER = re.compile(r"(?P<prefix>[A-Z]+(?:-[0-9]{4})?)-(?P<value>[0-9]+)")


def take(*, series: str, year: int) -> str:
    """The next number of `series` in `year` ("INV-2026-000123"). Call it inside the transaction
    that issues the document: the counter row stays locked until that transaction ends, and a
    rollback gives the number back."""
    if series not in SERIES:
        raise ValueError(f"Unknown number series {series!r}; known: {', '.join(SERIES)}.")
    if not 1000 <= year <= 9999:
        raise ValueError(f"{year!r} is not a four-digit year.")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("take a number inside the transaction that issues the document")
    name = f"{series}-{year}"
    # INSERT ... ON CONFLICT DO NOTHING: the first issuer of a year creates the row; one racing
    # it waits for that insert to commit and then finds the row.
    NumberSequence.objects.bulk_create(
        [NumberSequence(name=name, series=series, year=year)], ignore_conflicts=True
    )
    sequence = NumberSequence.objects.select_for_update().get(name=name)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return format_number(name, sequence.last_value)


def format_number(prefix: str, value: int) -> str:
    return f"{prefix}-{value:0{WIDTH}d}"


def draft_number(invoice_id: uuid.UUID) -> str:
    """The provisional number of a draft (not from any series)."""
    return f"DRAFT-{invoice_id.hex[:12].upper()}"


# --- where issued numbers live -------------------------------------------------------------
#: (what, a function returning the issued numbers). Only issued documents: engine invoices
#: past their draft (approved, and voided ones: a void keeps the number it was issued with;
#: drafts carry provisional numbers), ad-hoc invoices (live from creation, voided or not).
ISSUED: list[tuple[str, Callable[[], Iterable[str]]]] = [
    (
        "issued engine invoices",
        lambda: (
            EngineInvoice.objects.exclude(status=EngineInvoice.Status.DRAFT)
            .values_list("number", flat=True)
            .iterator(chunk_size=5000)
        ),
    ),
    (
        "ad-hoc invoices",
        lambda: AdhocInvoice.objects.values_list("invoice_no", flat=True).iterator(chunk_size=5000),
    ),
]


def register_issued(what: str, numbers: Callable[[], Iterable[str]]) -> None:
    """Tell `verify()` where another kind of numbered document keeps its numbers (for example
    credit notes): `numbers()` returns every issued number of that kind."""
    if all(label != what for label, _ in ISSUED):
        ISSUED.append((what, numbers))


# --- verification ---------------------------------------------------------------------------
@dataclass
class SeriesReport:
    name: str  # the prefix: INV-2026, CN-2026, or a closed series (INV, AH)
    counter: int | None  # the counter row's last value (None: numbers without a counter row)
    issued: int = 0
    first: int | None = None
    last: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # missing ranges, inclusive
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (number, times issued)
    ahead_of_counter: list[str] = field(default_factory=list)  # issued past the counter

    @property
    def ok(self) -> bool:
        return not (self.gaps or self.duplicates or self.ahead_of_counter) and (
            self.counter is not None or self.issued == 0
        )

    def describe(self) -> str:
        if self.issued:
            span = f"{format_number(self.name, self.first)} … {format_number(self.name, self.last)}"
            head = f"{self.name}: {self.issued} number(s), {span}"
        else:
            head = f"{self.name}: no number issued"
        head += f"; counter at {self.counter}" if self.counter is not None else "; NO COUNTER ROW"
        parts = [head]
        for low, high in self.gaps:
            missing = (
                format_number(self.name, low)
                if low == high
                else f"{format_number(self.name, low)} … {format_number(self.name, high)}"
            )
            parts.append(f"  GAP: {missing} ({high - low + 1} missing)")
        for number, times in self.duplicates:
            parts.append(f"  DUPLICATE: {number} issued {times} times")
        for number in self.ahead_of_counter:
            parts.append(f"  AHEAD OF COUNTER: {number} (the next number taken would repeat it)")
        return "\n".join(parts)


@dataclass
class NumberingReport:
    series: list[SeriesReport]
    unreadable: list[tuple[str, str]]  # (where, number) that matches no series' pattern

    @property
    def ok(self) -> bool:
        return not self.unreadable and all(s.ok for s in self.series)


def verify() -> NumberingReport:
    """Every series' range, gaps and duplicates, from the counters and the issued numbers."""
    values: dict[str, array] = {}
    unreadable: list[tuple[str, str]] = []
    for what, numbers in ISSUED:
        for number in numbers():
            match = _NUMBER.fullmatch(number or "")
            if match is None:
                unreadable.append((what, number))
                continue
            values.setdefault(match["prefix"], array("Q")).append(int(match["value"]))
    counters = dict(NumberSequence.objects.values_list("name", "last_value"))
    reports = []
    for name in sorted({*counters, *values}):
        issued = sorted(values.get(name, ()))
        report = SeriesReport(name, counters.get(name), issued=len(issued))
        if issued:
            report.first, report.last = issued[0], issued[-1]
        report.duplicates = [(format_number(name, v), n) for v, n in _runs(issued) if n > 1]
        top = max(report.counter or 0, report.last or 0)
        report.gaps = _gaps(issued, top)
        if report.counter is not None:
            report.ahead_of_counter = [
                format_number(name, v) for v, _ in _runs(issued) if v > report.counter
            ]
        reports.append(report)
    return NumberingReport(reports, unreadable)


def _runs(ordered: list[int]) -> Iterable[tuple[int, int]]:
    """(value, how many times) of a sorted list."""
    previous, count = None, 0
    for value in ordered:
        if value == previous:
            count += 1
            continue
        if previous is not None:
            yield previous, count
        previous, count = value, 1
    if previous is not None:
        yield previous, count


def _gaps(ordered: list[int], top: int) -> list[tuple[int, int]]:
    """The ranges of 1..top missing from the sorted list."""
    gaps, expected = [], 1
    for value, _ in _runs(ordered):
        if value > expected:
            gaps.append((expected, value - 1))
        expected = max(expected, value + 1)
    if expected <= top:
        gaps.append((expected, top))
    return gaps
