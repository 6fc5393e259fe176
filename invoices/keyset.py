"""Keyset pages: "the next N rows after this (time, id)", never "skip N rows".

A page deep in a million rows costs what the first one costs (one index range scan), and rows
that arrive meanwhile never shift the page you are on. A cursor is an opaque token in the URL
(`?after=...` or `?before=...`).
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import DateTimeField, F, Func, Q, QuerySet
from django.db.models.expressions import Col, RawSQL
from django.db.models.sql.query import Query

from .expressions import InSubquery

PAGE_SIZE = 50


def encode_cursor(moment: datetime, pk: int) -> str:
    """An opaque, URL-safe token for the position (moment, pk)."""
    text = f"{moment.astimezone(UTC).isoformat()}|{pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int] | None:
    """The position a token names, or None for anything that is not one of ours."""
    if not token or len(token) > 120:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment_text, pk_text = text.split("|")
        moment = datetime.fromisoformat(moment_text)
        pk = int(pk_text)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    if moment.tzinfo is None or pk < 0:
        return None
    return moment.astimezone(UTC), pk


@dataclass(frozen=True)
class Arm:
    """One part of a filter that is a union of parts (see Union)."""

    #: On the model's own columns, no joins (it is compiled with bare column names: see
    #: _Condition), and hashable (it is compiled once per process, cached by its value).
    condition: Q
    #: Its matches are few: find them all through the condition's own index and sort them
    #: (as avoid_time_index), rather than walk the (time, id) index for them.
    few: bool = False


@dataclass(frozen=True)
class Union:
    """A filter that is the union of `arms`, an OR whose parts each have their own index, which
    one plan over the OR cannot use well (see invoices.search and keyset_page)."""

    arms: list[Arm]
    #: A common table expression the arms' conditions may read, as `name (columns) AS (...)`,
    #: and its parameters.
    with_sql: str = ""
    with_params: tuple = ()
    #: An SQL condition the union as a whole holds under; when it does not, nothing is found.
    only_if: str = ""


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None
    size: int

    @property
    def is_first(self) -> bool:
        return self.previous_cursor is None


def keyset_page(
    queryset: QuerySet,
    *,
    time_field: str,
    id_field: str,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
    avoid_time_index: bool = False,
    union: Union | None = None,
    find_in: QuerySet | None = None,
) -> KeysetPage:
    """One page of `queryset`, newest first by (time_field, id_field), from a cursor.

    The position test is written as `t <= t0 AND (t < t0 OR id < id0)`: its first half bounds an
    index range scan on (time, id) on every database, the second only drops ties at the edge.
    An unreadable cursor shows the first page.

    `avoid_time_index` is for filters whose matches all lie far down the (time, id) index (see
    HistoryFilterForm.avoid_time_index): walking it newest first would pass every newer row
    before finding one. The page's ids are then found through the filter's own index and sorted
    (on PostgreSQL by an expression equal to the time, which the planner cannot read from the
    (time, id) index; with inv_billing_sort_idx that is an index-only scan), and its rows are
    fetched by id. The rows and their order are the same either way.

    `union`: the rows are those of `queryset` in any of the union's arms. Each arm's page is
    found on its own (a `few` arm as avoid_time_index), and the pages are merged and cut in the
    query that reads the rows: the same rows, in the same order, in one query.

    `find_in`: where those two ways find a page's ids: the filtered rows without display
    columns or annotations (cheaper to build and compile). `queryset` then only reads the rows
    of the ids found, and need not be filtered.
    """
    t, i = time_field, id_field
    unindexed = connection.vendor == "postgresql"

    def ordered(narrowed: QuerySet, newest_first: bool, avoid: bool) -> QuerySet:
        sort_t = _Unindexed(F(t)) if avoid and unindexed else F(t)
        order = (sort_t.desc(), F(i).desc()) if newest_first else (sort_t.asc(), F(i).asc())
        return narrowed.order_by(*order)

    def by_id(ids: list) -> list:
        found = {getattr(row, i): row for row in queryset.filter(**{f"{i}__in": ids})}
        return [found[pk] for pk in ids]

    def fetch(where: Q, newest_first: bool) -> list:
        if not (union or avoid_time_index):
            return list(ordered(queryset.filter(where), newest_first, False)[: size + 1])
        finding = (queryset if find_in is None else find_in).filter(where)
        if not union:
            ordered_ids = ordered(finding, newest_first, True).values_list(i, flat=True)
            return by_id(list(ordered_ids[: size + 1]))
        ids = _union_page(union, finding, t, i, newest_first, size + 1, avoid_time_index)
        return list(ordered(queryset.filter(InSubquery(F(i), ids)), newest_first, False))

    position = decode_cursor(after) if after else None
    if position is not None:
        t0, i0 = position
        rows = fetch(
            Q(**{f"{t}__lte": t0}) & (Q(**{f"{t}__lt": t0}) | Q(**{f"{i}__lt": i0})),
            newest_first=True,
        )
        more = len(rows) > size
        rows = rows[:size]
        return KeysetPage(
            rows,
            _cursor(rows[-1], t, i) if more else None,
            _cursor(rows[0], t, i) if rows else None,
            size,
        )
    position = decode_cursor(before) if before else None
    if position is not None:
        t0, i0 = position
        rows = fetch(
            Q(**{f"{t}__gte": t0}) & (Q(**{f"{t}__gt": t0}) | Q(**{f"{i}__gt": i0})),
            newest_first=False,
        )
        more = len(rows) > size
        rows = rows[:size]
        rows.reverse()
        if more:
            return KeysetPage(rows, _cursor(rows[-1], t, i), _cursor(rows[0], t, i), size)
        if len(rows) == size:  # exactly the first page
            return KeysetPage(rows, _cursor(rows[-1], t, i), None, size)
        # Fewer rows than a page before the cursor: that is the start; show a full first page.
    rows = fetch(Q(), newest_first=True)
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, _cursor(rows[-1], t, i) if more else None, None, size)


def _union_page(
    union: Union,
    finding: QuerySet,
    t: str,
    i: str,
    newest_first: bool,
    limit: int,
    avoid_time_index: bool = False,
) -> RawSQL:
    """The ids of the first `limit` rows of `finding` (the filtered rows, from the cursor on)
    that are in any arm of `union`, as a subquery: each arm's own first `limit` rows, merged and
    cut. (Plain SQL around SQL compiled by Django: its union() cannot order and cut its arms on
    SQLite, nor stand as a subquery, nor have a WITH clause.)

    `finding` is compiled once, and each arm reads its rows as a derived table that the arm's
    condition filters (PostgreSQL and SQLite fold such a table into the query around it, so the
    plan is the one of the condition written into `finding`); compiling `finding` once per arm
    cost a history search 0.3 ms."""
    quote = connection.ops.quote_name
    conditions = [_Condition.of(finding.model, arm.condition) for arm in union.arms]
    read = sorted(set().union(*(c.fields for c in conditions)) - {t, i})
    base, base_params = finding.order_by().values_list(t, i, *read).query.sql_with_params()
    direction = "DESC" if newest_first else "ASC"
    members, params = [], list(union.with_params)
    for n, (arm, condition) in enumerate(zip(union.arms, conditions, strict=True)):
        sort_t = quote(t)
        if (arm.few or avoid_time_index) and connection.vendor == "postgresql":
            sort_t = _Unindexed.template % {"expressions": sort_t}
        members.append(
            f"SELECT {quote(t)}, {quote(i)} FROM (SELECT {quote(t)}, {quote(i)} "  # noqa: S608
            f"FROM ({base}) AS rows{n} WHERE {condition.sql} "
            f"ORDER BY {sort_t} {direction}, {quote(i)} {direction} LIMIT {int(limit)}) AS arm{n}"
        )
        params.extend((*base_params, *condition.params))
    sql = f"SELECT {quote(i)} FROM ({' UNION '.join(members)}) AS arms"  # noqa: S608
    if union.only_if:
        sql += f" WHERE {union.only_if}"
    if union.with_sql:
        sql = f"WITH {union.with_sql} {sql}"
    sql += f" ORDER BY {quote(t)} {direction}, {quote(i)} {direction} LIMIT {int(limit)}"
    # Only quoted names and SQL compiled by Django or written in code go into the text; every
    # value stays a parameter.
    return RawSQL(sql, params)  # noqa: S611


@dataclass(frozen=True)
class _Condition:
    """An arm's condition as SQL on the model's columns by their bare names (as Django writes a
    check constraint), to be read on a derived table of those columns, and the fields it reads
    (by attname, their columns' names here: a field with its own db_column would need its
    column selected under that name)."""

    sql: str
    params: tuple
    fields: frozenset[str]

    @classmethod
    def of(cls, model, condition: Q) -> _Condition:
        """Compiled once per process for each (model, condition, database): the same Q always
        compiles to the same SQL, and most arms are the same on every request (a search's name
        arms; compiling one cost 0.08 ms). Q hashes its values (lists and dicts as tuples)."""
        return _compiled(model, condition, connection.vendor)


@functools.lru_cache(maxsize=256)
def _compiled(model, condition: Q, vendor: str) -> _Condition:
    query = Query(model=model, alias_cols=False)
    where = query.build_where(condition)
    sql, params = where.as_sql(query.get_compiler(connection=connection), connection)
    cols = where.get_group_by_cols()
    fields = frozenset(c.target.attname for c in cols if isinstance(c, Col))
    return _Condition(sql, tuple(params), fields)


class _Unindexed(Func):
    """A timestamp column as `(col + INTERVAL '0 seconds')`: same value, no index order."""

    template = "(%(expressions)s + INTERVAL '0 seconds')"
    output_field = DateTimeField()


def _cursor(row, time_field: str, id_field: str) -> str:
    return encode_cursor(getattr(row, time_field), getattr(row, id_field))
