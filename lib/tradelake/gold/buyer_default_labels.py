"""gold.buyer_default_labels - key (buyer_id, as_of_date): did the buyer default within 180 days?

features.md: default_180d = 1 if some invoice of the buyer has due_date + 90 in (D, D+180] and is not
settled by due_date + 90, else 0. Buyers already in default at D (dpd_now >= 90) get no row. Labels exist
only for D at least 180 days before the newest ingest date.

The label of D is computed with what is known at the end of L = D + 180 (docs/gold_features.md): the
run for L writes it, and re-running L gives the same labels. It is a running total like any other: the
number of the buyer's invoices with default day (due_date + 90) in (L-180, L] = (D, D+180] that are in
default as known at L.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold.common import DATE, INT, RATE, STR, feature
from tradelake.gold.ledger import Component, Totals, window

HORIZON = 180  # days after D in which a default counts
GRACE = 90     # an invoice is in default when not settled by due_date + 90 (facts.with_invoice_attributes)

C = [
    Component("defaults_180d", fact="invoice", entity="buyer_id", on="default_day", **window(HORIZON),
              value=lambda: F.col("is_defaulted"),
              doc="invoices with due_date + 90 in (L-180, L] not settled by due_date + 90, as known at L"),
]
COMPONENTS = C

SCHEMA = T.StructType([
    feature("buyer_id", STR, "buyer"),
    feature("as_of_date", DATE, "snapshot date D of the features the label belongs to"),
    feature("default_180d", INT, "1 if some invoice of the buyer has due_date + 90 in (D, D+180] and is not settled by due_date + 90",
            RATE),
    feature("label_date", DATE, "D + 180: the label was computed with what was known at the end of this day"),
])
DESCRIPTION = "Default labels for buyer credit models: join to buyer_credit_features on (buyer_id, as_of_date)."
KEY = ("buyer_id", "as_of_date")


def build(totals: Totals, buyer_features: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """Labels of the as-of dates first..last. totals: the running totals of first+180..last+180;
    buyer_features: buyer_credit_features rows (buyer_id, as_of_date, dpd_now) of first..last."""
    defaults = totals.of(C[0].family).where(F.col("defaults_180d") > 0).select(
        F.col("entity_id").alias("buyer_id"), F.date_sub("as_of_date", HORIZON).alias("as_of_date"),
        F.lit(1).alias("hit"),
    )
    rows = buyer_features.where(F.col("as_of_date").between(F.lit(first), F.lit(last)) & (F.col("dpd_now") < 90))
    return rows.join(defaults, ["buyer_id", "as_of_date"], "left").select(
        "buyer_id",
        "as_of_date",
        F.coalesce(F.col("hit"), F.lit(0)).cast("int").alias("default_180d"),
        F.date_add("as_of_date", HORIZON).alias("label_date"),
    )
