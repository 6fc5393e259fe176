"""The clerk's correction request: what to correct (a credit note of some lines or of the whole
remaining balance, a void, or credit and re-issue), why, and amounts typed in the currency's
major unit. The form only reads what was typed (exponent-aware, never float); whether it fits
what is left of the invoice is the service's rule (`services.corrections`)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from .. import money
from ..models import Invoice

K = Invoice.Kind


@dataclass(frozen=True)
class Asked:
    kind: str  # Invoice.Kind.CREDIT_NOTE | VOID
    lines: tuple | None  # ((line index, minor units), ...) or None: the whole remaining balance
    reissue: bool


class CorrectionForm(forms.Form):
    what = forms.ChoiceField(label="What should the correction do?", widget=forms.RadioSelect)
    reason_code = forms.ChoiceField(
        label="Reason",
        choices=[("", "Choose a reason…"), *Invoice.CorrectionReason.choices],
    )
    reason_text = forms.CharField(
        label="What is wrong (the manager reads this)",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, invoice: Invoice, standing, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.invoice = invoice
        self.standing = standing
        left = money.format_money(standing.left_minor, invoice.currency)
        balance = money.format_money(max(0, standing.balance_minor), invoice.currency)
        if invoice.kind == K.CYCLE:
            choices = [
                ("credit_lines", "Credit note: amounts of some lines (below)"),
                ("credit_balance", f"Credit note: the whole remaining balance ({left})"),
                ("void", f"Void: credit what is left ({balance}) and void the invoice"),
                (
                    "reissue",
                    f"Credit and re-issue: credit what is left ({balance}), void the invoice "
                    "and free its billing cycle for a new invoice",
                ),
            ]
        else:
            choices = [
                ("void", "Void the invoice (irreversible)"),
                (
                    "reissue",
                    "Void and re-issue: void the invoice, then prepare a corrected one from it",
                ),
            ]
        self.fields["what"].choices = choices
        self.line_fields = []
        if invoice.kind == K.CYCLE:
            for left_line in standing.lines:
                if left_line.left_minor <= 0:
                    continue
                name = f"line_{left_line.index}"
                self.fields[name] = forms.CharField(
                    label=f"Credit on {left_line.line.get('name', '')} ({invoice.currency})",
                    required=False,
                    max_length=money.MAX_INPUT_LENGTH,
                )
                self.line_fields.append((left_line, name))

    def line_rows(self):
        """(what is left of the line, its bound field) for the template."""
        return [(left_line, self[name]) for left_line, name in self.line_fields]

    def clean(self):
        data = super().clean()
        if data.get("what") != "credit_lines":
            return data
        amounts = []
        for left_line, name in self.line_fields:
            text = (self.data.get(self.add_prefix(name)) or "").strip()
            if not text:
                continue
            try:
                minor = money.parse_amount(text, self.invoice.currency, allow_zero=False)
            except money.MoneyError as exc:
                self.add_error(name, str(exc))
                continue
            amounts.append((left_line.index, minor))
        if not amounts and not self.errors:
            raise forms.ValidationError("Enter an amount to credit for at least one line.")
        data["amounts"] = tuple(amounts)
        return data

    def asked(self) -> Asked:
        what = self.cleaned_data["what"]
        if what == "credit_lines":
            return Asked(K.CREDIT_NOTE, self.cleaned_data["amounts"], False)
        if what == "credit_balance":
            return Asked(K.CREDIT_NOTE, None, False)
        return Asked(K.VOID, None, what == "reissue")
