"""Money: integer minor units, the currency's own decimals, no float, no silent rounding."""

import ast
import builtins
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest
from django.template import Context, Template
from hypothesis import example, given
from hypothesis import strategies as st

from invoices import money
from invoices.money import (
    MAX_MINOR_UNITS,
    MoneyError,
    exponent,
    format_amount,
    format_money,
    parse_amount,
    round_half_up,
    to_major,
    to_minor,
)

NBSP = "\u00a0"
# One currency per exponent Babel knows (there is no exponent-1 currency in CLDR).
BY_EXPONENT = {0: "JPY", 2: "USD", 3: "KWD", 4: "CLF"}
CURRENCIES = st.sampled_from(sorted(BY_EXPONENT.values()))
DIGITS = "0123456789"


# --- exponent -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("currency", "decimals"),
    [
        ("JPY", 0),
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("KWD", 3),
        ("BHD", 3),
        ("CLF", 4),
    ],
)
def test_exponent_is_the_number_of_decimals_of_the_currency(currency, decimals):
    assert exponent(currency) == decimals


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("ZZZ", "not a known currency"),
        ("usd", "three-letter ISO 4217"),
        ("US", "three-letter ISO 4217"),
        ("USDX", "three-letter ISO 4217"),
        ("", "three-letter ISO 4217"),
        (None, "three-letter ISO 4217"),
        ("XAU", "not a currency that invoices"),
        ("XXX", "not a currency that invoices"),
    ],
)
def test_unknown_or_malformed_currency_codes_are_refused(code, fragment):
    # Babel answers 2 for any code it does not know; exponent() must not.
    with pytest.raises(MoneyError, match=fragment):
        exponent(code)


# --- parse_amount: the table ----------------------------------------------------------------
VALID = [
    # what a person means, whatever the currency's decimals
    ("41", "USD", 4100),
    ("41.00", "USD", 4100),
    ("41.5", "USD", 4150),
    ("41.50", "USD", 4150),
    ("0.01", "USD", 1),
    ("0", "USD", 0),
    ("0.00", "USD", 0),
    ("41.500", "USD", 4150),  # trailing zeros are not decimals the currency lacks
    ("  41.5\t\n", "USD", 4150),
    ("1,234.56", "USD", 123456),
    ("12,345,678", "USD", 1234567800),
    ("123,456", "USD", 12345600),
    ("1234567.89", "USD", 123456789),
    ("007", "USD", 700),
    ("9,999,999,999,999.99", "USD", MAX_MINOR_UNITS),
    ("98000", "JPY", 98000),
    ("98,000", "JPY", 98000),
    ("41.0", "JPY", 41),
    ("999999999999999", "JPY", MAX_MINOR_UNITS),
    ("1.25", "KWD", 1250),
    ("1.250", "KWD", 1250),
    ("1.005", "KWD", 1005),
    ("1", "KWD", 1000),
    ("0.0001", "CLF", 1),
    ("1.5", "CLF", 15000),
]


@pytest.mark.parametrize(("text", "currency", "minor"), VALID)
def test_parse_amount_reads_major_units_as_a_person_means_them(text, currency, minor):
    result = parse_amount(text, currency)
    assert result == minor
    assert type(result) is int


GROUPING = "groups of three digits"
INVALID = [
    # more decimals than the currency has: named, never rounded
    ("41.005", "USD", "USD amounts have at most 2 decimals."),
    ("0.001", "USD", "USD amounts have at most 2 decimals."),
    ("1.5", "JPY", "JPY amounts have no decimals."),
    ("1.01", "JPY", "JPY amounts have no decimals."),
    ("1.0005", "KWD", "KWD amounts have at most 3 decimals."),
    ("1.00005", "CLF", "CLF amounts have at most 4 decimals."),
    # empty
    ("", "USD", "Enter an amount."),
    ("   ", "USD", "Enter an amount."),
    # signs
    ("-1", "USD", "not negative"),
    ("-0", "USD", "not negative"),
    ("\u22121", "USD", "not negative"),
    ("+1", "USD", "plus sign"),
    # exponents and special values
    ("1e3", "USD", "without an exponent"),
    ("1E3", "USD", "without an exponent"),
    ("1.5e-2", "USD", "without an exponent"),
    ("NaN", "USD", "without a currency symbol, code or letters"),
    ("Infinity", "USD", "without a currency symbol, code or letters"),
    ("inf", "USD", "without a currency symbol, code or letters"),
    # digits that are not ASCII
    ("\u0664\u0661", "USD", "digits 0 to 9"),  # Arabic-Indic 41
    ("\uff14\uff11", "USD", "digits 0 to 9"),  # fullwidth 41
    ("\u0968", "USD", "digits 0 to 9"),  # Devanagari 2
    # currency symbols, codes, letters
    ("$41", "USD", "without a currency symbol"),
    ("41 USD", "USD", "without a currency symbol"),
    ("\u00a541", "JPY", "without a currency symbol"),
    ("41\u20ac", "USD", "without a currency symbol"),
    ("forty", "USD", "without a currency symbol"),
    # other characters
    ("1 234", "USD", "digits only"),
    ("1_234", "USD", "digits only"),
    ("1'234", "USD", "digits only"),
    ("(41)", "USD", "digits only"),
    # the decimal point needs digits on both sides
    (".5", "USD", "digit before the decimal point"),
    (".", "USD", "digit before the decimal point"),
    ("5.", "USD", "digits after the decimal point"),
    ("1.2.3", "USD", "only one decimal point"),
    # ',' is a thousands separator in groups of three, nothing else
    ("1,23", "USD", GROUPING),
    ("1,2345", "USD", GROUPING),
    ("1234,567", "USD", GROUPING),
    (",123", "USD", GROUPING),
    ("1,,234", "USD", GROUPING),
    ("1,234,", "USD", GROUPING),
    ("0,123", "USD", GROUPING),
    ("1,234.5,6", "USD", GROUPING),
    (",", "USD", GROUPING),
    ("41,5", "KWD", GROUPING),  # a decimal comma is refused, never read as 415
    # too large or too long
    ("10,000,000,000,000", "USD", "USD amounts go up to 9,999,999,999,999.99."),
    ("1000000000000000", "JPY", "JPY amounts go up to 999,999,999,999,999."),
    ("1" * 65, "USD", "at most 64 characters"),
]


@pytest.mark.parametrize(("text", "currency", "fragment"), INVALID)
def test_parse_amount_refuses_with_a_message_a_person_can_act_on(text, currency, fragment):
    with pytest.raises(MoneyError) as caught:
        parse_amount(text, currency)
    assert fragment in str(caught.value)


def test_allow_zero_false_refuses_zero_in_every_spelling():
    for text in ("0", "0.00", "000", " 0 "):
        with pytest.raises(MoneyError, match="greater than zero"):
            parse_amount(text, "USD", allow_zero=False)
    assert parse_amount("0.01", "USD", allow_zero=False) == 1


def test_parse_amount_checks_the_currency_first():
    with pytest.raises(MoneyError, match="not a known currency"):
        parse_amount("41", "ZZZ")


def test_parse_amount_treats_none_as_empty_and_refuses_other_types():
    with pytest.raises(MoneyError, match="Enter an amount"):
        parse_amount(None, "USD")
    with pytest.raises(TypeError):
        parse_amount(41.5, "USD")


def test_a_one_decimal_currency_would_say_decimal_in_the_singular(monkeypatch):
    monkeypatch.setattr(money, "exponent", lambda currency: 1)
    assert parse_amount("4.5", "XYZ") == 45
    with pytest.raises(MoneyError, match=r"^XYZ amounts have at most 1 decimal\.$"):
        parse_amount("4.55", "XYZ")


# --- parse_amount: properties ---------------------------------------------------------------
def _digits(min_size, max_size):
    return st.text(alphabet=DIGITS, min_size=min_size, max_size=max_size)


def _expected_minor(whole: str, fraction: str, e: int) -> int:
    """The exact answer by string manipulation: shift the point e places, read an int."""
    return int(whole + fraction.ljust(e, "0"))


@given(
    e=st.sampled_from(sorted(BY_EXPONENT)),
    whole=_digits(1, 30),
    fraction=_digits(0, 4),
    grouped=st.booleans(),
)
@example(e=2, whole="90071992547409931", fraction="7", grouped=False)  # past 2**53
def test_parse_amount_is_exact_string_arithmetic_even_past_2_to_the_53(e, whole, fraction, grouped):
    fraction = fraction[:e]
    text = whole + (f".{fraction}" if fraction else "")
    if grouped:
        text = format_amount(int(whole), "JPY", grouping=True) + text[len(whole) :]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(money, "MAX_MINOR_UNITS", 10**40)  # lift the cap to reach huge values
        assert parse_amount(text, BY_EXPONENT[e]) == _expected_minor(whole, fraction, e)


@given(
    e=st.sampled_from(sorted(BY_EXPONENT)),
    whole=_digits(1, 16),
    kept=_digits(0, 4),
    extra=_digits(0, 6),
    last=st.sampled_from("123456789"),
    zeros=st.integers(0, 3),
)
def test_parse_amount_never_rounds_more_decimals_than_the_currency_has(
    e, whole, kept, extra, last, zeros
):
    currency = BY_EXPONENT[e]
    fraction = (kept[:e] + extra + last).rjust(e + 1, "0") + "0" * zeros
    with pytest.raises(MoneyError) as caught:
        parse_amount(f"{whole}.{fraction}", currency)
    assert currency in str(caught.value)
    assert ("no decimals" if e == 0 else f"at most {e} decimals") in str(caught.value)


@given(
    currency=CURRENCIES,
    minor=st.one_of(
        st.integers(0, MAX_MINOR_UNITS),
        st.integers(MAX_MINOR_UNITS - 1000, MAX_MINOR_UNITS),
        st.integers(0, 1000),
    ),
    grouping=st.booleans(),
)
@example(currency="USD", minor=0, grouping=False)
@example(currency="JPY", minor=MAX_MINOR_UNITS, grouping=True)
@example(currency="CLF", minor=1, grouping=True)
def test_format_amount_then_parse_amount_gives_back_the_same_minor_units(currency, minor, grouping):
    assert parse_amount(format_amount(minor, currency, grouping=grouping), currency) == minor


def test_money_module_never_calls_float(monkeypatch):
    def no_float(*args):
        raise AssertionError("float() called in invoices.money")

    monkeypatch.setattr(money, "float", no_float, raising=False)
    assert builtins.float is not no_float
    parse_amount("9,999,999,999,999.99", "USD")
    to_minor(Decimal("0.29"), "USD")
    round_half_up(Decimal("2.5"))
    format_money(4150, "USD", "en_US")
    source = Path(money.__file__).read_text(encoding="utf-8")
    names = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    assert "float" not in names


# --- to_major / to_minor --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (4150, "USD", "41.50"),
        (98000, "JPY", "98000"),
        (1250, "KWD", "1.250"),
        (0, "USD", "0.00"),
        (-5, "KWD", "-0.005"),
        (1, "CLF", "0.0001"),
        (10**40 + 1, "USD", "100000000000000000000000000000000000000.01"),
    ],
)
def test_to_major_is_exact_with_the_currency_decimals(minor, currency, major):
    result = to_major(minor, currency)
    assert isinstance(result, Decimal)
    assert str(result) == major


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("41.5"), "USD", 4150),
        (Decimal("41.50000"), "USD", 4150),
        (Decimal("4.1E+1"), "USD", 4100),
        (Decimal("0.29"), "USD", 29),  # the classic float trap: 0.29 * 100 == 28.999...
        (Decimal("98000"), "JPY", 98000),
        (Decimal("1.250"), "KWD", 1250),
        (Decimal("-0"), "USD", 0),
        (Decimal("0E-999999"), "USD", 0),
        (41, "USD", 4100),
    ],
)
def test_to_minor_is_exact(amount, currency, minor):
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "fragment"),
    [
        (Decimal("41.005"), "USD amounts have at most 2 decimals."),
        (Decimal("1E-999999"), "USD amounts have at most 2 decimals."),
        (Decimal("NaN"), "finite"),
        (Decimal("sNaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (Decimal("-1"), "cannot be negative"),
        (Decimal("10000000000000"), "go up to 9,999,999,999,999.99"),
        (Decimal("1E+999999"), "go up to 9,999,999,999,999.99"),
    ],
)
def test_to_minor_refuses_rather_than_rounds(amount, fragment):
    with pytest.raises(MoneyError) as caught:
        to_minor(amount, "USD")
    assert fragment in str(caught.value)


def test_to_minor_takes_negatives_only_when_asked():
    assert to_minor(Decimal("-41.5"), "USD", allow_negative=True) == -4150
    with pytest.raises(MoneyError, match="go up to"):
        to_minor(Decimal("-10000000000000"), "USD", allow_negative=True)


def test_to_minor_refuses_float_and_text():
    with pytest.raises(TypeError):
        to_minor(41.5, "USD")
    with pytest.raises(TypeError):
        to_minor("41.5", "USD")
    with pytest.raises(TypeError):
        to_major(41.5, "USD")
    with pytest.raises(TypeError):
        to_major(True, "USD")


@given(currency=CURRENCIES, minor=st.integers(-MAX_MINOR_UNITS, MAX_MINOR_UNITS))
@example(currency="USD", minor=2**53 // 1000 + 1)
def test_to_minor_of_to_major_is_the_identity(currency, minor):
    assert to_minor(to_major(minor, currency), currency, allow_negative=True) == minor


@given(currency=CURRENCIES, minor=st.integers(-(10**60), 10**60))
def test_to_major_is_exact_for_any_size(currency, minor):
    major = to_major(minor, currency)
    assert major.as_tuple().exponent == -exponent(currency)
    assert int("".join(map(str, major.as_tuple().digits))) == abs(minor)


# --- round_half_up --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "result"),
    [
        ("2.5", 3),
        ("2.4999", 2),
        ("3.5", 4),
        ("-2.5", -3),
        ("-2.4", -2),
        ("0.5", 1),
        ("0.05", 0),
        ("-0.4", 0),
        ("5E+2", 500),
        ("9007199254740993.5", 9007199254740994),  # 2**53 + 1.5
        ("123456789012345678901234567890.5", 123456789012345678901234567891),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(value, result):
    assert round_half_up(Decimal(value)) == result


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**30), max_value=10**30))
def test_round_half_up_agrees_with_decimal_rounding(value):
    with localcontext() as context:
        context.prec = 100
        expected = int(value.to_integral_value(rounding=ROUND_HALF_UP))
    assert round_half_up(value) == expected


def test_round_half_up_refuses_nan_and_float():
    with pytest.raises(MoneyError):
        round_half_up(Decimal("NaN"))
    with pytest.raises(TypeError):
        round_half_up(2.5)


# --- format_amount / format_money -----------------------------------------------------------
@pytest.mark.parametrize(
    ("minor", "currency", "grouping", "text"),
    [
        (4150, "USD", False, "41.50"),
        (98000, "JPY", False, "98000"),
        (98000, "JPY", True, "98,000"),
        (123456, "USD", True, "1,234.56"),
        (123456, "USD", False, "1234.56"),
        (-4150, "USD", False, "-41.50"),
        (-123456, "USD", True, "-1,234.56"),
        (5, "KWD", False, "0.005"),
        (0, "USD", False, "0.00"),
        (0, "JPY", True, "0"),
        (1, "CLF", False, "0.0001"),
        (10**30, "JPY", True, "1" + ",000" * 10),
    ],
)
def test_format_amount_is_plain_major_unit_text(minor, currency, grouping, text):
    assert format_amount(minor, currency, grouping=grouping) == text


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (4150, "USD", "en_US", "$41.50"),
        (-4150, "USD", "en_US", "-$41.50"),
        (123456789, "USD", "en_US", "$1,234,567.89"),
        (98000, "JPY", "en_US", "\u00a598,000"),
        (1250, "KWD", "en_US", f"KWD{NBSP}1.250"),
        (-1250, "KWD", "en_US", f"-KWD{NBSP}1.250"),
        (4150, "EUR", "en_US", "\u20ac41.50"),
        (4150, "EUR", "de_DE", f"41,50{NBSP}\u20ac"),
        (1250, "KWD", "fr_FR", f"1,250{NBSP}KWD"),
        (4150, "USD", "en-US", "$41.50"),
        (12500, "CLF", "en_US", f"CLF{NBSP}1.2500"),
    ],
)
def test_format_money_uses_the_currency_own_digits(minor, currency, locale, text):
    assert format_money(minor, currency, locale) == text


def test_format_money_handles_amounts_past_decimal_default_precision():
    text = format_money(10**40 + 5, "USD", "en_US")
    assert text == "$100" + ",000" * 12 + ".05"


def test_format_money_defaults_to_the_billing_locale(settings):
    settings.BILLING_LOCALE = "de_DE"
    assert format_money(4150, "EUR") == f"41,50{NBSP}\u20ac"
    settings.BILLING_LOCALE = "en_US"
    assert format_money(4150, "EUR") == "\u20ac41.50"


# --- template filters -----------------------------------------------------------------------
def _render(source, **context):
    return Template("{% load money %}" + source).render(Context(context))


def test_money_and_amount_filters_format_minor_units(settings):
    settings.BILLING_LOCALE = "en_US"
    assert _render("{{ x|money:c }}", x=4150, c="USD") == "$41.50"
    assert _render("{{ x|amount:c }}", x=98000, c="JPY") == "98000"
    assert _render("{{ x|money:'KWD' }}", x=1250) == f"KWD{NBSP}1.250"


@pytest.mark.parametrize("source", ["{{ x|money:c }}", "{{ x|amount:c }}"])
def test_filters_render_a_dash_for_a_missing_amount_or_currency(source):
    assert _render(source, x=None, c="USD") == "\u2014"
    assert _render(source, c="USD") == "\u2014"
    assert _render(source, x=4150, c=None) == "\u2014"
