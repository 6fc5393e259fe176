from django import forms

from .. import money
from ..backends.base import Address


class ContractSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Contract or customer name")
    cursor = forms.CharField(required=False, max_length=200)


class SubmitCycleForm(forms.Form):
    """Everything identifies what was shown; nobody types a cycle date."""

    contract = forms.CharField(max_length=64)
    cycle = forms.CharField(max_length=64)
    cycle_fp = forms.CharField(max_length=64)
    confirm_empty = forms.BooleanField(
        required=False, label="I have checked: submit this invoice although it totals zero"
    )
    previous = forms.IntegerField(required=False)


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


class LineForm(PlainForm):
    description = forms.CharField(max_length=255, label="Description")
    quantity = forms.IntegerField(
        min_value=1,
        max_value=1_000_000,
        label="Quantity",
        error_messages={"invalid": "Enter a whole number of 1 or more."},
    )
    amount = MoneyField(label="Unit amount")

    def __init__(self, *args, currency: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean(self):
        cleaned = super().clean()
        cleaned["amount_minor"] = _parse_money(self, "amount", self.currency)
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


class AdhocInvoiceForm(PlainForm):
    currency = forms.ChoiceField(label="Company currency")
    gateway = forms.ChoiceField(label="Payment gateway")
    payment_method = forms.ChoiceField(label="Payment method")
    payment_type = forms.ChoiceField(
        required=False,
        label="Payment type",
        choices=[
            ("", "—"),
            ("offlinePaymentProvider", "Offline payment"),
            ("thirdPartyPaymentProvider", "Third-party payment provider"),
            ("walletPaymentProvider", "Wallet"),
            ("otherPayment", "Other"),
        ],
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
            (p.id, f"{p.type.upper()} {p.account_name} {p.masked_number}".strip())
            for p in payment_methods
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
        start, end, due = cleaned.get("date_from"), cleaned.get("date_to"), cleaned.get("date_due")
        if start and end and start > end:
            self.add_error("date_to", "The period cannot end before it starts.")
        if start and due and due < start:
            self.add_error("date_due", "The due date cannot be before the period starts.")
        return cleaned
