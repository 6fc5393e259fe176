"""New ad-hoc invoice: customer → details and lines → preview → submit for approval.

One URL, one template. Add/remove line, currency change and totals are POSTs of the same form with
an `action`, so every step works without JavaScript; with htmx only the changed part is swapped.
Nothing is sent to the billing backend before a manager approves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.auth.decorators import permission_required
from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django_htmx.http import reswap, retarget

from .. import money, roles, services, workflow
from ..adhoc import AdhocShown, adhoc_facts, adhoc_request_from_json, adhoc_request_to_json
from ..backends import adhoc_backend
from ..backends.base import AdhocInvoiceRequest, AdhocLine, BackendError
from ..forms import AddressForm, AdhocInvoiceForm, CustomerSearchForm, LineFormSet
from ..forms.invoice import parse_quantity, payment_method_label
from ..models import Invoice
from ..services.submit_adhoc import SUBMISSION_KEY
from .common import done, problem_for, wants_fragment

TEMPLATE = "invoices/new_adhoc.html"
LINE_FIELDS = ("description", "quantity", "amount")


@dataclass(frozen=True)
class Catalogue:
    """What the backend offers for this customer (read once per request); `gateways` are those
    of the currency chosen on the form, if it is one of `currencies`."""

    customer: object
    payment_methods: tuple
    address_book: tuple
    currencies: tuple
    countries: tuple
    gateways: tuple = ()


def _previous(request) -> tuple[Invoice | None, bool]:
    """The invoice a new version is made of: a rejected one revised (?previous=), or a voided
    one re-issued (?reissue=); and whether it is a re-issue."""
    for param, action in (("previous", "revise"), ("reissue", "reissue")):
        raw = request.GET.get(param, "")
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            found = Invoice.objects.filter(
                pk=int(raw), kind=Invoice.Kind.ADHOC, status__in=workflow.ACTIONS[action].sources
            ).first()
            return found, found is not None and param == "reissue"
    return None, False


@permission_required(roles.SUBMIT, raise_exception=True)
def new_adhoc(request):
    previous, reissue = _previous(request)
    customer_id = request.GET.get("customer", "")
    context: dict = {"previous": previous, "reissue": reissue}
    backend = adhoc_backend()
    if previous is not None:
        if customer_id and customer_id != previous.customer_id and not reissue:
            problem = {
                "message": "A revision keeps the customer of the invoice it revises; start a new "
                "ad-hoc invoice for another customer.",
                "hint": "",
                "retryable": False,
            }
            return _problem(request, context, problem, 400)
        customer_id = previous.customer_id
    if not customer_id:
        return _customer_search(request, backend, context)
    try:
        kept = None if reissue else previous  # a revision keeps its currency; a re-issue may not
        catalogue = _catalogue(backend, customer_id, _wanted_currency(request, previous), kept)
    except BackendError as exc:
        problem, status = problem_for(exc)
        return _problem(request, context, problem, status)
    context["catalogue"] = catalogue
    if request.method == "POST":
        return _post(request, catalogue, context, previous)
    initial = _initial_from_previous(previous) if previous else _initial_from_backend(catalogue)
    return _render_form(request, catalogue, context, initial)


def _problem(request, context, problem: dict, status: int):
    """A problem shown above the form: in place when htmx asked for a part of the page (the
    form the person is typing in is left as it is)."""
    context["problem"] = problem
    if wants_fragment(request):
        response = render(request, f"{TEMPLATE}#problem", context, status=status)
        return reswap(retarget(response, "#page-problem"), "outerHTML")
    return render(request, TEMPLATE, context, status=status)


def _wanted_currency(request, previous: Invoice | None) -> str:
    if request.method == "POST":
        return request.POST.get("currency", "")
    return adhoc_request_from_json(previous.adhoc_request).currency_id if previous else ""


def _catalogue(backend, customer_id: str, currency_id: str, previous) -> Catalogue:
    """The backend's choices for this customer. A revision keeps its currency, so only that one
    is offered; the gateways are asked for only when the currency is one the backend offers."""
    customer = backend.get_customer(customer_id)
    currencies = backend.currencies()
    if previous is not None:
        kept = adhoc_request_from_json(previous.adhoc_request).currency_id
        currencies = tuple(c for c in currencies if c.id == kept)
    offered = any(c.id == currency_id for c in currencies)
    return Catalogue(
        customer=customer,
        payment_methods=backend.payment_methods(customer_id),
        address_book=backend.address_book(customer_id),
        currencies=currencies,
        countries=backend.countries(),
        gateways=backend.gateways(currency_id) if offered else (),
    )


def _customer_search(request, backend, context):
    search = CustomerSearchForm(request.GET)
    context["q"] = request.GET.get("q", "")
    status = 200
    if not search.is_valid():
        context["customers_problem"], status = search.problem(), 400
    else:
        context["q"] = search.cleaned_data["q"]
        try:
            context["customers"] = backend.search_customers(
                query=search.cleaned_data["q"],
                cursor=search.cleaned_data["cursor"] or None,
                limit=20,
            )
        except BackendError as exc:
            context["customers_problem"], status = problem_for(exc)
    if request.htmx and request.htmx.target == "customer-results":
        return render(request, f"{TEMPLATE}#customers", context, status=status)
    return render(request, TEMPLATE, context, status=status)


# --- initial values -------------------------------------------------------------------------
def _address_initial(address) -> dict:
    if address is None:
        return {}
    return {
        "contact_name": address.contact_name,
        "street1": address.street1,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "zip": address.zip,
        "country": address.country_code,
        "type": address.type,
    }


def _initial_from_backend(catalogue: Catalogue) -> dict:
    customer = catalogue.customer
    return {
        "form": {
            "customer_name": (customer.name or customer.business_name)[:45],
            "customer_email": customer.email[:45],
        },
        "lines": [{}],
        "billing": _address_initial(catalogue.address_book[0] if catalogue.address_book else None),
        "shipping": {},
    }


def _initial_from_previous(previous: Invoice) -> dict:
    req = adhoc_request_from_json(previous.adhoc_request)
    currency = req.currency_code
    return {
        "form": {
            "currency": req.currency_id,
            "gateway": req.gateway_id,
            "payment_method": req.payment_method_id,
            "payment_type": req.payment_type,
            "date_from": req.date_from,
            "date_to": req.date_to,
            "date_due": req.date_due,
            "shipping": money.format_amount(req.shipping_minor, currency)
            if req.shipping_minor
            else "",
            "customer_name": req.customer_name,
            "customer_email": req.customer_email,
            "customer_phone": req.customer_phone,
            "terms": req.terms,
            "comments": req.comments,
        },
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "amount": money.format_amount(line.unit_amount_minor, currency),
            }
            for line in req.lines
        ],
        "billing": _address_initial(req.billing_address),
        "shipping": _address_initial(req.shipping_address),
    }


def _initial_from_post(data: QueryDict) -> dict:
    """What the person typed, as initial values (re-rendered without validation errors)."""
    count = _line_count(data)
    return {
        "form": {k: data.get(k, "") for k in AdhocInvoiceForm.base_fields},
        "lines": [{f: data.get(f"lines-{i}-{f}", "") for f in LINE_FIELDS} for i in range(count)],
        "billing": {k: data.get(f"billing-{k}", "") for k in AddressForm.base_fields},
        "shipping": {k: data.get(f"shipping-{k}", "") for k in AddressForm.base_fields},
    }


def _line_count(data: QueryDict) -> int:
    try:
        return max(1, min(100, int(data.get("lines-TOTAL_FORMS", "1"))))
    except ValueError:
        return 1


# --- rendering ------------------------------------------------------------------------------
def _forms(catalogue: Catalogue, *, data=None, initial: dict | None = None):
    initial = initial or {"form": {}, "lines": [{}], "billing": {}, "shipping": {}}
    form = AdhocInvoiceForm(
        data,
        initial=initial["form"],
        currencies=catalogue.currencies,
        gateways=catalogue.gateways,
        payment_methods=catalogue.payment_methods,
    )
    currency = form.currency_code
    lines = LineFormSet(data, initial=initial["lines"], prefix="lines", currency=currency)
    billing = AddressForm(
        data, initial=initial["billing"], prefix="billing", countries=catalogue.countries
    )
    shipping = AddressForm(
        data, initial=initial["shipping"], prefix="shipping", countries=catalogue.countries
    )
    return form, lines, billing, shipping


def _valid_key(request) -> str | None:
    key = request.POST.get("submission_key", "")
    return key if SUBMISSION_KEY.fullmatch(key) else None


def _show(request, context, forms_, initial) -> None:
    form, lines, billing, shipping = forms_
    context.update(
        form=form,
        lines=lines,
        billing=billing,
        shipping=shipping,
        submission_key=_valid_key(request) or uuid.uuid4().hex,
        totals=_totals_from_initial(initial, form.currency_code),
    )


def _render_form(request, catalogue, context, initial, *, status=200, fragment=None):
    _show(request, context, _forms(catalogue, initial=initial), initial)
    template = f"{TEMPLATE}#{fragment}" if fragment and request.htmx else TEMPLATE
    return render(request, template, context, status=status)


@dataclass(frozen=True)
class Totals:
    currency: str | None
    lines_minor: int
    shipping_minor: int
    unreadable: int  # lines whose amount or quantity could not be read yet

    @property
    def total_minor(self) -> int:
        return self.lines_minor + self.shipping_minor


def _totals_from_initial(initial: dict, currency: str | None) -> Totals:
    """Running totals while typing: lines that cannot be read yet are counted, not guessed."""
    if not currency:
        return Totals(None, 0, 0, 0)
    lines_minor = unreadable = 0
    for line in initial["lines"]:
        if not any(str(line.get(f, "")).strip() for f in LINE_FIELDS):
            continue
        try:
            quantity = parse_quantity(line.get("quantity", ""))
            lines_minor += quantity * money.parse_amount(str(line.get("amount", "")), currency)
        except (ValueError, money.MoneyError):
            unreadable += 1
    try:
        shipping_text = str(initial["form"].get("shipping") or "").strip()
        shipping = money.parse_amount(shipping_text, currency) if shipping_text else 0
    except money.MoneyError:
        shipping, unreadable = 0, unreadable + 1
    return Totals(currency, lines_minor, shipping, unreadable)


# --- POST actions ---------------------------------------------------------------------------
def _post(request, catalogue, context, previous):
    action = request.POST.get("action", "preview")
    initial = _initial_from_post(request.POST)
    if action == "add_line":
        initial["lines"].append({})
        return _render_form(request, catalogue, context, initial, fragment="form")
    if action.startswith("remove_line:"):
        index = action.split(":", 1)[1]
        if (
            index.isascii()
            and index.isdigit()
            and len(index) <= 3
            and len(initial["lines"]) > 1
            and int(index) < len(initial["lines"])
        ):
            del initial["lines"][int(index)]
        return _render_form(request, catalogue, context, initial, fragment="form")
    if action in ("currency", "totals"):
        fragment = "totals" if action == "totals" else "form"
        return _render_form(request, catalogue, context, initial, fragment=fragment)

    form, lines, billing, shipping = _forms(catalogue, data=request.POST)
    _show(request, context, (form, lines, billing, shipping), initial)
    valid = all(f.is_valid() for f in (form, lines, billing, shipping)) and form.check_total(lines)
    if not valid:
        context["has_errors"] = True
        return render(request, TEMPLATE, context, status=422)
    adhoc = _request_from_forms(catalogue, form, lines, billing, shipping)
    shown = _shown(catalogue, form, billing, shipping)
    if action != "submit":
        context["preview"] = adhoc
        context["preview_facts"] = adhoc_facts(adhoc_request_to_json(adhoc, shown))
        context["preview_lines"] = [
            (line, line.amount_minor, money.format_amount(line.amount_minor, adhoc.currency_code))
            for line in adhoc.lines
        ]
        return render(request, TEMPLATE, context)
    if _valid_key(request) is None:
        context["problem"] = {
            "message": "This form's one-time key is missing or not valid, so nothing was "
            "submitted. Preview the invoice and submit it again.",
            "hint": "",
            "retryable": False,
        }
        return render(request, TEMPLATE, context, status=400)
    try:
        invoice = services.invoice_submit_adhoc(
            actor=request.user,
            request=adhoc,
            customer_name=shown.customer,
            previous=previous,
            submission_key=_valid_key(request),
            shown=shown,
            reissue=context["reissue"],
        )
    except services.ServiceError as exc:
        context["problem"], status = problem_for(exc)
        return render(request, TEMPLATE, context, status=status)
    return done(
        request,
        reverse("invoices:detail", args=[invoice.pk]),
        "Ad-hoc invoice submitted for approval. Nothing is sent to the billing backend until a "
        "manager approves it.",
    )


def _request_from_forms(catalogue, form, lines, billing, shipping) -> AdhocInvoiceRequest:
    data = form.cleaned_data
    return AdhocInvoiceRequest(
        customer_id=str(catalogue.customer.id),
        currency_id=data["currency"],
        currency_code=form.currency_code,
        gateway_id=data["gateway"],
        payment_method_id=data["payment_method"],
        payment_type=data.get("payment_type", ""),
        date_from=data["date_from"],
        date_to=data["date_to"],
        date_due=data["date_due"],
        lines=tuple(
            AdhocLine(
                description=line.cleaned_data["description"],
                quantity=line.cleaned_data["quantity"],
                unit_amount_minor=line.cleaned_data["amount_minor"],
            )
            for line in lines
        ),
        shipping_minor=data.get("shipping_minor") or 0,
        billing_address=billing.address(),
        shipping_address=shipping.address(),
        customer_email=data.get("customer_email", ""),
        customer_name=data.get("customer_name", ""),
        customer_phone=data.get("customer_phone", ""),
        terms=data.get("terms", ""),
        comments=data.get("comments", ""),
    )


def _shown(catalogue, form, billing, shipping) -> AdhocShown:
    """What the chosen ids stand for, as this form showed them (kept with the request)."""
    data = form.cleaned_data
    currency = next(c for c in catalogue.currencies if c.id == data["currency"])
    gateway = next(g for g in catalogue.gateways if g.id == data["gateway"])
    method = next(p for p in catalogue.payment_methods if p.id == data["payment_method"])
    countries = {c.code: c.name for c in catalogue.countries}
    customer = catalogue.customer
    return AdhocShown(
        customer=customer.business_name or customer.name,
        currency=f"{currency.code} — {currency.name}" if currency.name else currency.code,
        gateway=gateway.name,
        payment_method=payment_method_label(method),
        billing_country=countries.get(billing.cleaned_data.get("country") or "", ""),
        shipping_country=countries.get(shipping.cleaned_data.get("country") or "", ""),
    )
