"""The pipeline end to end on real data nobody here generated: the Olist marketplace sample
(../shared/data, CC BY-NC-SA 4.0, Olist), through the adapter in tradelake.adapters.olist.

What the pipeline must make of it is computed independently here, with Python's csv module, from the
adapter's documented mapping and the contract's rules."""
from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from olist_lake import OLIST
from pyspark.sql import functions as F

from tradelake import tables

CENT = Decimal("0.01")
pytestmark = [pytest.mark.slow, pytest.mark.real_data]


def rows(name: str) -> list[dict]:
    with open(OLIST / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def utc_date(local: str) -> dt.date | None:
    """Olist's local 'yyyy-MM-dd HH:mm:ss' (UTC-03:00, docs/olist_mapping.md) -> its UTC date."""
    return (dt.datetime.fromisoformat(local) + dt.timedelta(hours=3)).date() if local else None


@pytest.fixture(scope="module")
def olist():
    """The sample as the mapping reads it (docs/olist_mapping.md), recomputed here without the adapter:
    the transactions (one per order and seller, k numbering the order's sellers by first item)."""
    orders = {o["order_id"]: o for o in rows("olist_orders_dataset.csv")}
    category = {p["product_id"]: p["product_category_name"] for p in rows("olist_products_dataset.csv")}
    parts = defaultdict(list)
    for i in rows("olist_order_items_dataset.csv"):
        parts[(i["order_id"], i["seller_id"])].append(i)
    sellers_of = defaultdict(list)
    for (order, seller), its in parts.items():
        sellers_of[order].append((min(int(i["order_item_id"]) for i in its), seller))
    txns = {}
    for order, firsts in sellers_of.items():
        for k, (_, seller) in enumerate(sorted(firsts), start=1):
            its = parts[(order, seller)]
            txns[(order, k)] = {
                "order": orders[order], "seller": seller, "items": len(its),
                "amount": sum(Decimal(i["price"]) + Decimal(i["freight_value"]) for i in its),
                "has_category": any(category.get(i["product_id"]) for i in its),
            }
    return {"orders": orders, "txns": txns, "items": sum(len(v) for v in parts.values())}


@pytest.fixture(scope="module")
def expected(olist):
    versions = Counter()
    for t in olist["txns"].values():
        o = t["order"]
        n = 1 + (o["order_status"] in ("canceled", "unavailable") or bool(o["order_delivered_customer_date"]))
        versions["ok" if t["has_category"] else "missing_category"] += n
    # Each payment is split over its order's transactions in proportion to their amounts (cumulative
    # rounding); a part is accepted when its transaction was (it has a category), else an ORPHAN. An
    # order without items keeps its payment whole, for a transaction that never comes.
    by_order = defaultdict(list)
    for (order, k), t in sorted(olist["txns"].items()):
        by_order[order].append((k, t))
    payments = Counter()
    for p in rows("olist_order_payments_dataset.csv"):
        o = olist["orders"].get(p["order_id"])
        value = Decimal(p["payment_value"]).quantize(CENT)
        ts = by_order.get(p["order_id"], [])
        total = sum(t["amount"] for _, t in ts)
        shares, cum, before = [], Decimal(0), Decimal(0)
        for _, t in ts:
            cum += t["amount"]
            upto = (value * cum / total).quantize(CENT, ROUND_HALF_UP)
            shares.append((upto - before, t["has_category"]))
            before = upto
        for amount, known in shares or [(value, False)]:
            if not o or not o["order_approved_at"]:
                payments["MISSING_REQUIRED"] += 1
            elif amount <= 0 or p["payment_type"] not in ("credit_card", "debit_card", "boleto", "voucher"):
                payments["OUT_OF_DOMAIN"] += 1
            elif not known:
                payments["ORPHAN"] += 1
            else:
                payments["ACCEPTED"] += 1
    sellers = {t["seller"] for t in olist["txns"].values()}
    return {"transactions": versions, "payments": payments, "suppliers": len(sellers), "items": olist["items"]}


def on_time_rates(olist: dict, day: dt.date) -> dict[str, float]:
    """Per seller, gold.supplier_scorecard.on_time_rate_90d of as-of date `day` straight from the CSV
    files: over the shipments (transactions handed to the carrier) promised in (day-90, day], the share
    whose customer delivery came on or before the promised date - with only what the pipeline knew at
    the end of `day` (features.md): a record counts from the day it arrived (its UTC event date; an early
    tracking event waits for its shipment) once its event date has come; shipments of orders cancelled
    by then, or of transactions never accepted, are left out."""
    due, on_time = Counter(), Counter()
    for t in olist["txns"].values():
        o = t["order"]
        if not t["has_category"] or not o["order_delivered_carrier_date"]:
            continue  # never a transaction (quarantined), or never a shipment
        placed = utc_date(o["order_purchase_timestamp"])
        shipment = max(utc_date(o["order_approved_at"] or o["order_purchase_timestamp"]), placed)
        cancelled = o["order_status"] in ("canceled", "unavailable") and placed + dt.timedelta(days=1) <= day
        promised = dt.date.fromisoformat(o["order_estimated_delivery_date"][:10])
        if placed > day or shipment > day or cancelled or not (day - dt.timedelta(days=90) < promised <= day):
            continue
        due[t["seller"]] += 1
        delivered = utc_date(o["order_delivered_customer_date"])
        if delivered is not None:
            assert shipment - delivered <= dt.timedelta(days=30)  # an early event is retried for 30 days
            if max(delivered, shipment) <= day and delivered <= promised:
                on_time[t["seller"]] += 1
    return {seller: on_time[seller] / n for seller, n in due.items()}


@pytest.fixture(scope="module")
def lake(olist_lake):
    return olist_lake


def _landing_records(path: Path) -> int:
    """Records in a landing file, counted as sources.md defines them: CSV rows after the header (a quoted
    field may hold a line break), or non-blank JSON Lines."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        if path.suffix == ".csv":
            return sum(1 for _ in csv.reader(fh)) - 1
        return sum(1 for line in fh if line.strip())


def test_every_record_is_in_exactly_one_place(spark, lake):
    """Counted from the landing files, not from the accounting: per source and day, the records the
    accounting says it read; per source, every record in silver, in quarantine (orphans accepted later are
    in silver) or counted as a duplicate."""
    landing: Counter = Counter()
    for f in Path(lake.landing_root).glob("*/ingest_date=*/*"):
        if f.suffix in (".csv", ".jsonl", ".json"):
            landing[(f.parent.parent.name, dt.date.fromisoformat(f.parent.name.split("=")[1]))] += _landing_records(f)
    acc = tables.read(spark, lake, tables.ACCOUNTING).where("stage = 'silver'").collect()
    assert len(acc) > 6 * 600  # two years of days, six sources
    read = {(r["source"], r["ingest_date"]): r["records_read"] for r in acc}
    assert {k: v for k, v in read.items() if v} == {k: v for k, v in landing.items() if v}
    quarantine = tables.read(spark, lake, tables.QUARANTINE).where(~F.col("resolution").eqNullSafe("ACCEPTED"))
    duplicates = tables.read(spark, lake, tables.DUPLICATES)
    for source in {s for s, _ in landing}:
        placed = (tables.read(spark, lake, tables.silver(source)).count()
                  + quarantine.where(F.col("source") == source).count()
                  + duplicates.where(F.col("source") == source).count())
        assert placed == sum(n for (s, _), n in landing.items() if s == source), source


def test_transactions_as_expected(spark, lake, expected):
    q = tables.read(spark, lake, tables.QUARANTINE).where("source = 'transactions'")
    got = {r["reason_code"]: r["count"] for r in q.groupBy("reason_code").count().collect()}
    assert got == {"MISSING_REQUIRED": expected["transactions"]["missing_category"]}
    silver = tables.read(spark, lake, tables.silver("transactions"))
    assert silver.count() == expected["transactions"]["ok"]
    assert silver.where("currency != 'BRL' OR amount_usd IS NULL").count() == 0


def test_payments_as_expected(spark, lake, expected):
    q = tables.read(spark, lake, tables.QUARANTINE).where("source = 'payments'")
    got = {r["reason_code"]: r["count"] for r in q.groupBy("reason_code").count().collect()}
    want = {k: v for k, v in expected["payments"].items() if k != "ACCEPTED"}
    assert got == want
    # payments of orders without items wait for a parent that never comes
    assert q.where("reason_code = 'ORPHAN' AND resolved_date IS NOT NULL").count() == 0
    assert tables.read(spark, lake, tables.silver("payments")).count() == expected["payments"]["ACCEPTED"]


def test_suppliers_and_logistics_land(spark, lake, olist, expected):
    assert tables.read(spark, lake, tables.silver("suppliers")).where("is_current").count() == expected["suppliers"]
    # A shipment per accepted transaction handed to the carrier; all its items delivered when the customer got
    # them (shipments of quarantined transactions wait as orphans for a parent that never comes).
    handed = [t for t in olist["txns"].values() if t["has_category"] and t["order"]["order_delivered_carrier_date"]]
    delivered = [t for t in handed if t["order"]["order_delivered_customer_date"]]
    shipments = tables.read(spark, lake, tables.silver("shipments"))
    assert shipments.count() == len(handed)
    assert shipments.agg(F.sum("quantity")).first()[0] == sum(t["items"] for t in handed)
    events = tables.read(spark, lake, tables.silver("shipment_events"))
    got = events.where("event_type = 'DELIVERED'").agg(F.count("*"), F.sum("quantity_delivered")).first()
    assert tuple(got) == (len(delivered), sum(t["items"] for t in delivered))
    assert events.where("event_type = 'PICKED_UP'").count() == len(handed)


@pytest.mark.parametrize("day", ["2017-03-31", "2017-09-30", "2018-03-31", "2018-08-31"])
def test_on_time_rate_per_seller_equals_the_csv_files(spark, lake, olist, day):
    day = dt.date.fromisoformat(day)
    want = on_time_rates(olist, day)
    gold = tables.read(spark, lake, tables.GOLD["supplier_scorecard"]).where(F.col("as_of_date") == F.lit(day))
    got = {r["supplier_id"]: r["on_time_rate_90d"]
           for r in gold.where("shipments_due_90d > 0").select("supplier_id", "on_time_rate_90d").collect()}
    assert len(want) > 50  # enough sellers for the comparison to mean something
    assert got == pytest.approx(want, abs=1e-12)
    assert 0 < sum(want.values()) < len(want)  # neither all late nor all on time
