"""Free-text search of invoices (the history's search box): part of a contract or customer name
or of an invoice number (3 characters or more), a whole invoice number, or the local id.

As one filter (`Search.condition`, the CSV export's) that is a substring match on the invoices'
own columns. A page of it is found faster (`Search.union`, history_page): part of a name is
looked up among the names invoices carry (models.SearchName: each name once, a few tens of
thousands of rows) rather than among a million invoices, where pg_trgm's index has to intersect
long lists for the common words a name is made of (a word like "Systems" is in one customer
name of twenty: some 20 ms a search, under a millisecond over the names). The invoices carrying
the names found are then read newest first from the name indexes, the numbers and the id each
through their own (keyset.Union), all in one query.

That holds while few names match (FEW_NAMES): their invoices are few enough to sort. When more
do, the union finds nothing (its `only_if`), and the page is found with `condition` instead:
those invoices are common, so walking the history newest first meets a page of them soon.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import F, Q
from django.db.models.expressions import RawSQL

from .expressions import InSubquery
from .keyset import Arm, Union
from .models import Invoice, SearchName

#: Shortest substring searched for: PostgreSQL's trigram indexes need three characters.
MIN_SEARCH = 3
#: Most names whose invoices a page is put together from (see the module's docstring): about
#: 30 invoices a name, 6,000 at most, a few milliseconds to sort from the name indexes alone.
FEW_NAMES = 200
#: The common table expression of the names found (keyset.Union.with_sql).
NAMES = "search_names"


@dataclass(frozen=True)
class Search:
    """What a search text finds."""

    text: str
    whole_number: bool = False

    @classmethod
    def of(cls, text: str) -> Search:
        """The search for `text` (one look-up of the invoice numbers if it could be one)."""
        return cls(text, is_invoice_number(text))

    @property
    def is_id(self) -> bool:
        """Short text or "#12": only the local id is searched for (substrings this short
        would match half the table)."""
        return len(self.text) < MIN_SEARCH or self.text.startswith("#")

    @property
    def _by_id(self) -> Q | None:
        digits = self.text.removeprefix("#")
        # An id longer than any primary key matches nothing.
        return Q(pk=int(digits)) if digits.isdigit() and len(digits) < 19 else None

    @property
    def _number(self) -> Arm:
        # A whole number is one row; part of a number is left to the planner, which walks the
        # history newest first for common parts ("2025") and uses the trigram index for rare.
        if self.whole_number:
            return Arm(Q(upstream_number__iexact=self.text), few=True)
        return Arm(Q(upstream_number__icontains=self.text))

    @property
    def condition(self) -> Q:
        """The invoices found, as one filter."""
        by_id = self._by_id
        if self.is_id:
            return by_id if by_id is not None else Q(pk__in=[])
        text = self.text
        parts = [
            Q(contract_name__icontains=text),
            Q(customer_name__icontains=text),
            self._number.condition,
        ]
        return reduce(or_, parts if by_id is None else [*parts, by_id])

    @property
    def union(self) -> Union | None:
        """The same invoices as `condition` while at most FEW_NAMES names contain the text, as
        a union of arms that each have their own index; None for an id search."""
        if self.is_id:
            return None
        names, params = (
            SearchName.objects.filter(name__icontains=self.text)
            .values_list("field", "name")[: FEW_NAMES + 1]
            .query.sql_with_params()
        )
        arms = [
            Arm(Q(InSubquery(F(field), _names_of(field))), few=True)
            for field in ("customer_name", "contract_name")
        ]
        arms.append(self._number)
        if self._by_id is not None:
            arms.append(Arm(self._by_id, few=True))
        return Union(
            arms,
            with_sql=f"{NAMES} (field, name) AS ({names})",
            with_params=tuple(params),
            only_if=f"(SELECT COUNT(*) FROM {NAMES}) <= {int(FEW_NAMES)}",  # noqa: S608
        )

    def many_names(self) -> bool:
        """Whether more than FEW_NAMES names contain the text (the union then finds nothing)."""
        return SearchName.objects.filter(name__icontains=self.text)[FEW_NAMES:].exists()


def _names_of(field: str) -> RawSQL:
    return RawSQL(f"SELECT name FROM {NAMES} WHERE field = %s", (field,))  # noqa: S608, S611


def is_invoice_number(text: str) -> bool:
    """Whether `text` is a whole invoice number (any case) of some invoice: one look-up in
    inv_number_idx, and none for text without a digit or with a space (a name).

    A whole number then finds that invoice rather than every number it is part of: the
    substring search over a million numbers that share their prefix and year ("INV-2025-")
    costs 20 ms, the exact one 0.1 ms. Names are still searched for it as a substring."""
    if len(text) < MIN_SEARCH or " " in text or text.startswith("#"):
        return False
    if not any(ch.isdigit() for ch in text):
        return False
    return Invoice.objects.filter(upstream_number__iexact=text).exists()
