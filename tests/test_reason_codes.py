"""Every reason code of sources.md, per source: a hand-built bad record lands in quarantine with exactly
that code, and nowhere else (not in silver, not counted as a duplicate); valid records next to them,
including edge cases just inside each rule, are accepted."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import landing_builder as lb
import pytest
from chispa import assert_df_equality
from conftest import settings_for
from pyspark.sql import functions as F

from tradelake import runner, tables
from tradelake.contracts import REASON_CODES

D = dt.date(2026, 3, 2)  # a Monday

# (source, expected reason, a string only that record's raw text contains)
EXPECTED = [
    ("fx_rates", "MALFORMED", "2026-03-02,GBP"),
    ("fx_rates", "MISSING_REQUIRED", "CAD"),
    ("fx_rates", "INVALID_TYPE", "0,0068"),
    ("fx_rates", "OUT_OF_DOMAIN", "-0.000750"),
    ("fx_rates", "FUTURE_TIMESTAMP", "2026-03-04"),
    ("suppliers", "MALFORMED", "S-MALFORMED"),
    ("suppliers", "MISSING_REQUIRED", "S-MISSING"),
    ("suppliers", "INVALID_TYPE", "S-INVALID"),
    ("suppliers", "OUT_OF_DOMAIN", "S-OOD"),
    ("suppliers", "OUT_OF_DOMAIN", "S-MULTI"),  # out of domain and in the future: the first reason wins
    ("suppliers", "FUTURE_TIMESTAMP", "S-FUTURE"),
    ("suppliers", "FX_MISSING", "S-FX"),
    ("transactions", "MALFORMED", "T-MALFORMED"),
    ("transactions", "MISSING_REQUIRED", "T-MISSING"),
    ("transactions", "INVALID_TYPE", "T-INVALID"),
    ("transactions", "OUT_OF_DOMAIN", "T-OOD"),
    ("transactions", "OUT_OF_DOMAIN", "T-MULTI"),  # quantity 0 and amount mismatch: OUT_OF_DOMAIN first
    ("transactions", "AMOUNT_MISMATCH", "T-AMOUNT"),
    ("transactions", "FUTURE_TIMESTAMP", "T-FUTURE"),
    ("transactions", "FX_MISSING", "T-FX"),
    ("transactions", "ORPHAN", "T-ORPHAN"),
    ("payments", "MALFORMED", "P-MALFORMED"),
    ("payments", "MALFORMED", "[1, 2, 3]"),  # valid JSON, but not an object
    ("payments", "MISSING_REQUIRED", "P-MISSING"),
    ("payments", "INVALID_TYPE", "P-INVALID"),
    ("payments", "OUT_OF_DOMAIN", "P-OOD"),
    ("payments", "FUTURE_TIMESTAMP", "P-FUTURE"),
    ("payments", "FX_MISSING", "P-FX"),
    ("payments", "ORPHAN", "P-ORPHAN"),
    ("shipments", "MALFORMED", "SH-MALFORMED"),
    ("shipments", "MISSING_REQUIRED", "SH-MISSING"),
    ("shipments", "INVALID_TYPE", "SH-INVALID"),
    ("shipments", "OUT_OF_DOMAIN", "SH-OOD"),
    ("shipments", "FUTURE_TIMESTAMP", "SH-FUTURE"),
    ("shipments", "ORPHAN", "SH-ORPHAN"),
    ("shipment_events", "MALFORMED", "not json at all"),
    ("shipment_events", "MISSING_REQUIRED", "E-MISSING"),
    ("shipment_events", "INVALID_TYPE", "E-INVALID"),
    ("shipment_events", "OUT_OF_DOMAIN", "E-OOD"),
    ("shipment_events", "FUTURE_TIMESTAMP", "E-FUTURE"),
    ("shipment_events", "ORPHAN", "E-ORPHAN"),
]

ACCEPTED = {
    "fx_rates": 4,
    "suppliers": ["S1", "S-EDGE"],
    "transactions": ["T1", "T-AMOUNT-EDGE", "T-DRIFT"],
    "payments": ["P1"],
    "shipments": ["SH1"],
    "shipment_events": ["E1", "E2"],
}


def build_landing(settings):
    lb.write(settings, "fx_rates", D, [
        lb.fx("2026-03-02", "EUR", "1.100000"), lb.fx("2026-03-02", "USD", "1"),
        lb.fx("2026-02-27", "EUR", "1.090000"), lb.fx("2026-02-27", "USD", "1"),
        "2026-03-02,GBP",
        lb.fx("2026-03-02", "CAD", ""),
        lb.fx("2026-03-02", "JPY", "0,0068"),
        lb.fx("2026-03-02", "KRW", "-0.000750"),
        lb.fx("2026-03-04", "SGD", "0.740000"),  # rate_date after ingest_date + 1 day
    ])
    lb.write(settings, "suppliers", D, [
        lb.supplier("S1"),
        lb.supplier("S-EDGE", updated_at="2026-03-03T23:59:59Z"),  # last second allowed
        'S-MALFORMED,"Broken, Inc.,CN,Textiles,A,2025-06-01,1,EUR,a@b.c,1,2026-03-02T09:00:00Z',
        lb.supplier("S-MISSING", legal_name=""),
        lb.supplier("S-INVALID", onboarded_date="2025/06/01"),
        lb.supplier("S-OOD", country="ZZ"),
        lb.supplier("S-MULTI", country="ZZ", updated_at="2026-03-09T00:00:00Z"),
        lb.supplier("S-FUTURE", updated_at="2026-03-04T00:00:00Z"),  # first instant after the allowed day
        lb.supplier("S-FX", credit_limit_currency="CHF"),
    ])
    lb.write(settings, "transactions", D, [
        lb.txn("T1"),
        lb.txn("T-AMOUNT-EDGE", amount="25.01"),  # off by exactly 0.01: within tolerance
        lb.txn("T-DRIFT", x_channel="EDI"),
        ",".join(lb.txn("T-MALFORMED").values()) + ",one,too many",
        lb.txn("T-MISSING", buyer_id=""),
        lb.txn("T-INVALID", quantity="ten"),
        lb.txn("T-OOD", status="SHIPPED"),
        lb.txn("T-MULTI", quantity="0", amount="99.00"),
        lb.txn("T-AMOUNT", amount="26.00"),
        lb.txn("T-FUTURE", order_ts="2026-03-06T10:00:00+01:00"),
        lb.txn("T-FX", currency="CHF"),
        lb.txn("T-ORPHAN", supplier_id="S404"),
    ], extra_columns=("x_channel",))
    lb.write(settings, "payments", D, [
        lb.payment("P1"),
        '{"payment_id": "P-MALFORMED", "txn_id": "T1", "amount": 25.0',
        "[1, 2, 3]",
        lb.payment("P-MISSING", paid_ts=None),
        lb.payment("P-INVALID", amount="25,00"),
        lb.payment("P-OOD", type="CHARGEBACK"),
        lb.payment("P-FUTURE", paid_ts="2026-03-09T00:00:00Z"),
        lb.payment("P-FX", currency="CHF"),
        lb.payment("P-ORPHAN", txn_id="T404"),
    ])
    lb.write(settings, "shipments", D, [
        lb.shipment("SH1"),
        "SH-MALFORMED,T1,S1,Maersk",
        lb.shipment("SH-MISSING", txn_id="T-X1", carrier=""),
        lb.shipment("SH-INVALID", txn_id="T-X2", quantity="1.5"),
        lb.shipment("SH-OOD", txn_id="T-X3", mode="BOAT"),
        lb.shipment("SH-FUTURE", txn_id="T-X4", created_ts="2026-03-10T12:00:00+08:00"),
        lb.shipment("SH-ORPHAN", txn_id="T404"),
    ])
    lb.write(settings, "shipment_events", D, [
        lb.event("E1"),
        lb.event("E2", event_type="DELIVERED", quantity_delivered=10, location="DE"),
        "not json at all",
        lb.event("E-MISSING", event_type="DELIVERED"),  # a delivery must say how much
        lb.event("E-INVALID", event_ts="2026-03-02 14:00:00"),  # no offset
        lb.event("E-OOD", quantity_delivered=3),  # a quantity on a PICKED_UP event
        lb.event("E-FUTURE", event_ts="2026-03-12T08:00:00+08:00"),
        lb.event("E-ORPHAN", shipment_id="SH404"),
    ])


def one_day_lakehouse(spark, root, build):
    """A lakehouse with the landing `build` writes for day D, ingested and through silver."""
    settings = settings_for(root)
    build(settings)
    runner.run_ingest(spark, settings, D)
    runner.run_silver(spark, settings, D)
    return settings


@pytest.fixture(scope="module")
def lakehouse(spark, tmp_path_factory):
    return one_day_lakehouse(spark, tmp_path_factory.mktemp("reasons"), build_landing)


def test_every_reason_code_is_covered():
    assert {r for _, r, _ in EXPECTED} == set(REASON_CODES)


def test_each_bad_record_is_quarantined_once_with_its_reason(spark, lakehouse):
    q = tables.read(spark, lakehouse, tables.QUARANTINE)
    marker = F.lit(None).cast("string")
    for _, _, needle in EXPECTED:
        marker = F.when(F.instr("raw_record", needle) > 0, F.lit(needle)).otherwise(marker)
    actual = q.select("source", "reason_code", marker.alias("marker"))
    expected = spark.createDataFrame(EXPECTED, "source string, reason_code string, marker string")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def test_nothing_bad_reaches_silver_and_everything_good_does(spark, lakehouse):
    for source, accepted in ACCEPTED.items():
        src_key = {"suppliers": "supplier_id", "transactions": "txn_id", "payments": "payment_id",
                   "shipments": "shipment_id", "shipment_events": "event_id"}.get(source)
        silver = tables.read(spark, lakehouse, tables.silver(source))
        if isinstance(accepted, int):
            assert silver.count() == accepted
        else:
            assert sorted(r[0] for r in silver.select(src_key).collect()) == sorted(accepted), source


def test_no_duplicates_and_every_source_balances(spark, lakehouse):
    assert tables.read(spark, lakehouse, tables.DUPLICATES).count() == 0
    acc = tables.read(spark, lakehouse, tables.ACCOUNTING).where("stage = 'silver'")
    rows = {r["source"]: r for r in acc.collect()}
    per_source = {}
    for source, _, _ in EXPECTED:
        per_source[source] = per_source.get(source, 0) + 1
    for source, n_bad in per_source.items():
        good = ACCEPTED[source] if isinstance(ACCEPTED[source], int) else len(ACCEPTED[source])
        r = rows[source]
        assert (r["records_read"], r["accepted"], r["quarantined"], r["duplicates"], r["balanced"]) == (
            good + n_bad, good, n_bad, 0, True), source


def test_malformed_lines_keep_their_raw_text_in_bronze(spark, lakehouse):
    bronze = tables.read(spark, lakehouse, tables.bronze("suppliers"))
    raw = [r[0] for r in bronze.where(F.col("_corrupt_record").isNotNull()).select("_corrupt_record").collect()]
    assert raw == ['S-MALFORMED,"Broken, Inc.,CN,Textiles,A,2025-06-01,1,EUR,a@b.c,1,2026-03-02T09:00:00Z']


def test_unknown_column_is_kept_in_bronze_and_reported(spark, lakehouse):
    bronze = tables.read(spark, lakehouse, tables.bronze("transactions"))
    row = bronze.where("txn_id = 'T-DRIFT'").select("_extra_fields").first()
    assert row[0] == {"x_channel": "EDI"}
    files = tables.read(spark, lakehouse, tables.INGESTED_FILES).where("source = 'transactions'").collect()
    assert [f["extra_columns"] for f in files] == [["x_channel"]]


def test_usd_conversion_uses_the_fallback_rate_when_needed(spark, lakehouse):
    # T1 is in EUR ordered on 2026-03-02: that day's rate. S1's limit is in EUR at its updated_at date.
    t1 = tables.read(spark, lakehouse, tables.silver("transactions")).where("txn_id = 'T1'").first()
    assert (float(t1["fx_rate_usd"]), float(t1["amount_usd"])) == (1.1, 27.5)
    s1 = tables.read(spark, lakehouse, tables.silver("suppliers")).where("supplier_id = 'S1'").first()
    assert float(s1["credit_limit_usd"]) == 55000.0


# -------------------------------------------------------------------------------------------------
# FX fallback edge (sources.md, fx_rates): the rate of the event date, or else the latest earlier rate
# at most 7 days older; none -> FX_MISSING. Event dates (UTC): a transaction's order_ts, a payment's
# paid_ts, a supplier's updated_at.
# -------------------------------------------------------------------------------------------------
GBP_RATE = "1.264537"  # GBP's only rate, on 2026-02-20 (a Friday): it serves 02-20 .. 02-27, not 02-28
SILVER_KEYS = {"suppliers": "supplier_id", "transactions": "txn_id", "payments": "payment_id"}

FX_EDGE_ACCEPTED = {  # (source, id) -> (fx_rate_usd, amount column, amount_usd), computed by hand
    ("suppliers", "S1"): ("1.100000", "credit_limit_usd", "55000.00000000"),           # EUR, same day
    ("suppliers", "S-GBP-7"): (GBP_RATE, "credit_limit_usd", "63226.85000000"),        # 50000.00 x 1.264537
    ("transactions", "T-GBP-7"): (GBP_RATE, "amount_usd", "31.61342500"),              # 25.00 x 1.264537
    ("transactions", "T-GBP-7-TZ"): (GBP_RATE, "amount_usd", "31.61342500"),
    ("payments", "P-GBP-7"): (GBP_RATE, "amount_usd", "31.61342500"),
    ("transactions", "T-CHF-SAME"): ("1.140000", "amount_usd", "28.50000000"),         # the day's rate, not 02-23's
    ("transactions", "T-CHF-BETWEEN"): ("1.130000", "amount_usd", "28.25000000"),      # 02-23's, never 02-26's
    ("transactions", "T-CHF-LATEST"): ("1.140000", "amount_usd", "28.50000000"),       # latest of two earlier rates
}
FX_EDGE_MISSING = [  # (source, id): quarantined as FX_MISSING
    ("suppliers", "S-GBP-8"),
    ("transactions", "T-GBP-8"),
    ("transactions", "T-GBP-8-TZ"),
    ("transactions", "T-AUD-BEFORE"),  # AUD's only rate is the day after the order: never used
    ("payments", "P-GBP-8"),
]


def build_fx_edge_landing(settings):
    lb.write(settings, "fx_rates", D, [
        lb.fx("2026-03-02", "EUR", "1.100000"),  # for S1, the transactions' supplier
        lb.fx("2026-02-20", "GBP", GBP_RATE),
        lb.fx("2026-02-23", "CHF", "1.130000"), lb.fx("2026-02-26", "CHF", "1.140000"),
        lb.fx("2026-02-27", "AUD", "0.650000"),
    ])
    lb.write(settings, "suppliers", D, [
        lb.supplier("S1"),
        lb.supplier("S-GBP-7", credit_limit_currency="GBP", updated_at="2026-02-27T23:59:59Z"),  # day 7, last second
        lb.supplier("S-GBP-8", credit_limit_currency="GBP", updated_at="2026-02-28T00:00:00Z"),  # day 8, first second
    ])

    def txn(txn_id, currency, order_ts):
        return lb.txn(txn_id, currency=currency, order_ts=order_ts, updated_at=order_ts)

    lb.write(settings, "transactions", D, [
        txn("T-GBP-7", "GBP", "2026-02-27T23:59:59Z"),
        txn("T-GBP-8", "GBP", "2026-02-28T00:00:00Z"),
        txn("T-GBP-7-TZ", "GBP", "2026-02-28T00:30:00+01:00"),  # 02-27 23:30 UTC: day 7
        txn("T-GBP-8-TZ", "GBP", "2026-02-27T23:30:00-01:00"),  # 02-28 00:30 UTC: day 8
        txn("T-CHF-SAME", "CHF", "2026-02-26T12:00:00Z"),
        txn("T-CHF-BETWEEN", "CHF", "2026-02-25T12:00:00Z"),
        txn("T-CHF-LATEST", "CHF", "2026-03-01T12:00:00Z"),
        txn("T-AUD-BEFORE", "AUD", "2026-02-26T12:00:00Z"),
    ])
    lb.write(settings, "payments", D, [
        lb.payment("P-GBP-7", txn_id="T-GBP-7", currency="GBP", paid_ts="2026-02-27T23:59:59Z"),
        lb.payment("P-GBP-8", txn_id="T-GBP-7", currency="GBP", paid_ts="2026-02-28T00:00:00Z"),
    ])


@pytest.fixture(scope="module")
def fx_edge(spark, tmp_path_factory):
    return one_day_lakehouse(spark, tmp_path_factory.mktemp("fx_edge"), build_fx_edge_landing)


def _silver_ids(spark, settings, source):
    silver = tables.read(spark, settings, tables.silver(source))
    return sorted(r[0] for r in silver.select(SILVER_KEYS[source]).collect())


def _quarantined(spark, settings):
    """(source, id, reason_code) of every quarantined record."""
    q = tables.read(spark, settings, tables.QUARANTINE)
    key = F.lit(None).cast("string")
    for source, k in SILVER_KEYS.items():
        key = F.when(F.col("source") == source, F.get_json_object("raw_record", f"$.{k}")).otherwise(key)
    return sorted(tuple(r) for r in q.select("source", key.alias("id"), "reason_code").collect())


def test_fx_edge_only_records_without_a_usable_rate_are_quarantined(spark, fx_edge):
    quarantined = _quarantined(spark, fx_edge)
    assert quarantined == sorted((s, i, "FX_MISSING") for s, i in FX_EDGE_MISSING)
    for source in SILVER_KEYS:
        silver = _silver_ids(spark, fx_edge, source)
        assert silver == sorted(i for s, i in FX_EDGE_ACCEPTED if s == source), source
    assert tables.read(spark, fx_edge, tables.silver("fx_rates")).count() == 5
    assert tables.read(spark, fx_edge, tables.DUPLICATES).count() == 0


@pytest.mark.parametrize("source,record_id", sorted(FX_EDGE_ACCEPTED))
def test_fx_rate_up_to_7_days_older_is_used_exactly(spark, fx_edge, source, record_id):
    rate, amount_col, amount_usd = FX_EDGE_ACCEPTED[(source, record_id)]
    rows = tables.read(spark, fx_edge, tables.silver(source)).where(F.col(SILVER_KEYS[source]) == record_id).collect()
    assert len(rows) == 1, f"{source} {record_id} not accepted exactly once: {rows}"
    assert (rows[0]["fx_rate_usd"], rows[0][amount_col]) == (Decimal(rate), Decimal(amount_usd))


@pytest.mark.parametrize("source,record_id", FX_EDGE_MISSING)
def test_fx_rate_8_days_older_or_later_is_fx_missing(spark, fx_edge, source, record_id):
    quarantined, silver = _quarantined(spark, fx_edge), _silver_ids(spark, fx_edge, source)
    assert (source, record_id, "FX_MISSING") in quarantined
    assert record_id not in silver
