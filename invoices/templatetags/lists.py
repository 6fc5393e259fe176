"""Template helpers for the list pages: ``{% load lists %}``.

``{% cache 3600 history-filters form|form_state %}<form>...</form>{% endcache %}`` keeps the
rendered filter form (settings.CACHES["template_fragments"], in each process's memory): its HTML
is a pure function of what ``form_state`` names, and rendering its fifteen fields with their
widgets, labels and choices costs more than the rest of the page.
"""

from html import escape

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def form_state(form) -> str:
    """Everything a bound form's HTML depends on, as one string: the data of each field, its
    label, help text, choices and widget attributes, and the errors validation found."""
    data = form.data
    getlist = getattr(data, "getlist", None)
    fields = []
    for name, field in form.fields.items():
        widget = field.widget
        fields.append(
            (
                name,
                getlist(name) if getlist else data.get(name),
                field.label,
                field.help_text,
                field.required,
                field.disabled,
                getattr(field, "choices", None),
                getattr(widget, "choices", None),
                widget.attrs,
                type(widget).__name__,
            )
        )
    errors = sorted((name, list(messages)) for name, messages in form.errors.items())
    return repr((type(form).__qualname__, form.is_bound, form.auto_id, fields, errors))


# --- the rows of the two long lists ----------------------------------------------------------
# The history and the audit log show 50 rows on every page view. Their rows are written here,
# in Python, from presenters.InvoiceRow / AuditRow: measured on a page of 50 history rows
# (bench/README.md), the same markup costs 0.13 ms this way and 1.45 ms as a template loop of
# `{{ row.x }}` look-ups. Every value is escaped exactly as Django escapes it (html.escape).


def _history_row(row) -> str:
    version = f' <span class="muted">{escape(row.version)}</span>' if row.version else ""
    number = (
        f'<br><span class="muted">{escape(row.upstream_number)}</span>'
        if row.upstream_number
        else ""
    )
    if row.coverage_url:
        contract = (
            f'<a href="{escape(row.coverage_url)}">{escape(row.contract)}'
            '<span class="visually-hidden"> (billing coverage)</span></a>'
        )
    else:
        contract = escape(row.contract)
    action = ""
    if row.action:
        action = (
            f'<a href="{escape(row.action.url)}">{escape(row.action.text)}'
            f'<span class="visually-hidden"> invoice {escape(row.number)}</span></a>'
        )
    return (
        "  <tr>\n"
        f'    <th scope="row"><a href="{escape(row.url)}">{escape(row.number)}</a>'
        f"{version}{number}</th>\n"
        f'    <td>{escape(row.kind_label)}<br><span class="muted">{escape(row.backend)}</span>'
        "</td>\n"
        f"    <td>{contract}</td>\n"
        f"    <td>{escape(row.customer)}</td>\n"
        f"    <td>{escape(row.period)}</td>\n"
        f'    <td class="num">{escape(row.total)}</td>\n'
        f'    <td><span class="badge status-{escape(row.status)}">{escape(row.status_label)}'
        "</span></td>\n"
        f'    <td><time datetime="{escape(row.submitted_iso)}">{escape(row.submitted)}</time>'
        f'<br><span class="muted">by {escape(row.submitter)}</span></td>\n'
        f"    <td>{escape(row.decider)}</td>\n"
        f"    <td>{action}</td>\n"
        "  </tr>\n"
    )


def _audit_row(row) -> str:
    invoice = (
        f'<a href="{escape(row.invoice.url)}">{escape(row.invoice.text)}</a>'
        if row.invoice
        else "—"
    )
    origin = escape(row.ip)
    if row.request_id:
        origin += f'<br><span class="muted mono">{escape(row.request_id)}</span>'
    return (
        "  <tr>\n"
        f'    <td><time datetime="{escape(row.at_iso)}">{escape(row.at)}</time></td>\n'
        f'    <th scope="row">{escape(row.seq)}</th>\n'
        f"    <td>{escape(row.actor)}</td>\n"
        f"    <td>{escape(row.action)}</td>\n"
        f"    <td>{invoice}</td>\n"
        f"    <td>{escape(row.change)}</td>\n"
        f"    <td>{escape(row.reason)}</td>\n"
        f"    <td>{origin or '—'}</td>\n"
        "  </tr>\n"
    )


@register.filter
def history_rows(rows) -> str:
    """`<tr>` of each presenters.InvoiceRow (templates/invoices/_history_rows.html)."""
    return mark_safe("".join(map(_history_row, rows)))  # noqa: S308 - every value escaped


@register.filter
def audit_rows(rows) -> str:
    """`<tr>` of each presenters.AuditRow (templates/invoices/_audit_rows.html)."""
    return mark_safe("".join(map(_audit_row, rows)))  # noqa: S308 - every value escaped
