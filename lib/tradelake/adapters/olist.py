"""Olist marketplace data (Brazil, 2016-2018) mapped into the landing contract (shared/spec/sources.md).

The mapping (an adapter's choices, kept simple and visible):
  suppliers        one record per seller, arriving the day of its first sale (onboarded that day);
                   legal name from its city, country BR; no tier, credit limit or contacts
  transactions     one per order item (quantity 1, unit price = amount = the item's price, BRL), sold
                   by the item's seller to the customer (customer_unique_id). A PLACED version at
                   purchase; FULFILLED at customer delivery, or CANCELLED (canceled, unavailable) the day
                   after purchase. Category: the product's category in English.
  payments         Olist payments are per order: each goes to the order's first item. Paid at
                   order_approved_at (the payment approval time). credit_card and debit_card -> CARD,
                   boleto -> BANK_TRANSFER, voucher -> WALLET.
  shipments        one per item handed to the carrier; promised = order_estimated_delivery_date
  shipment_events  PICKED_UP at carrier hand-over, DELIVERED (quantity 1) at customer delivery
  fx_rates         Olist has no FX: a synthetic, documented BRL series (a smooth path from 0.31 to 0.26
                   USD over 2016-2018, weekdays only) so that BRL amounts convert.
Timestamps are Brazil local time (UTC-03:00). Every record arrives on the UTC date of its event.

Real quirks are left for the pipeline to catch, not fixed here: products without a category
(MISSING_REQUIRED), payments of orders without items (ORPHAN, never resolved), zero-value vouchers
(OUT_OF_DOMAIN), payments never approved (MISSING_REQUIRED), unknown payment types (OUT_OF_DOMAIN).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake.contracts import SOURCE_ORDER, SOURCES
from tradelake.generate.landing import to_lines, write_source

OFFSET = "-03:00"
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
    lines = (
        items.join(orders, "order_id")
        .join(customers.select("customer_id", "customer_unique_id"), "customer_id", "left")
        .join(category, "product_id", "left")
        .withColumn("txn_id", F.concat_ws("-", "order_id", "order_item_id"))
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
        F.col("price").cast("decimal(18,2)").cast("string").alias("unit_price"),
        F.lit("BRL").alias("currency"),
        F.col("price").cast("decimal(18,2)").cast("string").alias("amount"),
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
    pay = payments.join(orders.select("order_id", "customer_id", "order_approved_at"), "order_id", "left").join(
        customers.select("customer_id", "customer_unique_id"), "customer_id", "left").select(
        F.concat_ws("-", "order_id", "payment_sequential").alias("payment_id"),
        F.concat(F.col("order_id"), F.lit("-1")).alias("txn_id"),
        F.lit("PAYMENT").alias("type"),
        F.col("payment_value").alias("amount"),
        F.lit("BRL").alias("currency"),
        _local(F.col("order_approved_at")).alias("paid_ts"),
        method.alias("method"),
        F.concat(F.lit("OLIST-"), F.col("customer_unique_id")).alias("payer_account"),
        # A payment never approved has no time of its own: it arrives with its order.
        *_meta(F.coalesce(_utc_date(F.col("order_approved_at")), F.lit(None).cast("date")),
               F.concat_ws("-", "order_id", "payment_sequential"), F.regexp_replace("order_approved_at", " ", "T")),
    )
    order_day = orders.select("order_id", _utc_date(F.col("order_purchase_timestamp")).alias("_order_day"))
    pay = pay.withColumn("_order_id", F.substring("payment_id", 1, 32)).join(
        order_day.withColumnRenamed("order_id", "_order_id"), "_order_id", "left"
    ).withColumn("_ingest_date", F.coalesce("_ingest_date", "_order_day")).drop("_order_id", "_order_day")

    handed = lines.where(F.col("order_delivered_carrier_date").isNotNull() & (F.col("order_delivered_carrier_date") != ""))
    ship_ts = F.coalesce(F.when(F.col("order_approved_at") != "", F.col("order_approved_at")), F.col("order_purchase_timestamp"))
    shipments = handed.select(
        F.concat(F.lit("SH-"), "txn_id").alias("shipment_id"),
        "txn_id",
        F.col("seller_id").alias("supplier_id"),
        F.lit("Olist logistics").alias("carrier"),
        F.lit("ROAD").alias("mode"),
        F.lit("BR").alias("origin_country"),
        F.lit("BR").alias("destination_country"),
        F.lit("1").alias("quantity"),
        F.substring("order_estimated_delivery_date", 1, 10).alias("promised_date"),
        _local(ship_ts).alias("created_ts"),
        _local(ship_ts).alias("updated_at"),
        *_meta(_utc_date(ship_ts), F.concat(F.lit("SH-"), "txn_id"), F.regexp_replace(ship_ts, " ", "T")),
    )
    ev = F.array(
        F.struct(F.lit("PICKED_UP").alias("t"), F.col("order_delivered_carrier_date").alias("ts"), F.lit(None).cast("string").alias("q")),
        F.when(delivered, F.struct(F.lit("DELIVERED").alias("t"), F.col("order_delivered_customer_date").alias("ts"), F.lit("1").alias("q"))),
    )
    events = handed.select("txn_id", F.explode(F.filter(ev, lambda e: e.isNotNull())).alias("e")).select(
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


def write_olist_landing(spark: SparkSession, folder: str, landing_root: str) -> tuple[dt.date, dt.date]:
    """Write the Olist sample as landing files; returns the first and last ingest dates of all sources."""
    records = olist_records(spark, folder)
    spans = [records[n].agg(F.min("_ingest_date").alias("lo"), F.max("_ingest_date").alias("hi")) for n in SOURCE_ORDER]
    span = spans[0]
    for other in spans[1:]:
        span = span.unionByName(other)
    first, last = span.agg(F.min("lo"), F.max("hi")).first()
    for name in SOURCE_ORDER:
        src = SOURCES[name]
        df = records[name].withColumn("_order", F.concat(F.date_format("_event_ts", "yyyyMMddHHmmss"), F.col("_rid")))
        lines = df.transform(to_lines(src, F.lit(False))).select("_line", "_ingest_date", "_order")
        write_source(spark, src, lines, set(), landing_root, max_rows_per_file=1_000_000)
    return first, last
