"""Olist marketplace data (Brazil, 2016-2018) mapped into the landing contract (shared/spec/sources.md).

    tradelake adapt olist --source ../shared/data/olist_sample --landing <dir>

docs/olist_mapping.md explains every choice and what the source lacks; in short:
  suppliers        one record per seller, arriving the day of its first sale (onboarded that day);
                   legal name from its city and state, country BR; no tier, credit limit or contacts
  transactions     one per order and seller: the seller's part of the order, invoiced as one line
                   (quantity 1; amount = unit price = the seller's items' prices plus their freight, BRL)
                   to the customer (customer_unique_id). txn_id = <order_id>-<k>, k numbering the order's
                   sellers by their first item. A PLACED version at purchase; FULFILLED at customer
                   delivery, or CANCELLED (canceled, unavailable) the day after purchase. Category: that
                   of the seller's first item that has one. Paid up front: terms 0, due on the order date.
  payments         Olist payments are per order: each is split over the order's transactions in
                   proportion to their amounts (cents rounded cumulatively, so the parts add up to the
                   payment); payment_id = <order_id>-<payment_sequential>-<k>. Paid at order_approved_at
                   (the payment approval time). credit_card and debit_card -> CARD, boleto ->
                   BANK_TRANSFER, voucher -> WALLET. A payment of an order without items goes to
                   <order_id>-1, which never exists.
  shipments        one per transaction handed to the carrier (order_delivered_carrier_date); quantity =
                   the seller's items; promised = order_estimated_delivery_date; created at approval
  shipment_events  PICKED_UP at carrier hand-over, DELIVERED (all the items) at customer delivery
  fx_rates         Olist has no FX: a synthetic, documented BRL series (a smooth path from 0.31 to 0.26
                   USD over 2016-2018, weekdays only) so that BRL amounts convert.
Timestamps are Brazil local time, taken as UTC-03:00. Every record arrives on the UTC date of its event.

Real quirks are left for the pipeline to catch, not fixed here: products without a category
(MISSING_REQUIRED), payments of orders without items (ORPHAN, never resolved), zero-value vouchers
(OUT_OF_DOMAIN), payments never approved (MISSING_REQUIRED), unknown payment types (OUT_OF_DOMAIN).
"""
from __future__ import annotations

import datetime as dt
import json
from functools import reduce
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from tradelake import fs
from tradelake.contracts import SOURCE_ORDER, SOURCES
from tradelake.generate.landing import to_lines, write_source

OFFSET = "-03:00"
CARRIER = "Olist logistics"
FILES = ["olist_orders_dataset.csv", "olist_order_items_dataset.csv", "olist_order_payments_dataset.csv",
         "olist_products_dataset.csv", "olist_sellers_dataset.csv", "olist_customers_dataset.csv",
         "product_category_name_translation.csv"]


def _read(spark: SparkSession, folder: str, name: str) -> DataFrame:
    # Review comments span lines in this dataset; multiLine reads quoted newlines correctly everywhere.
    return spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(f"{folder}/{name}")


def _local(ts: Column) -> Column:
    """Olist's 'yyyy-MM-dd HH:mm:ss' local time as ISO-8601 with its offset."""
    return F.when(ts.isNotNull() & (ts != ""), F.concat(F.regexp_replace(ts, " ", "T"), F.lit(OFFSET)))


def _utc_date(ts: Column) -> Column:
    return F.to_date(F.to_timestamp(F.concat(F.regexp_replace(ts, " ", "T"), F.lit(OFFSET))))


def _meta(ingest: Column, rid: Column, event_ts: Column) -> list[Column]:
    return [ingest.alias("_ingest_date"), rid.alias("_rid"), F.lit(None).cast("string").alias("_expect"),
            F.to_timestamp(event_ts).alias("_event_ts")]


def olist_records(spark: SparkSession, folder: str) -> dict[str, DataFrame]:
    missing = [f for f in FILES if not (Path(folder) / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing Olist files {missing}")
    orders = _read(spark, folder, "olist_orders_dataset.csv")
    items = _read(spark, folder, "olist_order_items_dataset.csv")
    payments = _read(spark, folder, "olist_order_payments_dataset.csv")
    products = _read(spark, folder, "olist_products_dataset.csv")
    sellers = _read(spark, folder, "olist_sellers_dataset.csv")
    customers = _read(spark, folder, "olist_customers_dataset.csv")
    names = _read(spark, folder, "product_category_name_translation.csv")

    category = products.join(names, "product_category_name", "left").select(
        "product_id", F.coalesce("product_category_name_english", "product_category_name").alias("category"))
    money = lambda c: F.col(c).cast("decimal(18,2)")  # noqa: E731
    item_no = F.col("order_item_id").cast("int")
    # One transaction per order and seller; k numbers the order's sellers by their first item.
    per_seller = (
        items.join(category, "product_id", "left")
        .groupBy("order_id", "seller_id")
        .agg(
            F.min(item_no).alias("first_item"),
            F.count("*").alias("items"),
            F.sum(money("price") + money("freight_value")).cast("decimal(18,2)").alias("amount"),
            F.get(F.sort_array(F.collect_list(F.when(F.col("category").isNotNull(),
                                                     F.struct(item_no.alias("n"), "category")))), 0)
            .getField("category").alias("category"),
        )
        .withColumn("k", F.row_number().over(Window.partitionBy("order_id").orderBy("first_item")))
    )
    lines = (
        per_seller.join(orders, "order_id")
        .join(customers.select("customer_id", "customer_unique_id"), "customer_id", "left")
        .withColumn("txn_id", F.concat_ws("-", "order_id", "k"))
        .withColumn("order_date", _utc_date(F.col("order_purchase_timestamp")))
    )

    first_sale = lines.groupBy("seller_id").agg(F.min("order_purchase_timestamp").alias("first_ts"))
    suppliers = sellers.join(first_sale, "seller_id").select(
        F.col("seller_id").alias("supplier_id"),
        F.concat(F.lit("Olist seller, "), F.initcap("seller_city"), F.lit(" ("), F.col("seller_state"), F.lit(")")).alias("legal_name"),
        F.lit("BR").alias("country"),
        F.lit("Marketplace retail").alias("industry"),
        F.lit(None).cast("string").alias("tier"),
        _utc_date(F.col("first_ts")).cast("string").alias("onboarded_date"),
        *[F.lit(None).cast("string").alias(c) for c in ("credit_limit", "credit_limit_currency", "contact_email", "contact_phone")],
        _local(F.col("first_ts")).alias("updated_at"),
        *_meta(_utc_date(F.col("first_ts")), F.col("seller_id"), F.regexp_replace("first_ts", " ", "T")),
    )

    cancelled = F.col("order_status").isin("canceled", "unavailable")
    delivered = F.col("order_delivered_customer_date").isNotNull() & (F.col("order_delivered_customer_date") != "")
    cancel_ts = F.date_format(F.to_timestamp("order_purchase_timestamp") + F.expr("INTERVAL 1 DAY"), "yyyy-MM-dd HH:mm:ss")
    versions = F.array(
        F.struct(F.lit("PLACED").alias("status"), F.col("order_purchase_timestamp").alias("ts")),
        F.when(cancelled, F.struct(F.lit("CANCELLED").alias("status"), cancel_ts.alias("ts")))
        .when(delivered, F.struct(F.lit("FULFILLED").alias("status"), F.col("order_delivered_customer_date").alias("ts"))),
    )
    txn = lines.select("*", F.explode(F.filter(versions, lambda v: v.isNotNull())).alias("v")).select(
        "txn_id",
        F.col("seller_id").alias("supplier_id"),
        F.col("customer_unique_id").alias("buyer_id"),
        _local(F.col("order_purchase_timestamp")).alias("order_ts"),
        "category",
        F.lit("1").alias("quantity"),
        F.col("amount").cast("string").alias("unit_price"),
        F.lit("BRL").alias("currency"),
        F.col("amount").cast("string").alias("amount"),
        F.col("v.status").alias("status"),
        F.lit("0").alias("payment_terms_days"),
        F.col("order_date").cast("string").alias("due_date"),
        F.lit(None).cast("string").alias("buyer_email"),
        _local(F.col("v.ts")).alias("updated_at"),
        *_meta(_utc_date(F.col("v.ts")), F.concat_ws(":", "txn_id", F.col("v.status")), F.regexp_replace("v.ts", " ", "T")),
    )

    method = (F.when(F.col("payment_type").isin("credit_card", "debit_card"), "CARD")
              .when(F.col("payment_type") == "boleto", "BANK_TRANSFER")
              .when(F.col("payment_type") == "voucher", "WALLET")
              .otherwise(F.col("payment_type")))
    # Each payment is split over its order's transactions in proportion to their amounts: part k is
    # round(V x A(1..k) / A) - round(V x A(1..k-1) / A), so the parts add up to V exactly. An order
    # without items keeps the whole payment, for a transaction <order_id>-1 that never comes.
    shares = per_seller.select(
        "order_id", "k", "amount",
        F.sum("amount").over(Window.partitionBy("order_id").orderBy("k")).alias("cum"),
        F.sum("amount").over(Window.partitionBy("order_id")).alias("total"),
    )
    value = F.col("payment_value").cast("decimal(18,2)")
    upto = lambda cum: F.when(F.col("total") > 0, F.round(value * cum / F.col("total"), 2))  # noqa: E731
    part = F.coalesce(upto(F.col("cum")) - F.coalesce(upto(F.col("cum") - F.col("amount")), F.lit(0)), value)
    pay = (
        payments.join(shares, "order_id", "left")
        .join(orders.select("order_id", "customer_id", "order_approved_at", "order_purchase_timestamp"), "order_id", "left")
        .join(customers.select("customer_id", "customer_unique_id"), "customer_id", "left")
        .withColumn("k", F.coalesce("k", F.lit(1)))
        .withColumn("_pid", F.concat_ws("-", "order_id", "payment_sequential", "k"))
        .select(
            F.col("_pid").alias("payment_id"),
            F.concat_ws("-", "order_id", "k").alias("txn_id"),
            F.lit("PAYMENT").alias("type"),
            part.cast("decimal(18,2)").cast("string").alias("amount"),
            F.lit("BRL").alias("currency"),
            _local(F.col("order_approved_at")).alias("paid_ts"),
            method.alias("method"),
            F.concat(F.lit("OLIST-"), F.col("customer_unique_id")).alias("payer_account"),
            # A payment never approved has no time of its own: it arrives with its order.
            *_meta(F.coalesce(_utc_date(F.col("order_approved_at")), _utc_date(F.col("order_purchase_timestamp"))),
                   F.col("_pid"), F.regexp_replace("order_approved_at", " ", "T")),
        )
    )

    handed = lines.where(F.col("order_delivered_carrier_date").isNotNull() & (F.col("order_delivered_carrier_date") != ""))
    ship_ts = F.coalesce(F.when(F.col("order_approved_at") != "", F.col("order_approved_at")), F.col("order_purchase_timestamp"))
    shipments = handed.select(
        F.concat(F.lit("SH-"), "txn_id").alias("shipment_id"),
        "txn_id",
        F.col("seller_id").alias("supplier_id"),
        F.lit(CARRIER).alias("carrier"),
        F.lit("ROAD").alias("mode"),
        F.lit("BR").alias("origin_country"),
        F.lit("BR").alias("destination_country"),
        F.col("items").cast("string").alias("quantity"),
        F.substring("order_estimated_delivery_date", 1, 10).alias("promised_date"),
        _local(ship_ts).alias("created_ts"),
        _local(ship_ts).alias("updated_at"),
        *_meta(_utc_date(ship_ts), F.concat(F.lit("SH-"), "txn_id"), F.regexp_replace(ship_ts, " ", "T")),
    )
    ev = F.array(
        F.struct(F.lit("PICKED_UP").alias("t"), F.col("order_delivered_carrier_date").alias("ts"), F.lit(None).cast("string").alias("q")),
        F.when(delivered, F.struct(F.lit("DELIVERED").alias("t"), F.col("order_delivered_customer_date").alias("ts"),
                                  F.col("items").cast("string").alias("q"))),
    )
    events = handed.select("txn_id", "items", F.explode(F.filter(ev, lambda e: e.isNotNull())).alias("e")).select(
        F.concat_ws("-", F.lit("EV"), "txn_id", F.col("e.t")).alias("event_id"),
        F.concat(F.lit("SH-"), "txn_id").alias("shipment_id"),
        F.col("e.t").alias("event_type"),
        _local(F.col("e.ts")).alias("event_ts"),
        F.lit("BR").alias("location"),
        F.col("e.q").alias("quantity_delivered"),
        *_meta(_utc_date(F.col("e.ts")), F.concat_ws("-", "txn_id", F.col("e.t")), F.regexp_replace("e.ts", " ", "T")),
    )

    # Synthetic FX: every weekday from 10 days before the first record to the last one.
    bounds = lines.agg(F.min("order_date").alias("lo"), F.max(_utc_date(F.col("order_delivered_customer_date"))).alias("hi"))
    days = bounds.select(F.explode(F.sequence(F.date_sub("lo", 10), F.date_add("hi", 40))).alias("d")).where(
        F.dayofweek("d").between(2, 6))
    t = F.datediff("d", F.lit(dt.date(2016, 1, 1))) / 1000.0
    fx = days.select(F.explode(F.array(
        F.struct(F.lit("BRL").alias("c"), F.format_string("%.6f", 0.31 - 0.05 * t + 0.01 * F.sin(t * 20)).alias("r")),
        F.struct(F.lit("USD").alias("c"), F.lit("1.000000").alias("r")),
    )).alias("x"), "d").select(
        F.col("d").cast("string").alias("rate_date"), F.col("x.c").alias("currency"), F.col("x.r").alias("usd_per_unit"),
        *_meta(F.col("d"), F.concat_ws(":", F.col("x.c"), F.col("d").cast("string")), F.col("d").cast("string")),
    )
    # The first records must find FX history: rates before the first day arrive with it.
    first_day = bounds.select(F.col("lo").alias("_lo"))
    fx = fx.crossJoin(first_day).withColumn("_ingest_date", F.greatest("_ingest_date", "_lo")).drop("_lo")
    return {"fx_rates": fx, "suppliers": suppliers, "transactions": txn, "payments": pay,
            "shipments": shipments, "shipment_events": events}


MARKER = "_olist.json"


def read_olist_landing(spark: SparkSession, landing_root: str) -> dict | None:
    """What write_olist_landing recorded in the landing zone ({source, first, last}), or None."""
    text = fs.read_text(spark, f"{landing_root.rstrip('/')}/{MARKER}")
    return json.loads(text) if text else None


def write_olist_landing(spark: SparkSession, folder: str, landing_root: str) -> tuple[dt.date, dt.date]:
    """Write the Olist sample as landing files (and <landing>/_olist.json saying so); returns the first and
    last ingest dates of all sources. Writing the same sample again gives the same files."""
    # Each source's lines made once: the span, write_source's count per day and its write read them (the
    # records join several CSV files; recomputing them for each made the adapter half again as slow).
    records = olist_records(spark, folder)
    lines = {}
    for name in SOURCE_ORDER:
        df = records[name].withColumn("_order", F.concat(F.date_format("_event_ts", "yyyyMMddHHmmss"), F.col("_rid")))
        lines[name] = (df.transform(to_lines(SOURCES[name], F.lit(False))).select("_line", "_ingest_date", "_order")
                       .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        spans = [lines[n].agg(F.min("_ingest_date").alias("lo"), F.max("_ingest_date").alias("hi")) for n in SOURCE_ORDER]
        first, last = reduce(DataFrame.unionByName, spans).agg(F.min("lo"), F.max("hi")).first()
        for name in SOURCE_ORDER:
            write_source(spark, SOURCES[name], lines[name], set(), landing_root, max_rows_per_file=1_000_000)
    finally:
        for df in lines.values():
            df.unpersist()
    fs.write_text(spark, f"{landing_root.rstrip('/')}/{MARKER}",
                  json.dumps({"source": str(folder), "first": first.isoformat(), "last": last.isoformat()}, indent=1))
    return first, last
