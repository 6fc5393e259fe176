"""Pages, grouped by who uses them:

- `clerk`: a contract cycle into an invoice (search, cycles, preview, submit), my invoices,
  revising a rejected invoice;
- `adhoc`: the clerk's ad-hoc invoice form;
- `decisions`: the approvals inbox and the invoice page with its actions (approve, retry, reject,
  withdraw), for managers and submitters;
- `history`: history, audit log, their CSV exports and contract coverage, for every reader;
- `home`: the home page per role, and the 403 page;
- `common`: the htmx fragment test and the mapping from domain errors to responses.

Views are thin: validate with a form, call a service or selector, render or redirect.
"""
