import re
import unicodedata
from datetime import date

from django import forms

from .. import money
from ..adhoc import PAYMENT_TYPE_LABELS
from ..backends.base import Address

SEARCH_MAX = 100


def search_text(text: str) -> str:
    """What a search looks for: NFKC-normalised (full-width "ＡＣＭＥ" finds "Acme") and stripped.
    Control characters are refused with a message rather than searched for or dropped."""
    text = unicodedata.normalize("NFKC", text).strip()
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise forms.ValidationError("A search cannot contain control characters (tabs, returns…).")
    return text


class ContractSearchForm(forms.Form):
    """A search as you type, and the page of results (the backend's cursor). Too long a text,
    control characters or a malformed cursor are a message, never a silent "list everything"."""

    q = forms.CharField(
        required=False,
        max_length=SEARCH_MAX,
        label="Contract or customer name",
        error_messages={"max_length": f"Search for at most {SEARCH_MAX} characters."},
    )
    cursor = forms.CharField(
        required=False,
        max_length=200,
        error_messages={"max_length": "That page link is not valid; search again."},
    )

    def clean_q(self) -> str:
        return search_text(self.cleaned_data["q"])

    def clean_cursor(self) -> str:
        cursor = self.cleaned_data["cursor"]
        if cursor and not (cursor.isascii() and cursor.isprintable()):
            raise forms.ValidationError("That page link is not valid; search again.")
        return cursor

    def problem(self) -> dict:
        """The first error, as a problem shown where the results would be."""
        message = next(iter(e for errors in self.errors.values() for e in errors))
        return {"message": message, "hint": "", "retryable": False}


class CustomerSearchForm(ContractSearchForm):
    q = forms.CharField(
        required=False,
        max_length=SEARCH_MAX,
        label="Customer name or e-mail",
        error_messages={"max_length": f"Search for at most {SEARCH_MAX} characters."},
    )


class SubmitCycleForm(forms.Form):
    """Everything identifies what was shown; nobody types a cycle date."""

    contract = forms.CharField(max_length=64)
    cycle = forms.CharField(max_length=64)
    cycle_fp = forms.CharField(max_length=64)
    confirm_empty = forms.BooleanField(
        required=False, label="I have checked: submit this invoice although it totals zero"
    )
    previous = forms.IntegerField(required=False)
    reissue = forms.BooleanField(required=False)  # `previous` is a voided invoice re-issued


class ApproveForm(forms.Form):
    content_hash = forms.CharField(max_length=64, min_length=64)


class RejectForm(forms.Form):
    # The content hash on the manager's page, recorded with the rejection (optional: a rejection
    # is about what the manager read, whatever changed since).
    content_hash = forms.CharField(required=False, max_length=64)
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason (the clerk sees this)",
        error_messages={"required": "Give the clerk a reason for the rejection."},
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if len(reason) < 3:
            raise forms.ValidationError("Give the clerk a reason they can act on.")
        return reason


# --- ad-hoc invoices ------------------------------------------------------------------------
class PlainForm(forms.Form):
    """Labels without Django's trailing colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class CurrencyCodeField(forms.CharField):
    """An ISO 4217 code, typed (any case, spaces around it ignored): one the money rules know
    (an unknown code is a field error), or "" when left empty."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("label", "Currency")
        super().__init__(**kwargs)

    def clean(self, value) -> str:
        code = super().clean(value).strip().upper()
        if code:
            try:
                money.exponent(code)
            except money.MoneyError as exc:
                raise forms.ValidationError(str(exc)) from None
        return code


class MoneyField(forms.CharField):
    """An amount typed in the currency's major unit; cleaned to integer minor units by the
    form, which knows the currency (see AdhocInvoiceForm.clean / LineForm.clean)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})


def _parse_money(form: forms.Form, field: str, currency: str | None, *, allow_zero=True):
    text = form.cleaned_data.get(field, "")
    if text in ("", None) or not currency:
        return None
    try:
        return money.parse_amount(text, currency, allow_zero=allow_zero)
    except money.MoneyError as exc:
        form.add_error(field, str(exc))
        return None


MAX_QUANTITY = 1_000_000
_QUANTITY = re.compile(r"[0-9]+")  # ASCII digits only: \d would take Arabic-Indic, full-width…


def parse_quantity(text) -> int:
    """A line's quantity as typed: ASCII digits only (like money), 1 to MAX_QUANTITY.
    Raises ValueError with a sentence for the person."""
    text = str(text or "").strip()
    if not _QUANTITY.fullmatch(text):
        raise ValueError("Enter a whole number of 1 or more, with the digits 0 to 9.")
    quantity = int(text)
    if quantity < 1:
        raise ValueError("Enter a whole number of 1 or more, with the digits 0 to 9.")
    if quantity > MAX_QUANTITY:
        raise ValueError(f"Enter a quantity of at most {MAX_QUANTITY:,}.")
    return quantity


def over_the_cap(currency: str) -> str:
    """The sentence for an amount over money.MAX_MINOR_UNITS, the cap of every line and every
    total (9,999,999,999,999.99 USD; 999,999,999,999,999 JPY; 999,999,999,999.999 KWD), which
    keeps a total far inside the database's BigInteger column."""
    cap = money.format_amount(money.MAX_MINOR_UNITS, currency, grouping=True)
    return f"{cap} {currency}"


class QuantityField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 16)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        try:
            return parse_quantity(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class LineForm(PlainForm):
    description = forms.CharField(max_length=255, label="Description")
    quantity = QuantityField(label="Quantity")
    amount = MoneyField(label="Unit amount")

    def __init__(self, *args, currency: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean(self):
        cleaned = super().clean()
        amount = cleaned["amount_minor"] = _parse_money(self, "amount", self.currency)
        quantity = cleaned.get("quantity")
        if amount and quantity and amount * quantity > money.MAX_MINOR_UNITS:
            self.add_error(
                "amount",
                "Quantity × unit amount is too large: a line can be at most "
                f"{over_the_cap(self.currency)}.",
            )
        return cleaned


class BaseLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, currency: str | None = None, **kwargs):
        self.currency = currency
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "currency": self.currency}


LineFormSet = forms.formset_factory(
    LineForm,
    formset=BaseLineFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=100,
    validate_max=True,
)

ADDRESS_REQUIRED = ("contact_name", "street1", "city", "zip", "country")


class AddressForm(PlainForm):
    """Optional: an address left completely empty is absent, not an error."""

    contact_name = forms.CharField(required=False, max_length=100, label="Contact name")
    street1 = forms.CharField(required=False, max_length=255, label="Street")
    street2 = forms.CharField(required=False, max_length=255, label="Street (line 2)")
    city = forms.CharField(required=False, max_length=100, label="City")
    state = forms.CharField(required=False, max_length=100, label="State / region")
    zip = forms.CharField(required=False, max_length=20, label="Postal code")
    country = forms.ChoiceField(required=False, label="Country")
    type = forms.ChoiceField(
        required=False,
        choices=[("commercial", "Commercial"), ("residential", "Residential")],
        initial="commercial",
        label="Type",
    )

    def __init__(self, *args, countries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "—")] + [(c.code, c.name) for c in countries]

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(f) for f in (*ADDRESS_REQUIRED, "street2", "state"))

    def clean(self):
        cleaned = super().clean()
        if self.is_blank:
            return cleaned
        for name in ADDRESS_REQUIRED:
            if not cleaned.get(name):
                self.add_error(name, "Required when an address is given.")
        return cleaned

    def address(self) -> Address | None:
        if self.is_blank:
            return None
        d = self.cleaned_data
        return Address(
            contact_name=d["contact_name"],
            street1=d["street1"],
            street2=d.get("street2", ""),
            city=d["city"],
            state=d.get("state", ""),
            zip=d["zip"],
            country_code=d["country"],
            type=d.get("type") or "commercial",
        )


def payment_method_label(method) -> str:
    """A payment method as people see it: its type, holder and the backend's masked number."""
    return f"{method.type.upper()} {method.account_name} {method.masked_number}".strip()


#: Ad-hoc periods and due dates lie in this window (a typo such as 0226 or 20026 is refused).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
DATE_WINDOW = f"Enter a date between {FIRST_DAY:%Y-%m-%d} and {LAST_DAY:%Y-%m-%d}."


class AdhocInvoiceForm(PlainForm):
    currency = forms.ChoiceField(label="Company currency")
    gateway = forms.ChoiceField(label="Payment gateway")
    payment_method = forms.ChoiceField(label="Payment method")
    payment_type = forms.ChoiceField(
        required=False,
        label="Payment type",
        choices=list(PAYMENT_TYPE_LABELS.items()),
    )
    date_from = forms.DateField(label="Period from", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="Period to", widget=forms.DateInput(attrs={"type": "date"}))
    date_due = forms.DateField(label="Due date", widget=forms.DateInput(attrs={"type": "date"}))
    shipping = MoneyField(required=False, label="Shipping amount")
    customer_name = forms.CharField(required=False, max_length=45, label="Customer name")
    customer_email = forms.EmailField(required=False, max_length=45, label="Customer e-mail")
    customer_phone = forms.CharField(required=False, max_length=45, label="Customer phone")
    terms = forms.CharField(
        required=False, max_length=200, label="Terms", widget=forms.Textarea(attrs={"rows": 2})
    )
    comments = forms.CharField(
        required=False,
        max_length=200,
        label="Comments",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, currencies=(), gateways=(), payment_methods=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.currencies = {c.id: c for c in currencies}
        self.fields["currency"].choices = [("", "Choose…")] + [
            (c.id, f"{c.code} — {c.name}" if c.name else c.code) for c in currencies
        ]
        self.fields["gateway"].choices = [("", "Choose…")] + [(g.id, g.name) for g in gateways]
        self.fields["payment_method"].choices = [("", "Choose…")] + [
            (p.id, payment_method_label(p)) for p in payment_methods
        ]

    @property
    def currency_code(self) -> str | None:
        currency_id = self.data.get(self.add_prefix("currency")) if self.is_bound else None
        currency_id = currency_id or self.initial.get("currency")
        chosen = self.currencies.get(str(currency_id)) if currency_id else None
        return chosen.code if chosen else None

    def clean(self):
        cleaned = super().clean()
        cleaned["shipping_minor"] = _parse_money(self, "shipping", self.currency_code) or 0
        for name in ("date_from", "date_to", "date_due"):
            day = cleaned.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, DATE_WINDOW)  # (also takes it out of cleaned_data)
        start, end, due = cleaned.get("date_from"), cleaned.get("date_to"), cleaned.get("date_due")
        if start and end and start > end:
            self.add_error("date_to", "The period cannot end before it starts.")
        if start and due and due < start:
            self.add_error("date_due", "The due date cannot be before the period starts.")
        return cleaned

    def check_total(self, lines) -> bool:
        """The invoice's total (its lines and shipping) under the cap of every amount; a form
        error otherwise. Call once this form and `lines` are valid."""
        total = self.cleaned_data.get("shipping_minor") or 0
        total += sum(
            (line.cleaned_data.get("amount_minor") or 0) * (line.cleaned_data.get("quantity") or 0)
            for line in lines
        )
        if total <= money.MAX_MINOR_UNITS:
            return True
        cap = over_the_cap(self.currency_code)
        self.add_error(None, f"The invoice's total is too large: it can be at most {cap}.")
        return False
