"""Embedded billing engine catalog and engine-side invoices."""
