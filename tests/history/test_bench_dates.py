"""bench/history.py runs on any day: its date filters are valid ranges whatever today is."""

from datetime import date, timedelta

from bench.history import month_range, year_before
from invoices.forms import HistoryFilterForm


def every_day(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


def test_the_one_month_billing_range_is_a_whole_month_in_order_on_every_day():
    for day in [*every_day(2024), *every_day(2026)]:
        first, last = month_range(year_before(day))
        assert first.day == 1 and first <= last
        assert (last + timedelta(days=1)).day == 1  # the month's last day
        form = HistoryFilterForm(
            {"billed_from": first.isoformat(), "billed_to": last.isoformat()}, users=[]
        )
        assert form.is_valid(), (day, form.errors)


def test_a_year_before_the_29th_of_february_is_the_28th():
    assert year_before(date(2024, 2, 29)) == date(2023, 2, 28)
    assert year_before(date(2026, 11, 30)) == date(2025, 11, 30)
    assert month_range(date(2025, 11, 30)) == (date(2025, 11, 1), date(2025, 11, 30))
