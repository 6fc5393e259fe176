"""Billing cycles of a contract: half-open UTC windows between anchor dates.

Pure and Django-free, so the embedded engine and any adapter that must estimate cycles agree on
one definition. The rules mirror the upstream billing backend (upstream/zenskar.md):

- A boundary is an *anchor date*: in each month, day `min(anchor_day, days_in_month)`. It is
  always computed from the contract's original anchor day, so anchor 31 gives Feb 28, then
  Mar 31 (never "stuck" on 28 after a short month).
- The first boundary is the first anchor date on or after the contract start. If the start is
  not itself an anchor date, a short first cycle runs from the start to that anchor date.
- Further boundaries follow every `cadence` months, counted from the first anchor's month and
  clamped to each month's length.
- The contract end (exclusive) cuts a short last cycle.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

CADENCE_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P1Y": 12}
_NAME_DASH = " \u2013 "  # an en dash between the first and the last day of a cycle's name


@dataclass(frozen=True)
class Cycle:
    start: datetime  # UTC-aware midnight, inclusive
    end: datetime  # UTC-aware midnight, exclusive (half-open window [start, end))
    bill_for: datetime  # == start for in-advance contracts, == end for in-arrears
    billing_cycle_start_day: int
    name: str  # "<first day> \u2013 <last day>", both inclusive


def to_wire(dt: datetime) -> str:
    """The upstream's ISO-8601 form, always UTC with a `Z` (e.g. `2026-04-28T00:00:00Z`)."""
    if dt.tzinfo is None:
        raise ValueError("to_wire needs a timezone-aware datetime")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_wire(text: str) -> datetime:
    """Parse an ISO-8601 wire string back to a UTC-aware datetime (naive is taken as UTC)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def midnight(day: date) -> datetime:
    """A calendar day as the UTC-aware midnight that starts it."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def anchor_date(year: int, month: int, anchor_day: int) -> date:
    """The anchor day of that month, clamped to the month's length."""
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _first_anchor(start: date, anchor_day: int) -> date:
    candidate = anchor_date(start.year, start.month, anchor_day)
    if candidate >= start:
        return candidate
    year, month = _add_months(start.year, start.month, 1)
    return anchor_date(year, month, anchor_day)


def _name(start: date, end: date) -> str:
    last_day = date.fromordinal(end.toordinal() - 1)
    return f"{start.isoformat()}{_NAME_DASH}{last_day.isoformat()}"


def compute_cycles(
    *,
    start: date,
    end: date | None,
    cadence: str,
    anchor_day: int,
    in_advance: bool,
    horizon: date | None = None,
    limit: int | None = None,
) -> list[Cycle]:
    """Every billing cycle of the term `[start, end)`, in order.

    An open-ended contract (`end` None) has no last cycle, so the caller must say how far to
    look: `horizon` keeps the cycles that start before it. `horizon` also bounds a fixed term
    (the earlier of the two wins); `limit` caps the number of cycles returned.
    """
    if cadence not in CADENCE_MONTHS:
        raise ValueError(f"unknown cadence {cadence!r}; expected one of {sorted(CADENCE_MONTHS)}")
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) or not 1 <= anchor_day <= 31:
        raise ValueError(f"anchor_day must be an integer from 1 to 31, not {anchor_day!r}")
    if end is not None and end <= start:
        raise ValueError(f"the term must end after it starts ({start} .. {end})")
    if end is None and horizon is None:
        raise ValueError("an open-ended contract needs a horizon")
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")

    step = CADENCE_MONTHS[cadence]
    first = _first_anchor(start, anchor_day)
    cycles: list[Cycle] = []

    def emit(cycle_start: date, cycle_end: date) -> None:
        start_dt, end_dt = midnight(cycle_start), midnight(cycle_end)
        cycles.append(
            Cycle(
                start=start_dt,
                end=end_dt,
                bill_for=start_dt if in_advance else end_dt,
                billing_cycle_start_day=anchor_day,
                name=_name(cycle_start, cycle_end),
            )
        )

    def wanted(cycle_start: date) -> bool:
        if limit is not None and len(cycles) >= limit:
            return False
        if end is not None and cycle_start >= end:
            return False
        return horizon is None or cycle_start < horizon

    if first > start and wanted(start):
        emit(start, first if end is None else min(first, end))
    k = 0
    cycle_start = first
    while wanted(cycle_start):
        k += 1
        year, month = _add_months(first.year, first.month, k * step)
        boundary = anchor_date(year, month, anchor_day)
        emit(cycle_start, boundary if end is None else min(boundary, end))
        cycle_start = boundary
    return cycles
