"""What both embedded adapters share: the engine's refusals as the port's errors, paging, and
minor units as major-unit Decimals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from django.db import OperationalError

from billing_engine import api
from billing_rules.cycles import midnight
from invoices import money

from ..base import (
    AlreadyInvoicedUpstream,
    AlreadyPaid,
    BackendRejected,
    BackendUnavailable,
    CannotBeVoided,
    CycleNotMatched,
    NotFoundUpstream,
    Page,
)

NAME = "embedded"


@contextmanager
def engine_errors() -> Iterator[None]:
    """Translate the engine's refusals into the port's errors (see the module docstring)."""
    try:
        yield
    except api.NotFound as exc:
        raise NotFoundUpstream(exc.message, backend=NAME) from exc
    except api.CycleNotFound as exc:
        raise CycleNotMatched(
            f"{exc.message} Refresh the billing cycles and pick one again.", backend=NAME
        ) from exc
    except api.InvoiceAlreadyGeneratedForThisBillingPeriod as exc:
        raise AlreadyInvoicedUpstream(exc.message, backend=NAME) from exc
    except api.InvoiceCannotBeVoided as exc:
        raise CannotBeVoided(exc.message, backend=NAME) from exc
    except api.InvoiceAlreadyPaid as exc:
        raise AlreadyPaid(exc.message, backend=NAME) from exc
    except api.InvalidState as exc:
        raise BackendRejected(exc.message, status=409, code="invalid_state", backend=NAME) from exc
    except api.ValidationFailed as exc:
        raise BackendRejected(
            exc.message,
            status=422,
            code="validation_failed",
            field_errors=exc.field_errors,
            backend=NAME,
        ) from exc
    except OperationalError as exc:
        raise BackendUnavailable(
            "The billing engine's database cannot answer right now; try again shortly.",
            backend=NAME,
        ) from exc


def page_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isascii() or not cursor.isdigit():
        raise BackendRejected(f"Not a page cursor: {cursor!r}.", status=400, backend=NAME)
    return int(cursor)


def page_cursors(offset: int, shown: int, limit: int, total: int) -> tuple[str | None, ...]:
    next_cursor = str(offset + shown) if offset + shown < total else None
    previous = str(max(0, offset - limit)) if offset > 0 else None
    return next_cursor, previous


def _scale(currency: str) -> Decimal:
    return Decimal(10) ** money.exponent(currency)


def _unit_major(minor: Decimal, currency: str) -> Decimal:
    """A unit price in major units: the currency's decimals, more only where the price has them
    (a 0.125 USD unit price stays 0.125; 12.5 stays 12.50)."""
    places = Decimal(1).scaleb(-money.exponent(currency))
    value = minor / _scale(currency)
    rounded = value.quantize(places)
    return rounded if rounded == value else value.normalize()


def _plain(number: Decimal) -> Decimal:
    """Without the storage's trailing zeros (25.0000 -> 25, 2.5000 -> 2.5), never as 1E+2."""
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def _at(day) -> datetime | None:
    return None if day is None else midnight(day)


def engine_page(search, convert, *, query: str, cursor: str | None, limit: int) -> Page:
    """One page of an engine search (`search(query=, offset=, limit=)` -> rows, total), each
    row converted to the port's value, with the cursors to the pages around it."""
    offset = page_offset(cursor)
    with engine_errors():
        rows, total = search(query=query, offset=offset, limit=limit)
    next_cursor, previous = page_cursors(offset, len(rows), limit, total)
    return Page(
        items=tuple(convert(row) for row in rows),
        next_cursor=next_cursor,
        previous_cursor=previous,
        total_count=total,
    )
