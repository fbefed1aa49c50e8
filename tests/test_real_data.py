"""The pipeline end to end on real data nobody here generated: the Olist marketplace sample
(../shared/data, CC BY-NC-SA 4.0, Olist), through the adapter in tradelake.adapters.olist.

What the pipeline must make of it is computed independently here, with Python's csv module, from the
adapter's documented mapping and the contract's rules."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from conftest import SHARED_DATA, settings_for
from tradelake import runner, tables
from tradelake.adapters.olist import write_olist_landing

OLIST = SHARED_DATA / "olist_sample"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.real_data,
    pytest.mark.skipif(not OLIST.is_dir(), reason=f"real data not found at {OLIST} (../shared/data is absent)"),
]


def rows(name: str) -> list[dict]:
    with open(OLIST / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def expected():
    orders = {o["order_id"]: o for o in rows("olist_orders_dataset.csv")}
    items = rows("olist_order_items_dataset.csv")
    category = {p["product_id"]: p["product_category_name"] for p in rows("olist_products_dataset.csv")}
    versions = Counter()
    for i in items:
        o = orders[i["order_id"]]
        n = 1 + (o["order_status"] in ("canceled", "unavailable") or bool(o["order_delivered_customer_date"]))
        versions["missing_category" if not category.get(i["product_id"]) else "ok"] += n
    # A payment goes to its order's first item; that transaction is quarantined (never known) when the
    # order has no items or the item's product has no category: the payment then waits as an ORPHAN.
    first_item_ok = {i["order_id"] for i in items if i["order_item_id"] == "1" and category.get(i["product_id"])}
    payments = Counter()
    for p in rows("olist_order_payments_dataset.csv"):
        o = orders.get(p["order_id"])
        if not o or not o["order_approved_at"]:
            payments["MISSING_REQUIRED"] += 1
        elif float(p["payment_value"]) <= 0 or p["payment_type"] not in ("credit_card", "debit_card", "boleto", "voucher"):
            payments["OUT_OF_DOMAIN"] += 1
        elif p["order_id"] not in first_item_ok:
            payments["ORPHAN"] += 1
        else:
            payments["ACCEPTED"] += 1
    sellers = {i["seller_id"] for i in items}
    return {"transactions": versions, "payments": payments, "suppliers": len(sellers), "items": len(items)}


@pytest.fixture(scope="module")
def olist_lake(spark, tmp_path_factory):
    s = settings_for(tmp_path_factory.mktemp("olist"))
    first, last = write_olist_landing(spark, str(OLIST), s.landing_root)
    runner.run_all(spark, s, first, last)
    return s


def test_every_day_balances(spark, olist_lake):
    acc = tables.read(spark, olist_lake, tables.ACCOUNTING).where("stage = 'silver'")
    assert acc.count() > 6 * 600  # two years of days, six sources
    assert acc.where("NOT balanced").count() == 0


def test_transactions_as_expected(spark, olist_lake, expected):
    q = tables.read(spark, olist_lake, tables.QUARANTINE).where("source = 'transactions'")
    got = {r["reason_code"]: r["count"] for r in q.groupBy("reason_code").count().collect()}
    assert got == {"MISSING_REQUIRED": expected["transactions"]["missing_category"]}
    silver = tables.read(spark, olist_lake, tables.silver("transactions"))
    assert silver.count() == expected["transactions"]["ok"]
    assert silver.where("currency != 'BRL' OR amount_usd IS NULL").count() == 0


def test_payments_as_expected(spark, olist_lake, expected):
    q = tables.read(spark, olist_lake, tables.QUARANTINE).where("source = 'payments'")
    got = {r["reason_code"]: r["count"] for r in q.groupBy("reason_code").count().collect()}
    want = {k: v for k, v in expected["payments"].items() if k != "ACCEPTED"}
    assert got == want
    # payments of orders without items wait for a parent that never comes
    assert q.where("reason_code = 'ORPHAN' AND resolved_date IS NOT NULL").count() == 0
    assert tables.read(spark, olist_lake, tables.silver("payments")).count() == expected["payments"]["ACCEPTED"]


def test_suppliers_and_logistics_land(spark, olist_lake, expected):
    assert tables.read(spark, olist_lake, tables.silver("suppliers")).where("is_current").count() == expected["suppliers"]
    shipments = tables.read(spark, olist_lake, tables.silver("shipments"))
    events = tables.read(spark, olist_lake, tables.silver("shipment_events"))
    assert 0 < shipments.count() <= expected["items"]
    delivered = events.where("event_type = 'DELIVERED'").agg(F.sum("quantity_delivered")).first()[0]
    assert 0 < delivered <= expected["items"]
