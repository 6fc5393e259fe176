"""The history and audit-log filter forms: the filtered view is the URL (a GET form), and each
form narrows a queryset by what it cleaned (`filter`)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

from django import forms
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import extensions, money, workflow
from ..backends import ADHOC_BACKENDS, CYCLE_BACKENDS
from ..expressions import BillingMonth
from ..models import Invoice
from ..search import MIN_SEARCH, Search
from .invoice import CurrencyCodeField, search_text

S = Invoice.Status
#: Invoices are submitted within days of their billing date; see HistoryFilterForm.avoid_time_index.
RECENT_DAYS = 45
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "KWD", "CHF", "CAD", "AUD")
SYSTEM_ACTOR = "(system)"

#: Audit actions the services and sign-in signals write (the action filter offers these; any
#: other well-formed action name from a bookmarked URL is accepted too).
AUDIT_ACTIONS = (
    *workflow.AUDIT_ACTIONS,
    *workflow.EVENTS,
    "auth.signed_in",
    "auth.signed_out",
    "auth.sign_in_failed",
)


# --- shared form pieces ----------------------------------------------------------------------
def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _date_field(label: str, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )


class _FilterForm(forms.Form):
    """Shared behaviour: range checks and the query string of the filters. (Django marks failing
    inputs with aria-invalid and points aria-describedby at their help text and errors.)"""

    date_ranges: tuple[tuple[str, str], ...] = ()
    #: How the page groups the filters: (legend, field names) — see grouped().
    fieldsets: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def grouped(self, fieldsets=None) -> list[tuple[str, list]]:
        """(legend, bound fields) for templates/invoices/_filter_fieldsets.html; another page
        reusing the form may group (and leave out) the filters its own way."""
        return [
            (legend, [self[name] for name in names])
            for legend, names in (fieldsets or self.fieldsets)
        ]

    def __init__(self, data=None, *, users: list[tuple[int, str]] = (), **kwargs):
        kwargs.setdefault("label_suffix", "")
        # Django deep-copies every field of every form it makes (0.4 ms for these fifteen).
        # These forms' fields depend only on the list of accounts, and nothing changes them
        # once made: they are made once per process and list (fields_for), and each form
        # shares them read-only. (BaseForm.__init__ copies `self.base_fields`: none here.)
        self.base_fields = {}
        super().__init__(data, **kwargs)
        self.fields = dict(self.fields_for(tuple(users)))
        self.user_ids = {name: pk for pk, name in users}

    #: Lists of accounts whose fields each form class keeps (a few at most are in use at once).
    _MADE_KEPT = 8

    @classmethod
    def fields_for(cls, users: tuple[tuple[int, str], ...]) -> dict[str, forms.Field]:
        """The form's fields for the accounts `users`, made once (prepare_fields) and shared."""
        made = cls.__dict__.get("_made_fields")
        if made is None:
            made = cls._made_fields = {}
        fields = made.get(users)
        if fields is None:
            fields = copy.deepcopy(cls.base_fields)
            for field in fields.values():
                if isinstance(field.widget, forms.TextInput | forms.DateInput):
                    field.widget.attrs.setdefault("autocomplete", "off")
            cls.prepare_fields(fields, users)
            if len(made) >= cls._MADE_KEPT:
                made.clear()
            made[users] = fields
        return fields

    @classmethod
    def prepare_fields(cls, fields: dict[str, forms.Field], users) -> None:
        """Set what depends on the accounts (choices) on freshly made `fields`."""

    def _check_ranges(self, cleaned: dict) -> None:
        for low, high in self.date_ranges:
            if cleaned.get(low) and cleaned.get(high) and cleaned[low] > cleaned[high]:
                self.add_error(high, "The end date must be on or after the start date.")

    def query_items(self) -> list[tuple[str, str]]:
        """The non-empty filters as (name, value) pairs, in field order (for links)."""
        if not self.is_bound:
            return []
        items = []
        for name in self.fields:
            value = self.data.get(name, "")
            if isinstance(value, str):
                value = value.strip()
            if value:
                items.append((name, str(value)))
        return items

    @property
    def active(self) -> bool:
        return bool(self.query_items())


# --- invoice history -------------------------------------------------------------------------
class HistoryFilterForm(_FilterForm):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        help_text=(
            "Part of a contract or customer name or of an invoice number (3 characters or "
            "more), a whole invoice number, or a local id (#123)."
        ),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *S.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *Invoice.Kind.choices])
    backend = forms.ChoiceField(
        required=False,
        label="Backend",
        choices=[("", "Any backend")]
        + [(name, name.capitalize()) for name in sorted({*CYCLE_BACKENDS, *ADHOC_BACKENDS})],
    )
    contract = forms.CharField(required=False, max_length=64, label="Contract id")
    run = forms.IntegerField(
        required=False,
        min_value=1,
        label="Bill run",
        help_text="Its number: the invoices a bill run submitted.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 8}),
        error_messages={"invalid": "Enter a bill run number, such as 12."},
    )
    customer = forms.CharField(
        required=False,
        max_length=255,
        label="Customer",
        help_text="Its exact id, or part of its name.",
    )
    submitter = forms.ChoiceField(required=False, label="Submitted by")
    approver = forms.ChoiceField(required=False, label="Approved by")
    currency = CurrencyCodeField(
        required=False,
        help_text="ISO code; needed for totals.",
        widget=forms.TextInput(attrs={"list": "currency-codes", "size": 4}),
    )
    total_min = forms.CharField(
        required=False,
        max_length=32,
        label="Total from",
        help_text="In its units: 41.50 USD.",
        widget=forms.TextInput(),
    )
    total_max = forms.CharField(
        required=False, max_length=32, label="Total up to", widget=forms.TextInput()
    )
    submitted_from = _date_field("Submitted from")
    submitted_to = _date_field("Submitted up to")
    billed_from = _date_field(
        "Billing date from",
        "Bill-for date; ad-hoc: period start.",
    )
    billed_to = _date_field("Billing date up to")

    date_ranges = (("submitted_from", "submitted_to"), ("billed_from", "billed_to"))
    fieldsets = (
        ("Invoice", ("status", "kind", "backend", "contract", "run", "customer")),
        ("People and amount", ("submitter", "approver", "currency", "total_min", "total_max")),
        (
            "Dates (UTC, both days included)",
            ("submitted_from", "submitted_to", "billed_from", "billed_to"),
        ),
    )

    @classmethod
    def prepare_fields(cls, fields, users) -> None:
        people = [(name, name) for _pk, name in users]
        fields["submitter"].choices = [("", "Anyone"), *people]
        fields["approver"].choices = [("", "Anyone"), *people]
        for name in ("total_min", "total_max"):
            fields[name].widget.attrs.update({"inputmode": "decimal", "size": 10})

    def clean_contract(self) -> str:
        return self.cleaned_data["contract"].strip()

    def clean_customer(self) -> str:
        value = self.cleaned_data["customer"].strip()
        if 0 < len(value) < MIN_SEARCH and not Invoice.objects.filter(customer_id=value).exists():
            raise forms.ValidationError(
                f"Type at least {MIN_SEARCH} characters of the name, or the exact customer id."
            )
        return value

    def clean_q(self) -> str:
        text = search_text(self.cleaned_data["q"])
        if 0 < len(text) < MIN_SEARCH and not text.removeprefix("#").isdigit():
            raise forms.ValidationError(
                f"Type at least {MIN_SEARCH} characters, or an invoice id such as #12."
            )
        return text

    def clean(self):
        cleaned = super().clean()
        self._check_ranges(cleaned)
        currency = cleaned.get("currency")
        for name in ("total_min", "total_max"):
            text = (cleaned.get(name) or "").strip()
            cleaned[name] = None
            if not text:
                continue
            if not currency:
                if "currency" not in self.errors:
                    self.add_error(
                        name,
                        "Choose a currency to filter by total: totals are typed in that "
                        "currency's own units (41.50 USD, 98000 JPY).",
                    )
                continue
            try:
                cleaned[name] = money.parse_amount(text, currency)
            except money.MoneyError as exc:
                self.add_error(name, str(exc))
        low, high = cleaned.get("total_min"), cleaned.get("total_max")
        if low is not None and high is not None and low > high:
            self.add_error("total_max", "The upper total must not be below the lower one.")
        return cleaned

    @property
    def avoid_time_index(self) -> bool:
        """True when every match was billed more than RECENT_DAYS ago (a billing-date range that
        ends before then): those invoices were submitted long ago too, so newest-first through
        the submitted-at index would skip every newer invoice before finding one. Then the
        billing-date index finds them and they are sorted (see keyset_page)."""
        end = self.cleaned_data.get("billed_to")
        if self.billed_month is not None:
            return False  # inv_billing_month_idx lists that month newest first
        return bool(end) and end < timezone.now().date() - timedelta(days=RECENT_DAYS)

    @property
    def billed_month(self) -> date | None:
        """The month's first day when the billing dates asked for are exactly one calendar
        month (the 1st to its last day), else None."""
        start, end = self.cleaned_data.get("billed_from"), self.cleaned_data.get("billed_to")
        if not start or not end or start.day != 1:
            return None
        following = (start + timedelta(days=32)).replace(day=1)
        return start if end == following - timedelta(days=1) else None

    @cached_property
    def search(self) -> Search | None:
        """What the search box asks for (invoices.search), or None."""
        text = self.cleaned_data.get("q")
        return Search.of(text) if text else None

    def filter(self, queryset: QuerySet, *, with_search: bool = True) -> QuerySet:
        """`queryset` narrowed by the (valid) filters; all but the search box's without
        `with_search` (a page found by `search.union`)."""
        data = self.cleaned_data
        for field in ("status", "kind", "backend", "currency"):
            if data.get(field):
                queryset = queryset.filter(**{field: data[field]})
        if data.get("contract"):
            queryset = queryset.filter(contract_id=data["contract"])
        if data.get("run"):
            queryset = queryset.filter(run_id=data["run"])
        if data.get("customer"):
            # An exact customer id wins; otherwise part of a name. (One indexed look-up, and
            # each branch then has a plain, index-driven plan; an OR of both has neither.)
            value = data["customer"]
            if Invoice.objects.filter(customer_id=value).exists():
                queryset = queryset.filter(customer_id=value)
            else:
                queryset = queryset.filter(customer_name__icontains=value)
        if data.get("submitter"):
            queryset = queryset.filter(submitted_by_id=self.user_ids[data["submitter"]])
        if data.get("approver"):
            queryset = queryset.filter(
                decided_by_id=self.user_ids[data["approver"]], status=S.APPROVED
            )
        if data.get("total_min") is not None:
            queryset = queryset.filter(total_minor__gte=data["total_min"])
        if data.get("total_max") is not None:
            queryset = queryset.filter(total_minor__lte=data["total_max"])
        if data.get("submitted_from"):
            queryset = queryset.filter(submitted_at__gte=_day_start(data["submitted_from"]))
        if data.get("submitted_to"):
            end = _day_start(data["submitted_to"] + timedelta(days=1))
            queryset = queryset.filter(submitted_at__lt=end)
        if self.billed_month is not None:
            # The same invoices as the range below, through the index of billing months.
            queryset = queryset.alias(billing_month=BillingMonth()).filter(
                billing_month=self.billed_month
            )
        elif data.get("billed_from") or data.get("billed_to"):
            # Same expression as the inv_billing_date_idx index.
            queryset = queryset.alias(billing_date=Coalesce("bill_for", "period_start"))
            if data.get("billed_from"):
                queryset = queryset.filter(billing_date__gte=_day_start(data["billed_from"]))
            if data.get("billed_to"):
                end = _day_start(data["billed_to"] + timedelta(days=1))
                queryset = queryset.filter(billing_date__lt=end)
        if with_search and self.search is not None:
            queryset = queryset.filter(self.search.condition)
        return queryset


# --- audit log -------------------------------------------------------------------------------
class AuditFilterForm(_FilterForm):
    actor = forms.ChoiceField(required=False, label="Actor")
    action = forms.CharField(required=False, max_length=64, label="Action")
    invoice = forms.IntegerField(
        required=False,
        min_value=1,
        label="Invoice id",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 8}),
        error_messages={"invalid": "Enter an invoice number, such as 123."},
    )
    date_from = _date_field("From")
    date_to = _date_field("Up to")

    date_ranges = (("date_from", "date_to"),)

    @classmethod
    def prepare_fields(cls, fields, users) -> None:
        fields["actor"].choices = [
            ("", "Anyone"),
            (SYSTEM_ACTOR, "The system"),
            *[(name, name) for _pk, name in users],
        ]

    def __init__(self, data=None, *, users=(), **kwargs):
        super().__init__(data, users=users, **kwargs)
        action = (self.data.get("action") or "").strip() if self.is_bound else ""
        actions = list(dict.fromkeys([*AUDIT_ACTIONS, *extensions.audit_actions]))
        if action and action not in actions:
            actions.append(action)
        self.action_choices = [("", "Any action"), *[(a, a) for a in actions]]
        # This form's own copy of the field (the shared one stays as made): its choices
        # include the action a bookmarked URL asks for.
        self.fields["action"] = field = copy.copy(self.fields["action"])
        field.widget = forms.Select(choices=self.action_choices)

    def clean_action(self) -> str:
        action = self.cleaned_data["action"].strip()
        if action and not all(c.isalnum() or c in "._-" for c in action):
            raise forms.ValidationError("Choose an action from the list.")
        return action

    def clean(self):
        cleaned = super().clean()
        self._check_ranges(cleaned)
        return cleaned

    def filter(self, queryset: QuerySet) -> QuerySet:
        data = self.cleaned_data
        actor = data.get("actor")
        if actor == SYSTEM_ACTOR:
            queryset = queryset.filter(actor__isnull=True)
        elif actor:
            queryset = queryset.filter(actor_username=actor)
        if data.get("action"):
            queryset = queryset.filter(action=data["action"])
        if data.get("invoice"):
            queryset = queryset.filter(invoice_id=data["invoice"])
        if data.get("date_from"):
            queryset = queryset.filter(at__gte=_day_start(data["date_from"]))
        if data.get("date_to"):
            queryset = queryset.filter(at__lt=_day_start(data["date_to"] + timedelta(days=1)))
        return queryset
