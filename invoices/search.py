"""Free-text search of invoices (the history's search box): part of a contract or customer name
or of an invoice number (3 characters or more), a whole invoice number, or the local id.

Part of a name is first looked up among the names invoices carry (models.SearchName: each name
once, a few tens of thousands of rows), not among a million invoices: pg_trgm's index over the
invoices' own names has to intersect long lists for the common words a name is made of (a word
like "Logistics" is in one customer name of twenty), some 20 ms a search; over the names it is
under a millisecond. Then:

- few names match (FEW_NAMES or fewer): the search is the invoices carrying exactly those names,
  and a page is put together from its arms (customer names, contract names, numbers, the id),
  each found newest first through its own index (keyset.Arm, keyset_page): the same invoices as
  the substring match, at a fraction of its cost;
- many names match: their invoices are common, so walking the history newest first meets a page
  of them within a few hundred rows, and the search stays the one substring condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q

from .keyset import Arm
from .models import Invoice, SearchName

#: Shortest substring searched for: PostgreSQL's trigram indexes need three characters.
MIN_SEARCH = 3
#: Most names a search turns into arms of exact names (see the module's docstring). Below it,
#: the invoices of the names found are few enough to sort (about 30 a name, 6,000 at most: a
#: few milliseconds from the name indexes alone); above it, walking newest first is cheaper.
FEW_NAMES = 200
NAME_FIELDS = ("customer_name", "contract_name")


@dataclass(frozen=True)
class Search:
    """What a search text finds: `condition` as one filter, or (few names) `arms`."""

    text: str
    whole_number: bool = False
    #: {field: the names of that field containing the text}, or None (short text, an "#id",
    #: or more than FEW_NAMES names).
    names: dict[str, list[str]] | None = None

    @classmethod
    def of(cls, text: str) -> Search:
        """The search for `text` (one look-up of the names, one of the invoice numbers)."""
        if len(text) < MIN_SEARCH or text.startswith("#"):
            return cls(text)
        return cls(text, is_invoice_number(text), matching_names(text))

    @property
    def _by_id(self) -> Q | None:
        digits = self.text.removeprefix("#")
        return Q(pk=int(digits)) if digits.isdigit() and len(digits) < 19 else None

    @property
    def _number(self) -> Q:
        if self.whole_number:
            return Q(upstream_number__iexact=self.text)
        return Q(upstream_number__icontains=self.text)

    def _parts(self) -> list[Arm]:
        """What the search finds, as parts whose union it is (see `arms`)."""
        by_id = self._by_id
        if len(self.text) < MIN_SEARCH or self.text.startswith("#"):
            # "#12" or "12": an id (substrings this short would match half the table); an id
            # longer than any primary key matches nothing.
            return [Arm(by_id if by_id is not None else Q(pk__in=[]), few=True)]
        if self.names is None:
            text = self.text
            parts = [Arm(Q(contract_name__icontains=text) | Q(customer_name__icontains=text))]
        else:
            parts = [
                Arm(Q(**{f"{field}__in": found}), few=True)
                for field, found in self.names.items()
                if found
            ]
        # A whole number is one row; part of a number is left to the planner, which walks the
        # history newest first for common parts ("2025") and uses the trigram index for rare.
        parts.append(Arm(self._number, few=self.whole_number))
        if by_id is not None:
            parts.append(Arm(by_id, few=True))
        return parts

    @property
    def condition(self) -> Q:
        """The invoices found, as one filter."""
        return reduce(or_, (part.condition for part in self._parts()))

    @property
    def arms(self) -> list[Arm] | None:
        """The same invoices as `condition`, as arms each served by one index, when few names
        matched; else None (search with `condition`)."""
        return self._parts() if self.names is not None else None


def matching_names(text: str) -> dict[str, list[str]] | None:
    """{field: names containing `text` (any case)} for the customer and contract names, or None
    if more than FEW_NAMES names do."""
    rows = SearchName.objects.filter(name__icontains=text).values_list("field", "name")
    rows = list(rows[: FEW_NAMES + 1])
    if len(rows) > FEW_NAMES:
        return None
    names: dict[str, list[str]] = {field: [] for field in NAME_FIELDS}
    for field, name in rows:
        names[field].append(name)
    return names


def is_invoice_number(text: str) -> bool:
    """Whether `text` is a whole invoice number (any case) of some invoice: one look-up in
    inv_number_idx, and none for text without a digit or with a space (a name).

    A whole number then finds that invoice rather than every number it is part of: the
    substring search over a million numbers that share their prefix and year ("INV-2025-")
    costs 20 ms, the exact one 0.1 ms. Names are still searched for it as a substring."""
    if " " in text or not any(ch.isdigit() for ch in text) or text.startswith("#"):
        return False
    return Invoice.objects.filter(upstream_number__iexact=text).exists()
