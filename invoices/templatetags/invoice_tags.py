"""Presentation helpers for invoice pages."""

import re
from datetime import UTC, date, datetime, timedelta

from django import template
from django.utils import timezone

from invoices.backends.base import parse_wire_datetime

register = template.Library()
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _as_moment(value) -> datetime | date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return parse_wire_datetime(value)
        except ValueError:
            return None
    return value


@register.filter
def day(value) -> str:
    """A date (UTC) as YYYY-MM-DD."""
    moment = _as_moment(value)
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    return moment.isoformat()


@register.simple_tag
def period(start, end) -> str:
    """A period shown as first day – last day (both included). A moment as its end (a datetime,
    or an ISO date-time string: a billing cycle's window [start, end)) is exclusive: a window
    ending at midnight ends the day before. A plain date as its end (a date, or "2026-07-31": an
    ad-hoc line's days, as typed) is the last day itself."""
    first, stop = _as_moment(start), _as_moment(end)
    if first is None or stop is None:
        return "—"
    last = stop
    names_a_day = isinstance(end, date) and not isinstance(end, datetime)
    names_a_day = names_a_day or (isinstance(end, str) and _ISO_DATE.match(end.strip()))
    if (
        not names_a_day
        and isinstance(stop, datetime)
        and (stop.hour, stop.minute, stop.second) == (0, 0, 0)
    ):
        last = stop - timedelta(days=1)
    if day(last) < day(first):
        last = first
    return f"{day(first)} – {day(last)}"


@register.filter
def age(value) -> str:
    """How long ago, compact: '3 d 4 h', '2 h 5 min', '40 min'."""
    if value is None:
        return "—"
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.inclusion_tag("invoices/_status.html")
def status_badge(status: str, label: str = ""):
    return {"status": status, "label": label or status.replace("_", " ")}
