"""Forms: the clerk and manager forms (`invoice`) and the history / audit-log filters
(`filters`)."""

from .filters import AuditFilterForm, HistoryFilterForm
from .invoice import (
    AddressForm,
    AdhocInvoiceForm,
    ApproveForm,
    ContractSearchForm,
    CustomerSearchForm,
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
    "CustomerSearchForm",
    "HistoryFilterForm",
    "LineFormSet",
    "RejectForm",
    "SubmitCycleForm",
]
