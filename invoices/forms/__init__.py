"""Forms: the clerk and manager forms (`invoice`) and the history / audit-log filters
(`filters`)."""

from .filters import AuditFilterForm, HistoryFilterForm
from .invoice import (
    AddressForm,
    AdhocInvoiceForm,
    ApproveForm,
    ContractSearchForm,
    LineFormSet,
    RejectForm,
    SubmitCycleForm,
)

__all__ = [
    "AddressForm",
    "AdhocInvoiceForm",
    "ApproveForm",
    "AuditFilterForm",
    "ContractSearchForm",
    "HistoryFilterForm",
    "LineFormSet",
    "RejectForm",
    "SubmitCycleForm",
]
