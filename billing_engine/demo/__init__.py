"""Deterministic demo data for the embedded engine.

Everything here is fixed: ids are uuid5 of stable names (integer-keyed rows are found by their
natural keys), variety comes from `random.Random` seeded per record, and dates are laid out around
2026 rather than today. Running it again updates rows in place and changes nothing; rows a
previous version of this module created for a demo contract but no longer defines are removed.

The catalogue is meant to exercise the engine: every cadence, anchor days 1/15/28/31, mid-cycle
starts, fixed, ended and open-ended terms, trial → active → price-rise phases, pauses, all four
pricing types in USD, EUR, GBP, JPY and KWD, and a share of cycles already approved.

One module per kind of thing seeded, each with its data and the code that writes it:
- `common`: the demo's fixed ids (`demo_id`) and dates, and `_Sync`, the bulk create-or-update;
- `reference`: countries, company currencies and their gateways (ad-hoc invoicing);
- `catalogue`: products and their price lists (what a cycle of each product costs, per currency);
- `customers`: customers, their payment methods and address books;
- `contracts`: contracts, their phases and pricings, laid out from each one's position;
- `approvals`: the cycle invoices an earlier billing run would already have approved;
- `seed`: `seed_engine_demo`, which runs them in that order and sums up what it made.
"""

from .common import APPROVED_BEFORE, NAMESPACE, REFERENCE, demo_id
from .seed import seed_engine_demo

__all__ = ["APPROVED_BEFORE", "NAMESPACE", "REFERENCE", "demo_id", "seed_engine_demo"]
