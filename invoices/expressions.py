"""Database expressions the models' indexes and the filters share (written once, so that a
filter and its index are the same expression)."""

from django.db import models
from django.db.models import F


class BillingMonth(models.Func):
    """The first day (UTC) of the month of an invoice's billing date (the bill-for date of a
    cycle, the period start of an ad-hoc), as a date: "billing date in one month" is then one
    range of inv_billing_month_idx, already newest first. The same expression, written for each
    database, is the index's and the filter's."""

    output_field = models.DateField()

    def __init__(self):
        super().__init__(F("bill_for"), F("period_start"))

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(DATE_TRUNC('month', COALESCE(%(expressions)s) AT TIME ZONE 'UTC'))::date",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite datetimes as UTC text ("2025-11-30 23:59:59"): "2025-11-" + "01".
        return self.as_sql(
            compiler,
            connection,
            template="(substr(COALESCE(%(expressions)s), 1, 8) || '01')",
            **extra,
        )
