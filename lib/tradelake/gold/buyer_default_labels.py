"""gold.buyer_default_labels - key (buyer_id, as_of_date): did the buyer default within 180 days?

features.md: default_180d = 1 if some invoice of the buyer has due_date + 90 in (D, D+180] and is not
settled by due_date + 90, else 0. Buyers already in default at D (dpd_now >= 90) get no row. Labels exist
only for D at least 180 days before the newest ingest date.

The label of D is computed with what is known at the end of L = D + 180 (docs/gold_features.md): the
run for L writes it, and re-running L gives the same labels.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold.common import DATE, INT, STR, feature

HORIZON = 180  # days after D in which a default counts
GRACE = 90     # an invoice is in default when not settled by due_date + 90

SCHEMA = T.StructType([
    feature("buyer_id", STR, "buyer"),
    feature("as_of_date", DATE, "snapshot date D of the features the label belongs to"),
    feature("default_180d", INT, "1 if some invoice of the buyer has due_date + 90 in (D, D+180] and is not settled by due_date + 90"),
    feature("label_date", DATE, "D + 180: the label was computed with what was known at the end of this day"),
])
DESCRIPTION = "Default labels for buyer credit models: join to buyer_credit_features on (buyer_id, as_of_date)."
KEY = ("buyer_id", "as_of_date")


def build(invoices: DataFrame, buyer_features: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """Labels for as-of dates first..last. invoices: facts.invoice_states known through last + 180;
    buyer_features: buyer_credit_features rows (buyer_id, as_of_date, dpd_now) for those dates."""
    x = F.date_add("due_date", GRACE)
    defaulted = invoices.where(
        F.col("is_invoice") & (F.col("settled_date").isNull() | (F.col("settled_date") > x))
    )
    # This state says "in default at x" to the labels of D with x in (D, D+180], i.e. D in [x-180, x-1],
    # computed on L = D + 180 while the state holds: L in [known_from, known_to).
    spans = defaulted.select(
        "buyer_id",
        F.greatest(F.date_sub(x, HORIZON), F.date_sub("known_from", HORIZON), F.lit(first)).alias("lo"),
        F.least(F.date_sub(x, 1), F.coalesce(F.date_sub("known_to", HORIZON + 1), F.lit(last)), F.lit(last)).alias("hi"),
    ).where(F.col("lo") <= F.col("hi"))
    steps = spans.select("buyer_id", F.col("lo").alias("day"), F.lit(1).alias("d")).unionByName(
        spans.select("buyer_id", F.date_add("hi", 1).alias("day"), F.lit(-1).alias("d"))
    ).groupBy("buyer_id", "day").agg(F.sum("d").alias("d"))
    w = Window.partitionBy("buyer_id").orderBy("day")
    running = steps.select(
        "buyer_id", "day", F.lead("day").over(w).alias("next_day"),
        F.sum("d").over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow)).alias("n"),
    ).where((F.col("n") > 0) & F.col("next_day").isNotNull())
    in_default = running.select(
        "buyer_id", F.explode(F.sequence("day", F.date_sub("next_day", 1))).alias("as_of_date"), F.lit(1).alias("hit")
    )
    rows = buyer_features.where(F.col("as_of_date").between(F.lit(first), F.lit(last)) & (F.col("dpd_now") < 90))
    return rows.join(in_default, ["buyer_id", "as_of_date"], "left").select(
        "buyer_id",
        "as_of_date",
        F.coalesce(F.col("hit"), F.lit(0)).cast("int").alias("default_180d"),
        F.date_add("as_of_date", HORIZON).alias("label_date"),
    )
