"""Money: integer minor units plus an ISO 4217 currency code.

Every amount in the application is an ``int`` of the currency's minor unit (cents for USD, yen for
JPY, fils for KWD) travelling with its three-letter code. The currency's exponent (its number of
decimals) comes from Babel's CLDR data and decides how a person reads and types the amount.

Rules that hold for every function here:

- No ``float`` anywhere, not even in between: text is turned into integers by string and integer
  arithmetic, and ``Decimal`` values are taken apart with ``as_tuple()`` instead of through
  context-dependent arithmetic (which would round past 28 digits).
- Nothing is ever rounded silently. More decimals than the currency has is a ``MoneyError``
  (trailing zeros do not count: ``41.500`` USD is exactly 4150). The one place that rounds on
  purpose is ``round_half_up``, used for per-line rounding.
- Amounts that are read in (``parse_amount``, ``to_minor``) are capped at ``MAX_MINOR_UNITS`` so
  they, and sums of many of them, stay well inside a database BigInteger. Formatting is not
  capped: a total is always shown as it is.

What ``parse_amount`` accepts, in the currency's MAJOR unit (what a person types):

- ASCII digits with at most one ``.`` as the decimal point, digits required on both sides of it
  (``0.5`` and ``5`` are fine; ``.5`` and ``5.`` are refused with a message saying what to type);
- ``,`` only as a thousands separator, in complete groups of three (``1,234.56``,
  ``12,345,678``); anything else with a comma (``1,23``, ``1234,567``, ``,123``, ``1,,234``,
  ``0,123``) is refused, never guessed at;
- surrounding whitespace is stripped; signs, exponents, NaN/Infinity, non-ASCII digits, currency
  symbols, codes and letters are refused.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from decimal import Decimal

from babel.numbers import get_currency_precision
from babel.numbers import list_currencies as _babel_currencies
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from . import money_layout

__all__ = [
    "MAX_MINOR_UNITS",
    "MoneyError",
    "exponent",
    "format_amount",
    "format_money",
    "parse_amount",
    "round_half_up",
    "to_major",
    "to_minor",
]

#: Largest amount, in minor units, that ``parse_amount`` and ``to_minor`` accept (15 digits:
#: 9,999,999,999,999.99 USD; 999,999,999,999,999 JPY). A BigInteger holds 9.2 * 10**18, so a
#: document may sum thousands of maximal lines before reaching it.
MAX_MINOR_UNITS = 10**15 - 1

#: Longest text ``parse_amount`` looks at (after stripping); the maximum amount with grouping
#: separators is about 20 characters, so this only stops absurd inputs early.
MAX_INPUT_LENGTH = 64

DEFAULT_LOCALE = "en_US"

# ISO 4217 codes whose minor unit is "N.A.": metals, bond-market units, SDR, testing, "no
# currency". Babel falls back to 2 decimals for them, which would be invented; nobody invoices
# in them.
_NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)

_CODE_RE = re.compile(r"[A-Z]{3}")
# The only shape accepted for a typed amount. ASCII digits are spelled out as [0-9]: \d would
# also match Arabic-Indic, fullwidth and other Unicode digits.
_WHOLE = r"[0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+"
_WHOLE_RE = re.compile(_WHOLE)
_AMOUNT_RE = re.compile(rf"(?P<int>{_WHOLE})(?:\.(?P<frac>[0-9]+))?")
_EXPONENT_RE = re.compile(r"[0-9.,]*[0-9][eE][+-]?[0-9]+")

_EMPTY = "Enter an amount."
_TOO_LONG = f"That amount is too long; enter at most {MAX_INPUT_LENGTH} characters."
_NEGATIVE = "Enter an amount that is not negative."
_PLUS = "Leave out the plus sign."
_FOREIGN_DIGITS = "Type the amount with the digits 0 to 9."
_EXPONENT = "Write the amount out in full, without an exponent (1000, not 1e3)."
_NOT_A_NUMBER = "Enter only the number, without a currency symbol, code or letters."
_BAD_CHARACTERS = (
    "Enter the amount with digits only, using '.' for the decimals "
    "and ',' only between groups of thousands."
)
_TWO_POINTS = "Use only one decimal point."
_LEADING_POINT = "Put a digit before the decimal point, for example 0.5."
_TRAILING_POINT = "Put digits after the decimal point, or leave the point out."
_GROUPING = (
    "Use ',' only to separate thousands, in groups of three digits (for example 1,234,567.89), "
    "and '.' for the decimals."
)
_ZERO = "Enter an amount greater than zero."
_NOT_FINITE = "The amount must be a finite number."


class MoneyError(ValueError):
    """An amount or currency that cannot be used; ``str(error)`` is a sentence for a person."""


# --- currencies -----------------------------------------------------------------------------
@functools.cache
def _known_currencies() -> frozenset[str]:
    return frozenset(_babel_currencies()) - _NOT_MONEY


@functools.cache
def exponent(currency: str) -> int:
    """Number of decimals of ``currency`` (JPY 0, USD 2, KWD 3, CLF 4), from Babel's CLDR data.

    The code must be an upper-case ISO 4217 code Babel knows; anything else is a ``MoneyError``.
    CLDR's digits are what people are shown, and for a few currencies they differ from ISO 4217's
    minor unit (CLDR says 0 for IQD, where ISO says 3; 0 for ALL, AFN, IRR, LAK, LBP, MGA, MMK,
    RSD, SLL, SOS, SYP, YER, where ISO says 2): check a vendor's convention before using one.
    """
    if not isinstance(currency, str) or not _CODE_RE.fullmatch(currency):
        raise MoneyError("Use a three-letter ISO 4217 currency code in capitals, such as USD.")
    if currency in _NOT_MONEY:
        raise MoneyError(f"{currency} is not a currency that invoices can be issued in.")
    if currency not in _known_currencies():
        raise MoneyError(f"{currency} is not a known currency code.")
    return get_currency_precision(currency)


def _decimals_sentence(currency: str, e: int) -> str:
    if e == 0:
        return f"{currency} amounts have no decimals."
    return f"{currency} amounts have at most {e} decimal{'s' if e != 1 else ''}."


def _too_large(currency: str) -> MoneyError:
    largest = format_amount(MAX_MINOR_UNITS, currency, grouping=True)
    return MoneyError(f"That amount is too large: {currency} amounts go up to {largest}.")


def _check_int(minor: int) -> None:
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise TypeError(f"minor units must be an int, not {type(minor).__name__}")


# --- Decimal <-> minor units ----------------------------------------------------------------
def to_major(minor: int, currency: str) -> Decimal:
    """Exact major-unit ``Decimal`` with the currency's decimals: (4150, "USD") -> 41.50."""
    _check_int(minor)
    e = exponent(currency)
    digits = tuple(int(d) for d in str(abs(minor)))
    # Built from its parts: no context precision, no rounding, whatever the size.
    return Decimal((1 if minor < 0 else 0, digits, -e))


def _scaled_integer(amount: Decimal, shift: int) -> tuple[int, bool]:
    """``abs(amount) * 10**shift`` as ``(integer, exact)``, by integer arithmetic only.

    Assumes a finite ``amount`` whose magnitude has been checked by the caller.
    """
    _sign, digits, exp = amount.as_tuple()
    coefficient = int("".join(map(str, digits)))
    power = exp + shift
    if power >= 0:
        return coefficient * 10**power, True
    if -power > len(digits):  # the coefficient is below the divisor: only zero is whole
        return 0, coefficient == 0
    quotient, remainder = divmod(coefficient, 10**-power)
    return quotient, remainder == 0


def to_minor(amount: Decimal, currency: str, *, allow_negative: bool = False) -> int:
    """Exact minor units of a major-unit ``Decimal``: Decimal("41.5") USD -> 4150.

    More (non-zero) decimals than the currency has, NaN, Infinity, a negative amount (unless
    ``allow_negative``) or more than ``MAX_MINOR_UNITS`` are a ``MoneyError``. ``int`` is
    accepted as a whole number of major units; ``float`` is refused with ``TypeError``.
    """
    if isinstance(amount, int) and not isinstance(amount, bool):
        amount = Decimal(amount)
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    e = exponent(currency)
    if not amount.is_finite():
        raise MoneyError(_NOT_FINITE)
    negative = amount.is_signed() and not amount.is_zero()
    if negative and not allow_negative:
        raise MoneyError("The amount cannot be negative.")
    # adjusted() is the power of ten of the leading digit: reject huge values before building
    # a huge integer (Decimal("1E+999999") is a valid Decimal).
    if not amount.is_zero() and amount.adjusted() + e >= len(str(MAX_MINOR_UNITS)):
        raise _too_large(currency)
    minor, exact = _scaled_integer(amount, e)
    if not exact:
        raise MoneyError(_decimals_sentence(currency, e))
    if minor > MAX_MINOR_UNITS:
        raise _too_large(currency)
    return -minor if negative else minor


def round_half_up(value: Decimal) -> int:
    """Round to the nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3).

    Pure integer arithmetic, so exact at any size (no 28-digit context precision).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, Decimal):
        raise TypeError(f"value must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise MoneyError(_NOT_FINITE)
    if value.is_zero():
        return 0
    if value.adjusted() > 100:  # a googol of minor units is a bug, not an amount
        raise MoneyError("That amount is too large.")
    sign, digits, exp = value.as_tuple()
    coefficient = int("".join(map(str, digits)))
    if exp >= 0:
        result = coefficient * 10**exp
    elif -exp > len(digits):  # below 0.1 in magnitude: rounds to zero
        result = 0
    else:
        divisor = 10**-exp
        result, remainder = divmod(coefficient, divisor)
        if 2 * remainder >= divisor:
            result += 1
    return -result if sign else result


# --- text typed by people -------------------------------------------------------------------
def _refuse_shape(text: str) -> MoneyError:
    """The most helpful message for text that does not match ``_AMOUNT_RE``."""
    if text[0] in "-\u2212":  # ASCII hyphen-minus and the Unicode minus sign
        return MoneyError(_NEGATIVE)
    if text[0] == "+":
        return MoneyError(_PLUS)
    if any(ch.isdecimal() and ch not in "0123456789" for ch in text):
        return MoneyError(_FOREIGN_DIGITS)
    if _EXPONENT_RE.fullmatch(text):
        return MoneyError(_EXPONENT)
    if any(ch.isalpha() or unicodedata.category(ch) == "Sc" for ch in text):
        return MoneyError(_NOT_A_NUMBER)
    if any(ch not in "0123456789.," for ch in text):
        return MoneyError(_BAD_CHARACTERS)
    if text.count(".") > 1:
        return MoneyError(_TWO_POINTS)
    whole, point, fraction = text.partition(".")
    if "," in fraction or (whole and not _WHOLE_RE.fullmatch(whole)):
        return MoneyError(_GROUPING)
    if not whole:
        return MoneyError(_LEADING_POINT)
    if point and not fraction:
        return MoneyError(_TRAILING_POINT)
    return MoneyError(_BAD_CHARACTERS)  # not reached: every other shape matches _AMOUNT_RE


def parse_amount(text: str, currency: str, *, allow_zero: bool = True) -> int:
    """Minor units of what a person typed in the currency's major unit.

    '41', '41.00' and '41.5' in USD are 4100, 4100 and 4150. See the module docstring for what is
    accepted; everything else is a ``MoneyError`` whose message says what to type instead.
    """
    e = exponent(currency)
    if text is None:
        raise MoneyError(_EMPTY)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    text = text.strip()
    if not text:
        raise MoneyError(_EMPTY)
    if len(text) > MAX_INPUT_LENGTH:
        raise MoneyError(_TOO_LONG)
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        raise _refuse_shape(text)
    whole = match["int"].replace(",", "")
    fraction = (match["frac"] or "").rstrip("0")  # trailing zeros change nothing: 41.50 = 41.5
    if len(fraction) > e:
        raise MoneyError(_decimals_sentence(currency, e))
    minor = int(whole + fraction.ljust(e, "0"))
    if minor > MAX_MINOR_UNITS:
        raise _too_large(currency)
    if minor == 0 and not allow_zero:
        raise MoneyError(_ZERO)
    return minor


# --- text for inputs, CSV and people --------------------------------------------------------
def _group_thousands(digits: str) -> str:
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ",".join(groups)


def format_amount(minor: int, currency: str, *, grouping: bool = False) -> str:
    """Plain major-unit text for form inputs and CSV, which ``parse_amount`` reads back.

    4150 USD -> "41.50", 98000 JPY -> "98000", -4150 USD -> "-41.50"; with ``grouping``,
    123456 USD -> "1,234.56". Always '.' and ',' whatever the locale; never capped.
    """
    _check_int(minor)
    e = exponent(currency)
    digits = str(abs(minor)).rjust(e + 1, "0")
    whole, fraction = (digits[:-e], digits[-e:]) if e else (digits, "")
    if grouping:
        whole = _group_thousands(whole)
    sign = "-" if minor < 0 else ""
    return f"{sign}{whole}.{fraction}" if e else f"{sign}{whole}"


def _default_locale() -> str:
    global _locale
    if _locale is None:
        if not settings.configured:
            return DEFAULT_LOCALE
        _locale = getattr(settings, "BILLING_LOCALE", None) or DEFAULT_LOCALE
    return _locale


_locale: str | None = None  # settings.BILLING_LOCALE, read once (and again when it changes)


@receiver(setting_changed)
def _forget_locale(*, setting, **kwargs) -> None:
    global _locale
    if setting == "BILLING_LOCALE":
        _locale = None


def format_money(minor: int, currency: str, locale: str | None = None) -> str:
    """Amount for people, with the currency's own digits: "$41.50", "¥98,000", "KWD 1.250".

    ``locale`` defaults to ``settings.BILLING_LOCALE`` when Django is configured, else en_US.
    The text is Babel's ``format_currency`` (with CLDR currency spacing); what Babel works out
    from the locale and currency is kept per (currency, locale), so a page of amounts costs a
    few string operations each (``_babel_format_money`` is the reference it must equal).
    """
    _check_int(minor)
    locale = (locale or _default_locale()).replace("-", "_")
    layout = money_layout.layout(currency, locale, exponent(currency))
    if layout is None:
        return _babel_format_money(minor, currency, locale)
    return layout.format(minor)


def _babel_format_money(minor: int, currency: str, locale: str) -> str:
    """Babel's own text for the amount: what format_money must equal (tests/test_money_layout)."""
    return money_layout.babel_format(to_major(minor, currency), currency, locale)
