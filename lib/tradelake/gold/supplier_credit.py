"""gold.supplier_credit_features - key (supplier_id, as_of_date): the supplier as a borrower in
supply-chain finance. Same rows as the scorecard (features.md)."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold import facts
from tradelake.gold.common import (
    DATE,
    DOUBLE,
    GROWTH,
    INT,
    LONG,
    NON_NEGATIVE,
    RATE,
    STR,
    at_most_one,
    exact,
    feature,
    ratio,
)
from tradelake.gold.ledger import Component, SubKey, Totals, window

ORDERS = dict(fact="invoice", entity="supplier_id", on="order_date")
DUE = dict(fact="invoice", entity="supplier_id", on="due_date")
invoice_amount = lambda: F.when(F.col("is_invoice"), F.col("amount_usd"))  # noqa: E731
unpaid = lambda: F.when(F.col("is_invoice"), F.greatest(F.col("amount_usd") - F.col("paid_usd"), F.lit(0)))  # noqa: E731
settled_dpd = lambda: F.greatest(F.datediff("settled_date", "due_date"), F.lit(0))  # noqa: E731


def dpd_key() -> Column:
    """Sub-entity for days-past-due maxima: an invoice settled with dpd v is 'S<v>' (fixed); one not
    settled is 'U<due_date>' (its dpd on D is D - due_date)."""
    return F.when(F.col("is_invoice"), F.when(
        F.col("is_settled"), F.concat(F.lit("S"), settled_dpd().cast("string"))
    ).otherwise(F.concat(F.lit("U"), F.col("due_date").cast("string"))))


DPD = SubKey("dpd", dpd_key)
BUYER = SubKey("buyer", lambda: F.col("buyer_id"))
BUCKETS = 6  # sales_cv_6m: six 30-day buckets

C = [
    Component("net_sales_usd_30d", **ORDERS, **window(30), kind="money", value=invoice_amount,
              doc="invoice amounts ordered in (D-30, D]; also the sales_cv_6m bucket k=0"),
    Component("net_sales_usd_90d", **ORDERS, **window(90), kind="money", value=invoice_amount),
    Component("net_sales_usd_180d", **ORDERS, **window(180), kind="money", value=invoice_amount),
    Component("net_sales_usd_365d", **ORDERS, **window(365), kind="money", value=invoice_amount),
    Component("net_sales_usd_prev_90d", **ORDERS, start=90, end=180, kind="money", value=invoice_amount,
              doc="invoice amounts ordered in (D-180, D-90]"),
    *[
        Component(f"sales_bucket_{k}", **ORDERS, start=30 * k, end=30 * (k + 1), kind="money", value=invoice_amount,
                  doc=f"invoice amounts ordered in (D-{30 * (k + 1)}, D-{30 * k}]")
        for k in range(1, BUCKETS)
    ],
    Component("invoices_90d", **ORDERS, **window(90), value=lambda: F.col("is_invoice")),
    Component("weekend_orders_90d", **ORDERS, **window(90), value=lambda: F.col("is_weekend"),
              doc="orders of any status placed on Saturday or Sunday (UTC)"),
    Component("open_receivables_usd", **ORDERS, start=0, end=None, kind="money", value=unpaid,
              doc="max(amount_usd - paid_usd_D, 0) over invoices ordered <= D"),
    Component("overdue_receivables_usd", **DUE, start=1, end=None, kind="money", value=unpaid,
              doc="the same over invoices with due_date < D"),
    Component("due_amount_365d", **DUE, **window(365), kind="money", value=invoice_amount),
    Component("bad_debt_settled_365d", **DUE, **window(365), kind="money",
              value=lambda: F.when(F.col("is_settled") & (settled_dpd() >= 90), invoice_amount()),
              doc="invoices due in window settled with dpd >= 90"),
    Component("bad_debt_unsettled_365d", **DUE, start=90, end=365, kind="money",
              value=lambda: F.when(~F.col("is_settled"), invoice_amount()),
              doc="invoices not settled: dpd_D = D - due_date >= 90 from due_date + 90 on"),
    Component("invoices_due_180d", **DUE, **window(180), value=lambda: F.col("is_invoice")),
    Component("paid_on_time_180d", **DUE, **window(180),
              value=lambda: F.col("is_invoice") & F.coalesce(F.col("settled_date") <= F.col("due_date"), F.lit(False))),
    Component("invoices_by_dpd_365d", **DUE, **window(365), sub=DPD, value=lambda: F.lit(1),
              doc="invoices due in window per dpd sub-entity (dpd_max_365d)"),
    Component("buyer_net_sales_usd_180d", **ORDERS, **window(180), sub=BUYER, kind="money", value=invoice_amount,
              doc="invoice amounts per buyer ordered in (D-180, D]"),
    Component("buyer_invoices_180d", **ORDERS, **window(180), sub=BUYER, value=lambda: F.col("is_invoice"),
              doc="invoices per (supplier, buyer) ordered in (D-180, D]: the buyer's supplier_count_180d"),
]
COMPONENTS = C
_by_name = {c.name: c for c in C}

SCHEMA = T.StructType([
    feature("supplier_id", STR, "supplier"),
    feature("as_of_date", DATE, "snapshot date D: only what was known at the end of D"),
    feature("net_sales_usd_30d", DOUBLE, "sum amount_usd of invoices (PLACED, FULFILLED) ordered in (D-30, D]",
            NON_NEGATIVE),
    feature("net_sales_usd_90d", DOUBLE, "the same over (D-90, D]", NON_NEGATIVE),
    feature("net_sales_usd_180d", DOUBLE, "the same over (D-180, D]", NON_NEGATIVE),
    feature("net_sales_usd_365d", DOUBLE, "the same over (D-365, D]", NON_NEGATIVE),
    feature("sales_growth_90d", DOUBLE, "net sales (D-90, D] / net sales (D-180, D-90] - 1", GROWTH),
    feature("sales_cv_6m", DOUBLE, "stddev_pop / mean of six 30-day net-sales buckets, zeros included", NON_NEGATIVE),
    feature("txn_count_90d", LONG, "invoices ordered in (D-90, D]", NON_NEGATIVE),
    feature("avg_ticket_usd_90d", DOUBLE, "net_sales_usd_90d / txn_count_90d", NON_NEGATIVE),
    feature("weekend_order_share_90d", DOUBLE, "orders (any status) placed on Saturday or Sunday (UTC) / orders_90d",
            RATE),
    feature("tenure_days", INT, "D - onboarded_date, supplier version current at D", NON_NEGATIVE),
    feature("tier", STR, "supplier version current at D"),
    feature("country", STR, "supplier version current at D"),
    feature("industry", STR, "supplier version current at D"),
    feature("credit_limit_usd", DOUBLE, "credit limit of the version current at D, at D's FX rate", NON_NEGATIVE),
    feature("top_buyer_share_180d", DOUBLE, "largest buyer's share of net sales ordered in (D-180, D]", RATE),
    feature("buyer_hhi_180d", DOUBLE, "sum of buyers' squared shares of net sales ordered in (D-180, D]", RATE),
    feature("open_receivables_usd", DOUBLE, "sum max(amount_usd - paid_usd_D, 0) over invoices ordered <= D",
            NON_NEGATIVE),
    feature("overdue_receivables_usd", DOUBLE, "the same, invoices with due_date < D", NON_NEGATIVE),
    feature("overdue_share", DOUBLE, "overdue / open", RATE),
    feature("dso_90d", DOUBLE, "open / net_sales_usd_90d x 90", NON_NEGATIVE),
    feature("bpdso_90d", DOUBLE, "(open - overdue) / net_sales_usd_90d x 90", NON_NEGATIVE),
    feature("add_90d", DOUBLE, "dso - bpdso", NON_NEGATIVE),
    feature("dpd_max_365d", INT, "max dpd_D over invoices due in (D-365, D] (null if none)", NON_NEGATIVE),
    feature("bad_debt_rate_365d", DOUBLE, "amount_usd of invoices due in (D-365, D] with dpd_D >= 90 / amount_usd of all invoices due then",
            RATE),
    feature("on_time_payment_rate_180d", DOUBLE, "invoices due in (D-180, D] settled on or before due_date / invoices due then",
            RATE),
    feature("otif_rate_90d", DOUBLE, "from the scorecard", RATE),
    feature("return_rate_90d", DOUBLE, "from the scorecard", RATE),
])
DESCRIPTION = "Supplier credit-risk features for supply-chain finance, daily point-in-time snapshot (features.md)."
KEY = ("supplier_id", "as_of_date")


def supplier_attributes(suppliers: DataFrame, fx_rates: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """(supplier_id, as_of_date, tier, country, industry, onboarded_date, credit_limit_usd) for every
    date in first..last: the supplier version current at D, its limit at D's FX rate."""
    states = facts.supplier_states(suppliers)
    holding = states.where((F.col("known_from") <= F.lit(last))
                           & (F.col("known_to").isNull() | (F.col("known_to") > F.lit(first))))
    dated = holding.select(
        "*",
        F.explode(F.sequence(
            F.greatest("known_from", F.lit(first)),
            F.least(F.coalesce(F.date_sub("known_to", 1), F.lit(last)), F.lit(last)),
        )).alias("as_of_date"),
    )
    dates = dated.select("as_of_date").distinct()
    rates = facts.fx_rates_on(fx_rates, dates).withColumnRenamed("currency", "credit_limit_currency")
    return dated.join(rates, ["credit_limit_currency", "as_of_date"], "left").select(
        "supplier_id", "as_of_date", "tier", "country", "industry", "onboarded_date",
        (F.col("credit_limit") * F.col("usd_per_unit")).alias("credit_limit_usd"),
    )


def dpd_max(totals: Totals, component: Component) -> DataFrame:
    """(entity_id, as_of_date, dpd_max_365d) from the dpd sub-entities: settled 'S<v>' give v, unsettled
    'U<due_date>' give D - due_date."""
    rows = totals.of(component.family).where(F.col(component.name) > 0)
    dpd = F.when(F.col("sub_key").startswith("S"), F.substring("sub_key", 2, 10).cast("int")).otherwise(
        F.datediff("as_of_date", F.substring("sub_key", 2, 10).cast("date"))
    )
    return rows.groupBy("entity_id", "as_of_date").agg(F.max(dpd).alias("dpd_max_365d"))


def build(t: DataFrame, totals: Totals, attributes: DataFrame, scorecard: DataFrame) -> DataFrame:
    """t: the suppliers' entity-level totals (common.entity_totals over every component); totals: the
    running totals with sub-entities; attributes: supplier_attributes; scorecard: supplier_scorecard.build."""
    rows = scorecard.select(F.col("supplier_id").alias("entity_id"), "as_of_date", "otif_rate_90d", "return_rate_90d")
    buckets = [F.col("net_sales_usd_30d").cast("double")] + [
        F.col(f"sales_bucket_{k}").cast("double") for k in range(1, BUCKETS)
    ]
    mean = sum(buckets) / BUCKETS
    sd_pop = F.sqrt(sum((b - mean) * (b - mean) for b in buckets) / BUCKETS)
    buyers = (
        totals.of(_by_name["buyer_net_sales_usd_180d"].family)
        .groupBy("entity_id", "as_of_date")
        .agg(
            F.max("buyer_net_sales_usd_180d").alias("_top"),
            F.sum(F.col("buyer_net_sales_usd_180d") * F.col("buyer_net_sales_usd_180d")).alias("_sq"),
            F.sum("buyer_net_sales_usd_180d").alias("_net"),
        )
    )
    attrs = attributes.withColumnRenamed("supplier_id", "entity_id")
    open_, overdue, ns90 = (F.col(c).cast("double") for c in
                            ("open_receivables_usd", "overdue_receivables_usd", "net_sales_usd_90d"))
    not_overdue = exact(F.col("open_receivables_usd")) - exact(F.col("overdue_receivables_usd"))
    return (
        rows.join(t, ["entity_id", "as_of_date"], "left")
        .join(buyers, ["entity_id", "as_of_date"], "left")
        .join(dpd_max(totals, _by_name["invoices_by_dpd_365d"]), ["entity_id", "as_of_date"], "left")
        .join(attrs, ["entity_id", "as_of_date"], "left")
        .select(
            F.col("entity_id").alias("supplier_id"),
            "as_of_date",
            # net_sales_usd_30d / _90d / _180d / _365d | sum amount_usd of invoices ordered in window
            *[F.col(f"net_sales_usd_{w}d").cast("double").alias(f"net_sales_usd_{w}d") for w in (30, 90, 180, 365)],
            # sales_growth_90d | net sales (D-90, D] / net sales (D-180, D-90] - 1
            # (written as the difference over the earlier window: the same value, without cancellation)
            ratio(exact(F.col("net_sales_usd_90d")) - exact(F.col("net_sales_usd_prev_90d")),
                  F.col("net_sales_usd_prev_90d")).alias("sales_growth_90d"),
            # sales_cv_6m | six 30-day buckets (D-30(k+1), D-30k], k = 0..5, zeros included: stddev_pop / mean
            F.when(mean != 0, sd_pop / mean).alias("sales_cv_6m"),
            # txn_count_90d, avg_ticket_usd_90d | invoices ordered in window; net_sales_usd_90d / txn_count_90d
            F.col("invoices_90d").alias("txn_count_90d"),
            ratio(F.col("net_sales_usd_90d"), F.col("invoices_90d")).alias("avg_ticket_usd_90d"),
            # weekend_order_share_90d | orders (any status) placed on Saturday or Sunday (UTC) / orders_90d
            ratio(F.col("weekend_orders_90d"), F.col("orders_90d")).alias("weekend_order_share_90d"),
            # tenure_days | D - onboarded_date, from the supplier version current at D
            F.datediff("as_of_date", "onboarded_date").alias("tenure_days"),
            # tier, country, industry, credit_limit_usd | supplier version current at D; limit at D's FX rate
            "tier", "country", "industry",
            F.col("credit_limit_usd").cast("double").alias("credit_limit_usd"),
            # top_buyer_share_180d, buyer_hhi_180d | over net sales ordered in (D-180, D]
            ratio(F.col("_top"), F.col("_net")).alias("top_buyer_share_180d"),
            # at most 1 (see buyer_hhi_90d in supplier_scorecard.py)
            at_most_one(ratio(F.col("_sq"), F.pow(F.col("_net").cast("double"), 2))).alias("buyer_hhi_180d"),
            # open_receivables_usd | sum max(amount_usd - paid_usd_D, 0) over invoices ordered <= D
            open_.alias("open_receivables_usd"),
            # overdue_receivables_usd | same, invoices with due_date < D
            overdue.alias("overdue_receivables_usd"),
            # overdue_share | overdue / open
            ratio(overdue, open_).alias("overdue_share"),
            # dso_90d, bpdso_90d, add_90d | open / net_sales_usd_90d x 90; (open - overdue) / net_sales_usd_90d x 90; dso - bpdso
            (ratio(open_, ns90) * 90).alias("dso_90d"),
            (ratio(not_overdue, ns90) * 90).alias("bpdso_90d"),
            (ratio(overdue, ns90) * 90).alias("add_90d"),  # dso - bpdso, without cancellation
            # dpd_max_365d | max dpd_D over invoices due in (D-365, D] (null if none)
            F.col("dpd_max_365d").cast("int"),
            # bad_debt_rate_365d | amount_usd of invoices due in (D-365, D] with dpd_D >= 90 / amount_usd of all invoices due then
            ratio(exact(F.col("bad_debt_settled_365d")) + exact(F.col("bad_debt_unsettled_365d")), F.col("due_amount_365d"))
            .alias("bad_debt_rate_365d"),
            # on_time_payment_rate_180d | invoices due in (D-180, D] settled on or before due_date / invoices due then
            ratio(F.col("paid_on_time_180d"), F.col("invoices_due_180d")).alias("on_time_payment_rate_180d"),
            # otif_rate_90d, return_rate_90d | from the scorecard
            "otif_rate_90d", "return_rate_90d",
        )
    )
