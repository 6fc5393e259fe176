"""format_money keeps what Babel works out per (currency, locale): the same text as Babel's own
format_currency (with currency spacing) for every locale Babel knows, in every exponent."""

import pytest
from babel import localedata
from hypothesis import given
from hypothesis import strategies as st

from invoices import money
from invoices.money import MoneyError, format_money

# Exponents 0, 2, 3 and 4; symbols before and after; a currency whose symbol is its code.
CURRENCIES = ("JPY", "USD", "EUR", "KWD", "CLF", "INR", "CHF")
AMOUNTS = (0, 1, -1, 5, 99, 100, -4150, 123456, 1234567, -123456789012, 10**15 - 1, 10**40 + 5)


@pytest.mark.parametrize("currency", CURRENCIES)
def test_the_same_text_as_babel_in_every_locale(currency):
    differences = []
    for locale in localedata.locale_identifiers():
        for minor in AMOUNTS:
            fast = format_money(minor, currency, locale)
            reference = money._babel_format_money(minor, currency, locale)
            if fast != reference:
                differences.append((locale, minor, fast, reference))
    assert differences == []


@given(
    minor=st.integers(min_value=-(10**20), max_value=10**20),
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(["en_US", "de_DE", "fr_CH", "hi_IN", "ar_EG", "ja_JP", "de_CH"]),
)
def test_the_same_text_as_babel_for_any_amount(minor, currency, locale):
    assert format_money(minor, currency, locale) == money._babel_format_money(
        minor, currency, locale
    )


def test_unknown_currencies_and_non_integers_are_still_refused():
    with pytest.raises(MoneyError):
        format_money(100, "XXX")
    with pytest.raises(MoneyError):
        format_money(100, "usd")
    with pytest.raises(TypeError):
        format_money(1.5, "USD")
    with pytest.raises(TypeError):
        format_money(True, "USD")
