"""Month-end bill runs: every due cycle drafted in the background through invoices' submit
service, with live progress, crash safety (leases, reconcile) and batch review for managers."""
