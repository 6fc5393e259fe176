"""The dry run's filters and the managers' selection."""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.utils import timezone

from invoices.forms.invoice import CurrencyCodeField

from .batch import Selection
from .planning import CONTRACT_STATUSES, DEFAULT_STATUSES, PlanFilters

_SELECTED = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


def default_through() -> date:
    return timezone.now().date()


class PlanForm(forms.Form):
    through = forms.DateField(
        label="Bill through",
        help_text="Every cycle billed on or before this date (YYYY-MM-DD, UTC).",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD.", "required": "Choose a date."},
    )
    currency = CurrencyCodeField(
        required=False,
        help_text="Only contracts in this currency (ISO code); empty: every currency.",
        widget=forms.TextInput(attrs={"size": 4, "autocomplete": "off"}),
    )
    customer = forms.CharField(
        required=False,
        max_length=255,
        label="Customer",
        help_text="Part of the customer's name, or its exact id; empty: every customer.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    statuses = forms.MultipleChoiceField(
        required=False,
        label="Contract status",
        choices=[(s, s.capitalize()) for s in CONTRACT_STATUSES],
        initial=list(DEFAULT_STATUSES),
        widget=forms.CheckboxSelectMultiple,
        help_text="Contracts in any other status are listed as exceptions. Default: active.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_customer(self) -> str:
        return self.cleaned_data["customer"].strip()

    def filters(self) -> PlanFilters:
        data = self.cleaned_data
        return PlanFilters(
            through=data["through"],
            currency=data["currency"],
            customer=data["customer"],
            statuses=tuple(data["statuses"]) or DEFAULT_STATUSES,
        )


class ApproveSelectedForm(forms.Form):
    """`selected`: one "<invoice id>:<content hash seen>" per ticked invoice."""

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.raw = data.getlist("selected") if data is not None else []

    def clean(self):
        selections = []
        for value in self.raw:
            found = _SELECTED.match(value.strip())
            if not found:
                raise forms.ValidationError("The selection was not understood; reload the page.")
            selections.append(Selection(int(found.group(1)), found.group(2)))
        if not selections:
            raise forms.ValidationError("Select at least one invoice to approve.")
        if len({s.invoice_id for s in selections}) != len(selections):
            raise forms.ValidationError("An invoice was selected twice; reload the page.")
        self.cleaned_data["selections"] = selections
        return self.cleaned_data
