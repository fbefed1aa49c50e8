"""Facts as they were known: every state of every invoice, shipment and supplier.

A silver row is visible from its *visibility date* `greatest(_known_date, event date)` on
(docs/gold_features.md). As rows become visible, a fact (an invoice, a shipment) changes state; each
state holds from the day it became known (`known_from`) until the next one (`known_to`, null for the
newest). Everything gold computes is a function of these states, so a snapshot for D, which reads the
state holding at D, never sees anything that was not known at the end of D.

States are built with running aggregates over a fact's rows in visibility order: the newest version
(`max_by` on `updated_at`), the payments or deliveries seen so far (`collect_list`), minima and flags.
Everything a feature needs from a state (status, settlement, full delivery, lead time) is then derived
from those with column expressions, here, once.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

INVOICE_STATUSES = ("PLACED", "FULFILLED")
LANE_SEP = "\u001f"  # joins a lane's four parts into one key (no carrier name holds it)
SECONDS_PER_DAY = 86400


def with_visibility(df: DataFrame, event_date: Column) -> DataFrame:
    """`_visible_from`: the first day a snapshot may use the row."""
    return df.withColumn("_visible_from", F.greatest(F.col("_known_date"), event_date))


def _running(partition: str) -> Window:
    # RANGE: rows that become visible on the same day are one step.
    return Window.partitionBy(partition).orderBy("_visible_from").rangeBetween(Window.unboundedPreceding, Window.currentRow)


def _versions(df: DataFrame, key: str, attributes: list[str]) -> DataFrame:
    """Version rows for the running `max_by`: the attributes, and the order that picks the newest
    (updated_at, then _record_hash, as tradelake.silver.versions.as_of)."""
    return df.select(
        key,
        "_visible_from",
        F.struct(*attributes).alias("version"),
        F.struct("updated_at", "_record_hash").alias("version_order"),
    )


def _close_states(states: DataFrame, key: str, signature: list[str]) -> DataFrame:
    """Drop a state that changes none of `signature` (it would change no feature), then give each
    state its `known_to`: the next state's `known_from`."""
    by_time = Window.partitionBy(key).orderBy("known_from")
    sig = F.xxhash64(*[F.col(c) for c in signature])
    return (
        states.withColumn("_sig", sig)
        .withColumn("_prev_sig", F.lag("_sig").over(by_time))
        .where(F.col("_prev_sig").isNull() | (F.col("_prev_sig") != F.col("_sig")))
        .drop("_sig", "_prev_sig")
        .withColumn("known_to", F.lead("known_from").over(by_time))
    )


# -------------------------------------------------------------------------------------------------
# Invoices (every transaction, whatever its status)
# -------------------------------------------------------------------------------------------------
TXN_ATTRIBUTES = ["supplier_id", "buyer_id", "order_ts", "status", "amount", "currency", "fx_rate_usd",
                  "amount_usd", "due_date"]

INVOICE_SIGNATURE = ["supplier_id", "buyer_id", "order_ts", "status", "amount_usd", "due_date", "paid_usd",
                     "settled_date"]


def invoice_states(transactions: DataFrame, payments: DataFrame) -> DataFrame:
    """One row per (txn_id, known_from): the transaction and its payments as known from that day.

    transactions, payments: silver rows (already limited to what the caller wants to know)."""
    versions = _versions(
        with_visibility(transactions, F.to_date("updated_at")), "txn_id", TXN_ATTRIBUTES
    ).withColumn("payment", F.lit(None).cast(_PAYMENT_TYPE))
    pays = with_visibility(payments, F.to_date("paid_ts")).select(
        "txn_id",
        "_visible_from",
        F.lit(None).cast(versions.schema["version"].dataType).alias("version"),
        F.lit(None).cast(versions.schema["version_order"].dataType).alias("version_order"),
        F.struct(
            F.to_date("paid_ts").alias("paid_date"),
            "type",
            "amount",
            "currency",
            "amount_usd",
        ).cast(_PAYMENT_TYPE).alias("payment"),
    )
    w = _running("txn_id")
    states = (
        versions.unionByName(pays)
        .select(
            "txn_id",
            F.col("_visible_from").alias("known_from"),
            F.max_by("version", "version_order").over(w).alias("v"),
            F.collect_list("payment").over(w).alias("payments"),
        )
        .dropDuplicates(["txn_id", "known_from"])
        .where(F.col("v").isNotNull())  # a payment seen before its transaction is not a state yet
        .select("txn_id", "known_from", "v.*", "payments")
    )
    return _close_states(states.transform(with_invoice_attributes), "txn_id", INVOICE_SIGNATURE)


_PAYMENT_TYPE = "struct<paid_date:date,type:string,amount:decimal(18,2),currency:string,amount_usd:decimal(38,8)>"


def with_invoice_attributes(df: DataFrame) -> DataFrame:
    """order_date, weekend, is_invoice, paid (invoice currency), paid_usd, settled_date, is_settled."""
    # A payment in another currency than the invoice's counts at its USD value in the invoice's currency.
    in_invoice_ccy = F.transform(
        "payments",
        lambda p: F.struct(
            p["paid_date"].alias("d"),
            (F.when(p["type"] == "REFUND", -1).otherwise(1)
             * F.when(p["currency"] == F.col("currency"), p["amount"])
             .otherwise(F.round(p["amount_usd"] / F.col("fx_rate_usd"), 2))).cast("decimal(18,2)").alias("amt"),
        ),
    )
    by_date = F.array_sort(in_invoice_ccy)  # structs sort by their first field, the paid date
    zero = F.lit(0).cast("decimal(18,2)")

    def paid_through(i: Column) -> Column:
        return F.aggregate(F.slice(by_date, 1, i + 1), zero, lambda acc, p: (acc + p["amt"]).cast("decimal(18,2)"))

    # Cumulative paid at the end of each paid date: the last payment of each date carries it.
    end_of_day = F.filter(
        F.transform(by_date, lambda p, i: F.struct(p["d"].alias("d"), paid_through(i).alias("cum"),
                                                  (i + 1).alias("i"))),
        lambda s: (s["i"] == F.size(by_date)) | (s["d"] != F.try_element_at(by_date, s["i"] + 1)["d"]),
    )
    threshold = F.col("amount") - F.expr("CAST(0.01 AS DECIMAL(3,2))")
    settled = F.when(threshold <= 0, F.to_date("order_ts")).otherwise(
        F.array_min(F.transform(F.filter(end_of_day, lambda s: s["cum"] >= threshold), lambda s: s["d"]))
    )
    paid = F.aggregate(in_invoice_ccy, zero, lambda acc, p: (acc + p["amt"]).cast("decimal(18,2)"))
    return (
        # USD amounts with room to subtract exactly (decimal(38,8) - decimal(38,8) would drop a decimal).
        df.withColumn("amount_usd", F.col("amount_usd").cast("decimal(30,8)"))
        .withColumn("order_date", F.to_date("order_ts"))
        .withColumn("is_weekend", F.dayofweek("order_ts").isin(1, 7))
        .withColumn("is_invoice", F.col("status").isin(*INVOICE_STATUSES))
        .withColumn("paid", paid)
        .withColumn("paid_usd", (F.col("paid") * F.col("fx_rate_usd")).cast("decimal(30,8)"))
        .withColumn("settled_date", settled)
        .withColumn("is_settled", F.col("settled_date").isNotNull())
        # buyer_default_labels: an invoice not settled by due_date + 90 is in default from that day
        .withColumn("default_day", F.date_add("due_date", 90))
        .withColumn("is_defaulted", F.col("is_invoice") & (
            F.col("settled_date").isNull() | (F.col("settled_date") > F.col("default_day"))))
        .drop("payments")
    )


# -------------------------------------------------------------------------------------------------
# Shipments
# -------------------------------------------------------------------------------------------------
SHIPMENT_ATTRIBUTES = ["txn_id", "supplier_id", "carrier", "mode", "origin_country", "destination_country",
                       "quantity", "promised_date"]

SHIPMENT_SIGNATURE = ["counted", "supplier_id", "carrier", "mode", "origin_country", "destination_country",
                      "quantity", "promised_date", "delivered_qty", "first_delivery_date", "full_delivery_ts",
                      "pickup_ts", "has_exception", "order_ts"]

_DELIVERY_TYPE = "struct<ts:timestamp,event_id:string,qty:int>"


def shipment_states(shipments: DataFrame, events: DataFrame, invoices: DataFrame) -> DataFrame:
    """One row per (shipment_id, known_from): the shipment, its tracking events and its transaction's
    status as known from that day. `counted` is false while the transaction is unknown or CANCELLED:
    such a state contributes nothing.

    shipments, events: silver rows; invoices: invoice_states of (at least) these shipments' transactions."""
    versions = _versions(with_visibility(shipments, F.to_date("updated_at")), "shipment_id", SHIPMENT_ATTRIBUTES)
    version_type = versions.schema["version"].dataType
    order_type = versions.schema["version_order"].dataType
    nothing = [F.lit(None).cast(version_type).alias("version"), F.lit(None).cast(order_type).alias("version_order")]
    no_event = [F.lit(None).cast(_DELIVERY_TYPE).alias("delivery"), F.lit(None).cast("timestamp").alias("pickup_ts"),
                F.lit(None).cast("boolean").alias("exception")]
    evts = with_visibility(events, F.to_date("event_ts")).select(
        "shipment_id",
        "_visible_from",
        *nothing,
        F.when(F.col("event_type") == "DELIVERED",
               F.struct(F.col("event_ts").alias("ts"), "event_id", F.col("quantity_delivered").alias("qty")))
        .cast(_DELIVERY_TYPE).alias("delivery"),
        F.when(F.col("event_type") == "PICKED_UP", F.col("event_ts")).alias("pickup_ts"),
        (F.col("event_type") == "EXCEPTION").alias("exception"),
    )
    # The transaction's state changes are steps of the shipment too (a cancellation removes it).
    txn_of = versions.select("shipment_id", F.col("version.txn_id").alias("txn_id")).distinct()
    txn_steps = invoices.select("txn_id", F.col("known_from").alias("_visible_from")).join(txn_of, "txn_id").select(
        "shipment_id", "_visible_from", *nothing, *no_event
    )
    rows = versions.select("*", *no_event).unionByName(evts).unionByName(txn_steps)
    w = _running("shipment_id")
    states = (
        rows.select(
            "shipment_id",
            F.col("_visible_from").alias("known_from"),
            F.max_by("version", "version_order").over(w).alias("v"),
            F.collect_list("delivery").over(w).alias("deliveries"),
            F.min("pickup_ts").over(w).alias("pickup_ts"),
            F.coalesce(F.max("exception").over(w), F.lit(False)).alias("has_exception"),
        )
        .dropDuplicates(["shipment_id", "known_from"])
        .where(F.col("v").isNotNull())
        .select("shipment_id", "known_from", "v.*", "deliveries", "pickup_ts", "has_exception")
    )
    txn = invoices.select(
        F.col("txn_id").alias("_t"), F.col("known_from").alias("_t_from"), F.col("known_to").alias("_t_to"),
        F.col("status").alias("txn_status"), "order_ts",
    )
    states = states.join(
        txn,
        (states["txn_id"] == txn["_t"]) & (txn["_t_from"] <= states["known_from"])
        & (txn["_t_to"].isNull() | (states["known_from"] < txn["_t_to"])),
        "left",
    ).drop("_t", "_t_from", "_t_to")
    return _close_states(states.transform(with_shipment_attributes), "shipment_id", SHIPMENT_SIGNATURE)


def with_shipment_attributes(df: DataFrame) -> DataFrame:
    """counted, delivered_qty, first_delivery_date, full_delivery_ts/_date, is_otif, is_on_time,
    lead_time_seconds, transit_seconds."""
    deliveries = F.array_sort(F.col("deliveries"))  # by (ts, event_id)

    def delivered_through(i: Column) -> Column:
        return F.aggregate(F.slice(deliveries, 1, i + 1), F.lit(0).cast("long"), lambda acc, d: acc + d["qty"])

    full_ts = F.try_element_at(
        F.filter(
            F.transform(deliveries, lambda d, i: F.struct(delivered_through(i).alias("cum"), d["ts"].alias("ts"))),
            lambda s: s["cum"] >= F.col("quantity"),
        ),
        F.lit(1),
    )["ts"]
    seconds = lambda end, start: (F.unix_micros(end) - F.unix_micros(start)).cast("decimal(20,0)") / 1_000_000  # noqa: E731
    return (
        df.withColumn("counted", F.col("txn_status").isNotNull() & (F.col("txn_status") != "CANCELLED"))
        .withColumn("delivered_qty", F.aggregate("deliveries", F.lit(0).cast("long"), lambda acc, d: acc + d["qty"]))
        .withColumn("first_delivery_date", F.to_date(F.array_min(F.transform("deliveries", lambda d: d["ts"]))))
        .withColumn("full_delivery_ts", full_ts)
        .withColumn("full_delivery_date", F.to_date("full_delivery_ts"))
        .withColumn("is_otif", F.coalesce(F.col("full_delivery_date") <= F.col("promised_date"), F.lit(False)))
        .withColumn("is_on_time", F.coalesce(F.col("first_delivery_date") <= F.col("promised_date"), F.lit(False)))
        .withColumn("lead_time_seconds", seconds(F.col("full_delivery_ts"), F.col("order_ts")).cast("decimal(18,6)"))
        .withColumn("transit_seconds", seconds(F.col("full_delivery_ts"), F.col("pickup_ts")).cast("decimal(18,6)"))
        # lane_performance: the lane, and the ISO week (its Monday) of the full delivery
        .withColumn("lane", F.concat_ws(LANE_SEP, "origin_country", "destination_country", "carrier", "mode"))
        .withColumn("delivery_week", F.date_trunc("week", F.col("full_delivery_date")).cast("date"))
        .drop("deliveries")
    )


# -------------------------------------------------------------------------------------------------
# Suppliers and FX rates, for the attributes read at D
# -------------------------------------------------------------------------------------------------
SUPPLIER_ATTRIBUTES = ["tier", "country", "industry", "onboarded_date", "credit_limit", "credit_limit_currency"]


def supplier_states(suppliers: DataFrame) -> DataFrame:
    """One row per (supplier_id, known_from): the supplier version current as known from that day."""
    versions = _versions(with_visibility(suppliers, F.to_date("updated_at")), "supplier_id", SUPPLIER_ATTRIBUTES)
    w = _running("supplier_id")
    states = (
        versions.select("supplier_id", F.col("_visible_from").alias("known_from"),
                        F.max_by("version", "version_order").over(w).alias("v"))
        .dropDuplicates(["supplier_id", "known_from"])
        .select("supplier_id", "known_from", "v.*")
    )
    return _close_states(states, "supplier_id", SUPPLIER_ATTRIBUTES)


FX_FALLBACK_DAYS = 7


def fx_rates_on(fx_rates: DataFrame, dates: DataFrame) -> DataFrame:
    """(currency, as_of_date) -> usd_per_unit: the rate of the date, or else the latest earlier one at
    most 7 days older, among the rates visible at that date. dates: a frame of `as_of_date`."""
    visible = with_visibility(fx_rates, F.col("rate_date"))
    usable = visible.join(
        dates,
        (F.col("as_of_date") >= F.col("_visible_from"))
        & F.col("as_of_date").between(F.col("rate_date"), F.date_add("rate_date", FX_FALLBACK_DAYS)),
    )
    return usable.groupBy("currency", "as_of_date").agg(F.max_by("usd_per_unit", "rate_date").alias("usd_per_unit"))
