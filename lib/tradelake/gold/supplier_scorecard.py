"""gold.supplier_scorecard - key (supplier_id, as_of_date): supply-chain performance over 90 days.

features.md: one row per supplier with a transaction ordered in (D-365, D]. Each feature's formula is
below its spec line; the components it reads are declared first (ledger.py explains components).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold.common import (
    DATE,
    DOUBLE,
    LONG,
    NON_NEGATIVE,
    RATE,
    STR,
    at_most_one,
    feature,
    histogram_bin,
    histogram_quantiles,
    ratio,
    sub_totals,
    sums_by_date,
)
from tradelake.gold.ledger import Component, SubKey, Totals, window

ORDERS = dict(fact="invoice", entity="supplier_id", on="order_date")           # transactions by order date
DUE = dict(fact="shipment", entity="supplier_id", on="promised_date")          # shipments by promised date
DELIVERED = dict(fact="shipment", entity="supplier_id", on="full_delivery_date")  # by full delivery date
not_cancelled = lambda: F.col("status") != "CANCELLED"  # noqa: E731
late = lambda: F.col("full_delivery_date") > F.col("promised_date")  # noqa: E731

LEAD_TIME_BIN = SubKey("lead_time_bin", lambda: histogram_bin(F.col("lead_time_seconds").cast("double")))
BUYER = SubKey("buyer", lambda: F.col("buyer_id"))

C = [
    Component("orders_365d", **ORDERS, **window(365), value=lambda: F.lit(1),
              doc="transactions ordered in (D-365, D]: the supplier has a row when > 0"),
    Component("orders_90d", **ORDERS, **window(90), value=lambda: F.lit(1), doc="transactions ordered, any status"),
    Component("cancelled_90d", **ORDERS, **window(90), value=lambda: F.col("status") == "CANCELLED"),
    Component("fulfilled_90d", **ORDERS, **window(90), value=lambda: F.col("status") == "FULFILLED"),
    Component("returned_90d", **ORDERS, **window(90), value=lambda: F.col("status") == "RETURNED"),
    Component("gmv_usd_90d", **ORDERS, **window(90), kind="money",
              value=lambda: F.when(not_cancelled(), F.col("amount_usd"))),
    Component("shipments_due_90d", **DUE, **window(90), value=lambda: F.lit(1)),
    Component("otif_90d", **DUE, **window(90), value=lambda: F.col("is_otif")),
    Component("on_time_90d", **DUE, **window(90), value=lambda: F.col("is_on_time")),
    Component("units_delivered_90d", **DUE, **window(90),
              value=lambda: F.least(F.col("delivered_qty"), F.col("quantity"))),
    Component("units_ordered_90d", **DUE, **window(90), value=lambda: F.col("quantity")),
    Component("exceptions_90d", **DUE, **window(90), value=lambda: F.col("has_exception")),
    Component("late_shipments_90d", **DUE, **window(90), value=late),
    Component("late_days_90d", **DUE, **window(90),
              value=lambda: F.when(late(), F.datediff("full_delivery_date", "promised_date"))),
    Component("lead_times_90d", **DELIVERED, **window(90), value=lambda: F.lit(1)),
    Component("lead_time_sum_90d", **DELIVERED, **window(90), kind="seconds", value=lambda: F.col("lead_time_seconds")),
    Component("lead_time_sq_90d", **DELIVERED, **window(90), kind="seconds2",
              value=lambda: F.col("lead_time_seconds") * F.col("lead_time_seconds")),
    Component("lead_time_bin_90d", **DELIVERED, **window(90), sub=LEAD_TIME_BIN, value=lambda: F.lit(1),
              doc="lead times per histogram bin (quantiles)"),
    Component("buyer_orders_90d", **ORDERS, **window(90), sub=BUYER, value=not_cancelled,
              doc="non-cancelled orders per buyer"),
    Component("buyer_gmv_usd_90d", **ORDERS, **window(90), sub=BUYER, kind="money",
              value=lambda: F.when(not_cancelled(), F.col("amount_usd"))),
]
COMPONENTS = C
_by_name = {c.name: c for c in C}

SCHEMA = T.StructType([
    feature("supplier_id", STR, "supplier"),
    feature("as_of_date", DATE, "snapshot date D: only what was known at the end of D"),
    feature("orders_90d", LONG, "transactions ordered in (D-90, D], any status", NON_NEGATIVE),
    feature("gmv_usd_90d", DOUBLE, "sum amount_usd of those not CANCELLED", NON_NEGATIVE),
    feature("cancel_rate_90d", DOUBLE, "CANCELLED / orders_90d", RATE),
    feature("return_rate_90d", DOUBLE, "RETURNED / (FULFILLED + RETURNED), orders in window", RATE),
    feature("shipments_due_90d", LONG, "shipments with promised_date in window", NON_NEGATIVE),
    feature("otif_rate_90d", DOUBLE, "is_otif / shipments_due_90d (undelivered past promise = failure)", RATE),
    feature("on_time_rate_90d", DOUBLE, "is_on_time / shipments_due_90d", RATE),
    feature("unit_fill_rate_90d", DOUBLE, "sum min(delivered_qty_D, quantity) / sum quantity, shipments due in window",
            RATE),
    feature("exception_rate_90d", DOUBLE, "has_exception / shipments_due_90d", RATE),
    feature("lead_time_mean_90d", DOUBLE, "mean lead time (days, order to full delivery), full_delivery_date in window",
            NON_NEGATIVE),
    feature("lead_time_p90_90d", DOUBLE, "0.9 quantile of those lead times (linear interpolation; histogram, within 0.5%)",
            NON_NEGATIVE),
    feature("lead_time_cv_90d", DOUBLE, "stddev_samp / mean of those lead times (null with fewer than 2)",
            NON_NEGATIVE),
    feature("avg_days_late_90d", DOUBLE, "mean full_delivery_date - promised_date over shipments due in window delivered late",
            NON_NEGATIVE),
    feature("active_buyers_90d", LONG, "distinct buyers of non-cancelled orders in window", NON_NEGATIVE),
    feature("buyer_hhi_90d", DOUBLE, "sum over buyers of (buyer's share of gmv_usd_90d) squared", RATE),
])
DESCRIPTION = "Supplier supply-chain scorecard, daily point-in-time snapshot per supplier (features.md)."
KEY = ("supplier_id", "as_of_date")


def build(t: DataFrame, totals: Totals) -> DataFrame:
    """The scorecard rows. t: the suppliers' entity-level totals (common.entity_totals); totals: the
    running totals with sub-entities (ledger.series / ledger.advance)."""
    t = t.where(F.col("orders_365d") > 0)
    n, s, sq = (F.col(x).cast("double") for x in ("lead_times_90d", "lead_time_sum_90d", "lead_time_sq_90d"))
    mean_s = s / n
    var_s = F.greatest((sq - s * s / n) / (n - 1), F.lit(0.0))
    p90 = histogram_quantiles(sub_totals(totals, _by_name["lead_time_bin_90d"]), {"lead_time_p90_90d": 0.9},
                              scale=86400.0)
    buyers = sums_by_date(totals, _by_name["buyer_orders_90d"].family, "entity_id", {
        "active_buyers_90d": F.when(F.col("buyer_orders_90d") > 0, 1).otherwise(0),
        "_gmv_sq": F.col("buyer_gmv_usd_90d") * F.col("buyer_gmv_usd_90d"),
        "_gmv": F.col("buyer_gmv_usd_90d"),
    })
    out = (
        t.join(p90, ["entity_id", "as_of_date"], "left")
        .join(buyers, ["entity_id", "as_of_date"], "left")
        .select(
            F.col("entity_id").alias("supplier_id"),
            "as_of_date",
            # orders_90d | transactions ordered in window, any status
            F.col("orders_90d"),
            # gmv_usd_90d | sum amount_usd of those not CANCELLED
            F.col("gmv_usd_90d").cast("double").alias("gmv_usd_90d"),
            # cancel_rate_90d | CANCELLED / orders_90d
            ratio(F.col("cancelled_90d"), F.col("orders_90d")).alias("cancel_rate_90d"),
            # return_rate_90d | RETURNED / (FULFILLED + RETURNED), orders in window
            ratio(F.col("returned_90d"), F.col("fulfilled_90d") + F.col("returned_90d")).alias("return_rate_90d"),
            # shipments_due_90d | shipments with promised_date in window
            F.col("shipments_due_90d"),
            # otif_rate_90d | is_otif / shipments_due_90d
            ratio(F.col("otif_90d"), F.col("shipments_due_90d")).alias("otif_rate_90d"),
            # on_time_rate_90d | is_on_time / shipments_due_90d
            ratio(F.col("on_time_90d"), F.col("shipments_due_90d")).alias("on_time_rate_90d"),
            # unit_fill_rate_90d | sum min(delivered_qty_D, quantity) / sum quantity, shipments due in window
            ratio(F.col("units_delivered_90d"), F.col("units_ordered_90d")).alias("unit_fill_rate_90d"),
            # exception_rate_90d | has_exception / shipments_due_90d
            ratio(F.col("exceptions_90d"), F.col("shipments_due_90d")).alias("exception_rate_90d"),
            # lead_time_mean_90d, _p90_90d, _cv_90d | over shipments with full_delivery_date in window:
            # mean, 0.9 quantile (linear interpolation), stddev_samp / mean (null with fewer than 2)
            F.when(n > 0, mean_s / 86400).alias("lead_time_mean_90d"),
            F.col("lead_time_p90_90d"),
            F.when((n >= 2) & (mean_s != 0), F.sqrt(var_s) / mean_s).alias("lead_time_cv_90d"),
            # avg_days_late_90d | mean of full_delivery_date - promised_date over shipments due in window delivered late
            ratio(F.col("late_days_90d"), F.col("late_shipments_90d")).alias("avg_days_late_90d"),
            # active_buyers_90d | distinct buyers of non-cancelled orders in window
            F.coalesce(F.col("active_buyers_90d"), F.lit(0)).cast("long").alias("active_buyers_90d"),
            # buyer_hhi_90d | sum over buyers of (buyer's share of gmv_usd_90d) squared
            # (a sum of squares never exceeds the square of the sum; the rounding of the decimal squares
            # could, by ~1e-16, which would break the declared range [0, 1])
            at_most_one(ratio(F.col("_gmv_sq"), F.pow(F.col("_gmv").cast("double"), 2))).alias("buyer_hhi_90d"),
        )
    )
    return out
