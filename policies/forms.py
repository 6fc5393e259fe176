from django import forms
from django.contrib.auth import get_user_model


class AbsenceForm(forms.Form):
    starts_on = forms.DateField(
        label="First day away",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    ends_on = forms.DateField(
        label="Last day away",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    delegate = forms.ModelChoiceField(
        label="Who stands in for you",
        queryset=get_user_model().objects.none(),
        help_text="They see your approvals and may decide them while you are away; unless "
        "they are a manager themselves, each decision is recorded as theirs, for you.",
    )

    def __init__(self, *args, manager, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = (
            get_user_model()
            .objects.filter(is_active=True)
            .exclude(pk=manager.pk)
            .order_by("username")
        )
        self.fields["delegate"].label_from_instance = lambda u: (
            f"{u.get_full_name()} ({u.get_username()})" if u.get_full_name() else u.get_username()
        )
