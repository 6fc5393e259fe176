"""Template filters for money kept as integer minor units: ``{% load money %}``.

``{{ line.amount|money:invoice.currency }}``  -> "$41.50" (``invoices.money.format_money``)
``{{ line.amount|amount:invoice.currency }}`` -> "41.50"  (``invoices.money.format_amount``)

A missing amount or currency (``None`` or ``""``) renders as an em dash. Anything else that is
wrong (a float, an unknown currency code) raises rather than show a made-up figure.
"""

from django import template

from invoices.money import format_amount, format_money

register = template.Library()

MISSING = "\u2014"


def _missing(minor, currency) -> bool:
    return minor is None or minor == "" or currency is None or currency == ""


@register.filter(name="money")
def money_filter(minor, currency):
    """Amount for people, in ``settings.BILLING_LOCALE``."""
    if _missing(minor, currency):
        return MISSING
    return format_money(minor, currency)


@register.filter(name="amount")
def amount_filter(minor, currency):
    """Plain major-unit figure, as typed in forms ("41.50", "98000")."""
    if _missing(minor, currency):
        return MISSING
    return format_amount(minor, currency)
