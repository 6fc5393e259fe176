"""How an amount reads in a locale (invoices.money.format_money): what Babel's
``format_currency`` works out for a currency in a locale (``MoneyLayout``), kept per (currency,
locale, exponent), then applied to each amount with a few string operations. ``babel_format`` is
Babel itself, the reference the layout must equal on every locale (tests/test_money_layout.py).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from decimal import Decimal, localcontext

from babel.numbers import format_currency, get_currency_symbol

_NBSP = "\u00a0"


def _is_spacing_sensitive(ch: str) -> bool:
    """CLDR ``currencyMatch`` ``[[:^S:]&[:^Z:]]``: neither a symbol nor a separator."""
    return unicodedata.category(ch)[0] not in "SZ"


def currency_spacing(text: str, symbol: str) -> str:
    """CLDR currencySpacing, which Babel does not apply: a no-break space between a digit and
    a currency symbol that ends in a letter ("KWD 1.250", "1.250 KWD"; "$41.50" unchanged).
    The rule is the same in every CLDR locale."""
    at = text.find(symbol) if symbol else -1
    if at < 0:
        return text
    end = at + len(symbol)
    if end < len(text) and text[end].isdecimal() and _is_spacing_sensitive(symbol[-1]):
        text = text[:end] + _NBSP + text[end:]
    if at > 0 and text[at - 1].isdecimal() and _is_spacing_sensitive(symbol[0]):
        text = text[:at] + _NBSP + text[at:]
    return text


def babel_format(amount: Decimal, currency: str, locale: str) -> str:
    """Babel's ``format_currency`` of a major-unit amount with the currency's own digits, plus
    CLDR currency spacing: the reference MoneyLayout.format equals."""
    # Babel quantizes in the current context: give it room for amounts past 28 digits.
    with localcontext() as context:
        context.prec = max(context.prec, len(amount.as_tuple().digits) + 10)
        text = format_currency(amount, currency, locale=locale, currency_digits=True)
    return currency_spacing(text, get_currency_symbol(currency, locale=locale))


class MoneyLayout:
    """What Babel's ``NumberPattern.apply`` works out for a currency in a locale, once: the
    pattern's prefix and suffix with the currency symbol in place, the grouping and the
    symbols. ``format`` then does what ``apply`` does with an integer number of minor units,
    digit for digit (the tests compare both on every locale)."""

    def __init__(self, currency: str, locale: str, exponent: int):
        from babel import Locale
        from babel.numbers import get_decimal_symbol, get_group_symbol

        parsed = Locale.parse(locale)
        pattern = parsed.currency_formats["standard"]
        self.currency = currency
        self.exponent = exponent
        self.prefix, self.suffix = pattern.prefix, pattern.suffix
        self.int_min = pattern.int_prec[0]
        self.primary, self.secondary = pattern.grouping
        self.group = get_group_symbol(parsed, numbering_system="latn")
        self.decimal = get_decimal_symbol(parsed, numbering_system="latn")
        self.symbol = get_currency_symbol(currency, locale=parsed)
        self.spacing_symbol = get_currency_symbol(currency, locale=locale)
        # Patterns this layout does not reproduce go through Babel itself.
        self.supported = (
            pattern.scale == 0
            and not pattern.exp_prec
            and "@" not in pattern.pattern
            and pattern.number_pattern != ""
            and "¤¤¤" not in "".join((*self.prefix, *self.suffix))
        )

    def _grouped(self, digits: str) -> str:
        if len(digits) < self.int_min:
            digits = "0" * (self.int_min - len(digits)) + digits
        size, groups = self.primary, ""
        while len(digits) > size:
            groups = self.group + digits[-size:] + groups
            digits = digits[:-size]
            size = self.secondary
        return digits + groups

    def format(self, minor: int) -> str:
        negative = 1 if minor < 0 else 0
        e = self.exponent
        digits = str(-minor if negative else minor)
        if e:
            digits = digits.rjust(e + 1, "0")
            number = self._grouped(digits[:-e]) + self.decimal + digits[-e:]
        else:
            number = self._grouped(digits)
        ends = self._ends
        if ends is None:
            return self._finish(self.prefix[negative] + number + self.suffix[negative])
        head, tail = ends[negative]
        return head + number + tail

    def _finish(self, text: str) -> str:
        """What Babel's `apply` does after placing the number: the currency in place, quoted
        text resolved (over the whole text, the number's separators included), then CLDR
        currency spacing."""
        if "¤" in text:
            text = text.replace("¤¤", self.currency).replace("¤", self.symbol)
        if "'" in text:
            text = re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", text)
        return currency_spacing(text, self.spacing_symbol)

    @functools.cached_property
    def _ends(self) -> tuple[tuple[str, str], tuple[str, str]] | None:
        """(text before the number, text after it) for a positive and a negative amount, worked
        out once by _finish around a stand-in digit: every number starts and ends with a
        digit, and the spacing rule only asks whether a digit is next to the symbol. None
        where a quote could reach into the number (a separator or the pattern has one): then
        each amount goes through _finish, as Babel does it."""
        parts = (*self.prefix, *self.suffix, self.group, self.decimal)
        if any("'" in part for part in parts):
            return None
        ends = []
        for negative in (0, 1):
            text = self._finish(self.prefix[negative] + _STAND_IN + self.suffix[negative])
            head, tail = text.split(_STAND_IN)
            ends.append((head, tail))
        return ends[0], ends[1]


#: A decimal digit no pattern contains, standing in for the number in MoneyLayout._ends.
_STAND_IN = "\u0660"


@functools.lru_cache(maxsize=512)
def layout(currency: str, locale: str, exponent: int) -> MoneyLayout | None:
    """The currency's layout in the locale (`exponent`: its number of decimals), or None where
    the locale's pattern is one MoneyLayout does not reproduce (then Babel formats)."""
    found = MoneyLayout(currency, locale, exponent)
    return found if found.supported else None
