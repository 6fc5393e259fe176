"""Billing cycles: the worked examples of design.md, month ends, leap years, and properties that
must hold for every contract (hypothesis)."""

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_rules.cycles import CADENCE_MONTHS, Cycle, compute_cycles, from_wire, to_wire


def windows(cycles: list[Cycle]) -> list[tuple[date, date]]:
    return [(c.start.date(), c.end.date()) for c in cycles]


def monthly(start, anchor, *, end=None, horizon=None, in_advance=True, cadence="P1M", limit=None):
    return compute_cycles(
        start=start,
        end=end,
        cadence=cadence,
        anchor_day=anchor,
        in_advance=in_advance,
        horizon=horizon,
        limit=limit,
    )


# --- worked examples ------------------------------------------------------------------------
def test_month_end_anchor_31_clamps_to_short_months_and_comes_back():
    cycles = monthly(date(2026, 1, 31), 31, horizon=date(2026, 5, 1))
    assert windows(cycles) == [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2026, 3, 31)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 4, 30), date(2026, 5, 31)),
    ]


def test_start_before_the_anchor_gives_a_short_first_cycle():
    cycles = monthly(date(2026, 1, 10), 28, horizon=date(2026, 3, 1))
    assert windows(cycles) == [
        (date(2026, 1, 10), date(2026, 1, 28)),
        (date(2026, 1, 28), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2026, 3, 28)),
    ]


def test_quarterly_cycles_step_three_months_from_the_anchor():
    cycles = monthly(date(2026, 2, 15), 15, cadence="P3M", horizon=date(2026, 6, 1))
    assert windows(cycles) == [
        (date(2026, 2, 15), date(2026, 5, 15)),
        (date(2026, 5, 15), date(2026, 8, 15)),
    ]


def test_yearly_from_a_leap_day_clamps_to_feb_28_and_returns_to_feb_29_in_leap_years():
    cycles = monthly(date(2024, 2, 29), 29, cadence="P1Y", horizon=date(2028, 1, 1))
    assert windows(cycles) == [
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2025, 2, 28), date(2026, 2, 28)),
        (date(2026, 2, 28), date(2027, 2, 28)),
        (date(2027, 2, 28), date(2028, 2, 29)),
    ]


def test_contract_end_cuts_a_short_last_cycle():
    cycles = monthly(date(2026, 1, 1), 1, end=date(2026, 6, 20))
    assert len(cycles) == 6
    assert windows(cycles)[-1] == (date(2026, 6, 1), date(2026, 6, 20))
    assert cycles[-1].name == "2026-06-01 \u2013 2026-06-19"


def test_in_arrears_bills_for_the_end_and_in_advance_for_the_start():
    arrears = monthly(date(2026, 5, 28), 28, in_advance=False, horizon=date(2026, 6, 1))
    advance = monthly(date(2026, 5, 28), 28, in_advance=True, horizon=date(2026, 6, 1))
    assert to_wire(arrears[0].bill_for) == "2026-06-28T00:00:00Z"
    assert to_wire(advance[0].bill_for) == "2026-05-28T00:00:00Z"
    assert arrears[0].start == advance[0].start


def test_cycle_fields_are_utc_midnights_with_the_wire_format_and_an_inclusive_name():
    (cycle,) = monthly(date(2026, 1, 31), 31, limit=1, horizon=date(2027, 1, 1))
    assert cycle.start == datetime(2026, 1, 31, tzinfo=UTC)
    assert cycle.end == datetime(2026, 2, 28, tzinfo=UTC)
    assert cycle.billing_cycle_start_day == 31
    assert cycle.name == "2026-01-31 \u2013 2026-02-27"
    assert to_wire(cycle.start) == "2026-01-31T00:00:00Z"
    assert from_wire("2026-01-31T00:00:00Z") == cycle.start
    assert from_wire("2026-01-31T01:00:00+01:00") == cycle.start


# --- more edges -----------------------------------------------------------------------------
def test_anchor_30_in_a_leap_february_clamps_to_the_29th():
    cycles = monthly(date(2028, 1, 30), 30, horizon=date(2028, 3, 1))
    assert windows(cycles) == [
        (date(2028, 1, 30), date(2028, 2, 29)),
        (date(2028, 2, 29), date(2028, 3, 30)),
    ]


def test_start_after_this_months_anchor_runs_to_next_months_anchor():
    cycles = monthly(date(2026, 1, 20), 15, horizon=date(2026, 2, 16))
    assert windows(cycles) == [
        (date(2026, 1, 20), date(2026, 2, 15)),
        (date(2026, 2, 15), date(2026, 3, 15)),
    ]


def test_start_on_a_clamped_anchor_date_is_not_a_short_cycle():
    # Feb 28 2026 is the anchor date for anchor 31, so no stub.
    cycles = monthly(date(2026, 2, 28), 31, horizon=date(2026, 4, 1))
    assert windows(cycles)[0] == (date(2026, 2, 28), date(2026, 3, 31))


def test_short_first_cycle_then_half_yearly_steps():
    cycles = monthly(date(2026, 3, 5), 1, cadence="P6M", end=date(2027, 6, 1))
    assert windows(cycles) == [
        (date(2026, 3, 5), date(2026, 4, 1)),
        (date(2026, 4, 1), date(2026, 10, 1)),
        (date(2026, 10, 1), date(2027, 4, 1)),
        (date(2027, 4, 1), date(2027, 6, 1)),
    ]


def test_term_shorter_than_the_stub_is_one_cycle():
    cycles = monthly(date(2026, 1, 10), 28, end=date(2026, 1, 20))
    assert windows(cycles) == [(date(2026, 1, 10), date(2026, 1, 20))]


def test_open_ended_lists_only_cycles_starting_before_the_horizon():
    cycles = monthly(date(2026, 1, 1), 1, horizon=date(2026, 4, 1))
    assert [c.start.date() for c in cycles] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]


def test_limit_caps_the_count():
    assert len(monthly(date(2026, 1, 1), 1, horizon=date(2030, 1, 1), limit=5)) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cadence": "P2M"}, "cadence"),
        ({"anchor_day": 0}, "anchor_day"),
        ({"anchor_day": 32}, "anchor_day"),
        ({"anchor_day": True}, "anchor_day"),
        ({"end": date(2026, 1, 1)}, "end after"),
        ({"end": date(2025, 12, 1)}, "end after"),
        ({"end": None, "horizon": None}, "horizon"),
    ],
)
def test_invalid_inputs_are_refused(kwargs, message):
    base = {
        "start": date(2026, 1, 1),
        "end": date(2027, 1, 1),
        "cadence": "P1M",
        "anchor_day": 1,
        "in_advance": True,
    }
    with pytest.raises(ValueError, match=message):
        compute_cycles(**{**base, **kwargs})


def test_to_wire_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        to_wire(datetime(2026, 1, 1))


# --- properties -----------------------------------------------------------------------------
def _anchor(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


contracts = st.fixed_dictionaries(
    {
        "start": st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
        "cadence": st.sampled_from(sorted(CADENCE_MONTHS)),
        "anchor_day": st.integers(min_value=1, max_value=31),
        "in_advance": st.booleans(),
        "length_days": st.one_of(st.none(), st.integers(min_value=1, max_value=2000)),
    }
)


@settings(max_examples=500, deadline=None)
@given(contracts)
def test_cycles_tile_the_term_exactly_and_respect_cadence_and_clamping(contract):
    start = contract["start"]
    end = None if contract["length_days"] is None else start + timedelta(contract["length_days"])
    horizon = start + timedelta(days=1500)
    cycles = compute_cycles(
        start=start,
        end=end,
        cadence=contract["cadence"],
        anchor_day=contract["anchor_day"],
        in_advance=contract["in_advance"],
        horizon=horizon,
    )
    step = CADENCE_MONTHS[contract["cadence"]]
    anchor = contract["anchor_day"]
    assert cycles, "every term has at least one cycle"

    # Contiguous and never overlapping, from the contract start.
    assert cycles[0].start.date() == start
    for before, after in itertools.pairwise(cycles):
        assert before.end == after.start
    for cycle in cycles:
        assert cycle.start < cycle.end
        assert cycle.start.tzinfo is UTC and cycle.start.time() == time.min
        assert cycle.end.tzinfo is UTC and cycle.end.time() == time.min
        assert cycle.bill_for == (cycle.start if contract["in_advance"] else cycle.end)
        assert cycle.billing_cycle_start_day == anchor

    # Covers the term exactly; an open end (or a term past the horizon) stops at the horizon.
    if end is not None and end <= horizon:
        assert cycles[-1].end.date() == end
    else:
        assert cycles[-1].start.date() < horizon <= cycles[-1].end.date()

    # Every inner boundary is the anchor day clamped to its month, from the original anchor day.
    for cycle in cycles[1:]:
        first = cycle.start.date()
        assert first == _anchor(first.year, first.month, anchor)

    # A cycle starting on an anchor date ends exactly `cadence` months later (clamped), unless
    # the term ends first; a first stub ends on the first anchor date after the start.
    for cycle in cycles:
        first, last = cycle.start.date(), cycle.end.date()
        if first == _anchor(first.year, first.month, anchor):
            year, month = _plus_months(first, step)
            expected = _anchor(year, month, anchor)
        else:
            assert cycle is cycles[0]
            expected = _first_anchor_after(first, anchor)
        if end is not None and last == end:
            assert last <= expected
        else:
            assert last == expected


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    anchor=st.integers(min_value=1, max_value=31),
)
def test_the_first_stub_ends_on_the_first_anchor_date_on_or_after_the_start(start, anchor):
    cycles = compute_cycles(
        start=start,
        end=None,
        cadence="P1M",
        anchor_day=anchor,
        in_advance=True,
        horizon=start + timedelta(days=70),
    )
    this_month = _anchor(start.year, start.month, anchor)
    if this_month == start:
        assert cycles[0].end.date() == _anchor(*_next_month(start), anchor)
    elif this_month > start:
        assert cycles[0].end.date() == this_month
    else:
        assert cycles[0].end.date() == _anchor(*_next_month(start), anchor)


def _next_month(day: date) -> tuple[int, int]:
    return _plus_months(day, 1)


def _plus_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _first_anchor_after(day: date, anchor: int) -> date:
    this_month = _anchor(day.year, day.month, anchor)
    return this_month if this_month > day else _anchor(*_next_month(day), anchor)
