"""gold.buyer_credit_features - key (buyer_id, as_of_date): the buyer as the obligor who owes the
invoices. One row per buyer with a transaction ordered in (D-365, D] (features.md)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold import supplier_credit
from tradelake.gold.common import (
    DATE,
    DOUBLE,
    GROWTH,
    INT,
    LONG,
    NON_NEGATIVE,
    RATE,
    STR,
    exact,
    feature,
    ratio,
    sums_by_date,
)
from tradelake.gold.ledger import Component, SubKey, Totals, window

ORDERS = dict(fact="invoice", entity="buyer_id", on="order_date")
DUE = dict(fact="invoice", entity="buyer_id", on="due_date")
invoice_amount = supplier_credit.invoice_amount
unpaid = supplier_credit.unpaid
unsettled = lambda: F.col("is_invoice") & ~F.col("is_settled")  # noqa: E731
settled_late = lambda: F.col("is_invoice") & F.coalesce(F.col("settled_date") > F.col("due_date"), F.lit(False))  # noqa: E731

C = [
    Component("buyer_orders_365d", **ORDERS, **window(365), value=lambda: F.lit(1),
              doc="transactions ordered in (D-365, D]: the buyer has a row when > 0"),
    Component("purchases_usd_90d", **ORDERS, **window(90), kind="money", value=invoice_amount),
    Component("purchases_usd_prev_90d", **ORDERS, start=90, end=180, kind="money", value=invoice_amount),
    Component("outstanding_usd", **ORDERS, start=0, end=None, kind="money", value=unpaid,
              doc="max(amount_usd - paid_usd_D, 0) over the buyer's invoices ordered <= D"),
    Component("overdue_usd", **DUE, start=1, end=None, kind="money", value=unpaid,
              doc="the same over invoices with due_date < D"),
    Component("buyer_invoices_due_180d", **DUE, **window(180), value=lambda: F.col("is_invoice")),
    # dpd_D > 0: settled after due_date (fixed), or not settled and D > due_date (from due_date + 1)
    Component("settled_late_180d", **DUE, **window(180), value=settled_late),
    Component("settled_late_days_180d", **DUE, **window(180),
              value=lambda: F.when(settled_late(), F.datediff("settled_date", "due_date"))),
    Component("unsettled_late_180d", **DUE, start=1, end=180, value=unsettled),
    Component("unsettled_late_due_days_180d", **DUE, start=1, end=180,
              value=lambda: F.when(unsettled(), F.unix_date("due_date")),
              doc="sum of due dates (days since 1970) of those: their dpd_D sum is n x D - this"),
    Component("paid_capped_usd_180d", **DUE, **window(180), kind="money",
              value=lambda: F.when(F.col("is_invoice"), F.least(F.col("paid_usd"), F.col("amount_usd")))),
    Component("due_amount_usd_180d", **DUE, **window(180), kind="money", value=invoice_amount),
    Component("buyer_invoices_by_dpd_365d", **DUE, **window(365), sub=supplier_credit.DPD, value=lambda: F.lit(1)),
    Component("unsettled_by_due_date", **DUE, start=1, end=None,
              sub=SubKey("due_date", lambda: F.when(unsettled(), F.col("due_date").cast("string"))),
              value=lambda: F.lit(1), doc="invoices not settled, per due date, from the day after it (dpd_now)"),
]
COMPONENTS = C
_by_name = {c.name: c for c in C}

SCHEMA = T.StructType([
    feature("buyer_id", STR, "buyer"),
    feature("as_of_date", DATE, "snapshot date D: only what was known at the end of D"),
    feature("purchases_usd_90d", DOUBLE, "sum amount_usd of the buyer's invoices ordered in (D-90, D]", NON_NEGATIVE),
    feature("purchase_growth_90d", DOUBLE, "purchases (D-90, D] / purchases (D-180, D-90] - 1", GROWTH),
    feature("supplier_count_180d", LONG, "distinct suppliers of invoices ordered in (D-180, D]", NON_NEGATIVE),
    feature("outstanding_usd", DOUBLE, "sum max(amount_usd - paid_usd_D, 0) over the buyer's invoices ordered <= D",
            NON_NEGATIVE),
    feature("overdue_usd", DOUBLE, "the same, invoices with due_date < D", NON_NEGATIVE),
    feature("invoices_due_180d", LONG, "invoices with due_date in (D-180, D]", NON_NEGATIVE),
    feature("late_payment_share_180d", DOUBLE, "of those, share with dpd_D > 0", RATE),
    feature("avg_days_late_180d", DOUBLE, "of those with dpd_D > 0, mean dpd_D", NON_NEGATIVE),
    feature("payment_ratio_180d", DOUBLE, "sum min(paid_usd_D, amount_usd) / sum amount_usd, same invoices", RATE),
    feature("dpd_now", INT, "max over invoices unsettled at D with due_date < D of D - due_date; 0 if none",
            NON_NEGATIVE),
    feature("dpd_bucket_now", STR, "CURRENT (0), 1-29, 30-59, 60-89, 90+"),
    feature("dpd_max_365d", INT, "max dpd_D over the buyer's invoices due in (D-365, D] (null if none)", NON_NEGATIVE),
])
DESCRIPTION = "Buyer credit-risk features (the obligor), daily point-in-time snapshot (features.md)."
KEY = ("buyer_id", "as_of_date")


def build(t: DataFrame, totals: Totals) -> DataFrame:
    """t: the buyers' entity-level totals (common.entity_totals); totals: running totals with sub-entities."""
    t = t.where(F.col("buyer_orders_365d") > 0)
    pairs = supplier_credit._by_name["buyer_invoices_180d"]
    suppliers = sums_by_date(totals, pairs.family, "sub_key", {
        "supplier_count_180d": F.when(F.col(pairs.name) > 0, 1).otherwise(0)})
    open_due = _by_name["unsettled_by_due_date"]
    oldest = (
        totals.of(open_due.family).where(F.col(open_due.name) > 0)
        .groupBy("entity_id", "as_of_date")
        .agg(F.datediff(F.col("as_of_date"), F.min(F.col("sub_key").cast("date"))).alias("_dpd_now"))
    )
    dpd_max = supplier_credit.dpd_max(totals, _by_name["buyer_invoices_by_dpd_365d"])
    late = F.col("settled_late_180d") + F.col("unsettled_late_180d")
    late_days = (F.col("settled_late_days_180d")
                 + F.col("unsettled_late_180d") * F.unix_date("as_of_date") - F.col("unsettled_late_due_days_180d"))
    dpd_now = F.coalesce(F.col("_dpd_now"), F.lit(0)).cast("int")
    return (
        t.join(suppliers, ["entity_id", "as_of_date"], "left")
        .join(oldest, ["entity_id", "as_of_date"], "left")
        .join(dpd_max, ["entity_id", "as_of_date"], "left")
        .select(
            F.col("entity_id").alias("buyer_id"),
            "as_of_date",
            # purchases_usd_90d, purchase_growth_90d | as net sales and sales growth, from the buyer's side
            F.col("purchases_usd_90d").cast("double").alias("purchases_usd_90d"),
            ratio(exact(F.col("purchases_usd_90d")) - exact(F.col("purchases_usd_prev_90d")),
                  F.col("purchases_usd_prev_90d")).alias("purchase_growth_90d"),
            # supplier_count_180d | distinct suppliers of invoices ordered in (D-180, D]
            F.coalesce(F.col("supplier_count_180d"), F.lit(0)).cast("long").alias("supplier_count_180d"),
            # outstanding_usd, overdue_usd | as open and overdue receivables, over the buyer's invoices
            F.col("outstanding_usd").cast("double").alias("outstanding_usd"),
            F.col("overdue_usd").cast("double").alias("overdue_usd"),
            # invoices_due_180d | invoices with due_date in (D-180, D]
            F.col("buyer_invoices_due_180d").alias("invoices_due_180d"),
            # late_payment_share_180d | of those, share with dpd_D > 0
            ratio(late, F.col("buyer_invoices_due_180d")).alias("late_payment_share_180d"),
            # avg_days_late_180d | of those with dpd_D > 0, mean dpd_D
            ratio(late_days, late).alias("avg_days_late_180d"),
            # payment_ratio_180d | sum min(paid_usd_D, amount_usd) / sum amount_usd, same invoices
            ratio(F.col("paid_capped_usd_180d"), F.col("due_amount_usd_180d")).alias("payment_ratio_180d"),
            # dpd_now | max over invoices unsettled at D with due_date < D of D - due_date; 0 if none
            dpd_now.alias("dpd_now"),
            # dpd_bucket_now | CURRENT (0), 1-29, 30-59, 60-89, 90+
            F.when(dpd_now == 0, "CURRENT").when(dpd_now < 30, "1-29").when(dpd_now < 60, "30-59")
            .when(dpd_now < 90, "60-89").otherwise("90+").alias("dpd_bucket_now"),
            # dpd_max_365d | as for suppliers, over the buyer's invoices
            F.col("dpd_max_365d").cast("int"),
        )
    )
