"""Read queries for pages: each returns what a template needs in a fixed number of queries.

- `lists`: my invoices, the approvals inbox, history and the audit log (keyset pages of display
  rows, see invoices.presenters);
- `pages`: the invoice page and the home page;
- `cycles`: a contract's billing cycles with their local state (clerk flow, coverage).
"""

from .cycles import GAP_STATES, Coverage, CoverageRow, CycleRow, coverage, cycle_rows
from .lists import (
    AUDIT_ROW_FIELDS,
    INBOX_COLUMNS,
    LIST_COLUMNS,
    approval_inbox,
    audit_page,
    history_page,
    history_queryset,
    history_rows,
    list_rows,
    my_invoices,
    not_revised,
    user_choices,
)
from .pages import (
    correction_context,
    home_dashboard,
    invoice_for_page,
    invoice_page,
    name_people,
    named,
    upstream_effect,
    waiting_on,
)

__all__ = [
    "AUDIT_ROW_FIELDS",
    "GAP_STATES",
    "INBOX_COLUMNS",
    "LIST_COLUMNS",
    "Coverage",
    "CoverageRow",
    "CycleRow",
    "approval_inbox",
    "audit_page",
    "correction_context",
    "coverage",
    "cycle_rows",
    "history_page",
    "history_queryset",
    "history_rows",
    "home_dashboard",
    "invoice_for_page",
    "invoice_page",
    "list_rows",
    "my_invoices",
    "name_people",
    "named",
    "not_revised",
    "upstream_effect",
    "user_choices",
    "waiting_on",
]
