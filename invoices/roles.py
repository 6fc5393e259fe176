"""Roles are Django groups with custom permissions, created by migration 0002 (which holds
the group -> permission mapping)."""

CLERKS = "Billing clerks"
MANAGERS = "Billing managers"
AUDITORS = "Auditors"

SUBMIT = "invoices.submit_invoice"
APPROVE = "invoices.approve_invoice"
HISTORY = "invoices.view_history"
AUDIT = "invoices.view_audit"
