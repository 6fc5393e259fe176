"""Presentation helpers for bill-run pages."""

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds as people read a wait: '45 s', '3 min 20 s', '2 h 5 min'."""
    if seconds is None or seconds == "":
        return "—"
    total = max(0, round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
