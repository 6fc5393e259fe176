from django import forms

from .models import Invoice


class ContractSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Contract or customer name")
    cursor = forms.CharField(required=False, max_length=200)


class SubmitCycleForm(forms.Form):
    """Everything identifies what was shown; nobody types a cycle date."""

    contract = forms.CharField(max_length=64)
    cycle = forms.CharField(max_length=64)
    cycle_fp = forms.CharField(max_length=64)
    preview_total_minor = forms.IntegerField(required=False)
    confirm_empty = forms.BooleanField(
        required=False, label="I have checked: submit this invoice although it totals zero"
    )
    previous = forms.IntegerField(required=False)


class ApproveForm(forms.Form):
    content_hash = forms.CharField(max_length=64, min_length=64)


class RejectForm(forms.Form):
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


class MineFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "All"), *Invoice.Status.choices], label="Status"
    )
