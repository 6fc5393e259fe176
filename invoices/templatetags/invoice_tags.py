"""Presentation helpers for invoice pages."""

from datetime import UTC, date, datetime, timedelta

from django import template
from django.utils import timezone

from invoices.backends.base import parse_wire_datetime

register = template.Library()


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
    """A half-open window [start, end) shown as first day – last day (inclusive)."""
    first, stop = _as_moment(start), _as_moment(end)
    if first is None or stop is None:
        return "—"
    last = stop
    if isinstance(stop, datetime) and (stop.hour, stop.minute, stop.second) == (0, 0, 0):
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
