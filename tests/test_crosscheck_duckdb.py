"""The DuckDB reading of the gold features (tradelake.crosscheck.duckdb_features) on small hand-built
silver tables. No Spark: silver Delta tables are written with deltalake; every expected value is worked
out by hand from shared/spec/features.md and docs/gold_features.md (arithmetic in the comments)."""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import statistics
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from tradelake.crosscheck.duckdb_features import compute_features

D = dt.date(2026, 6, 30)  # a Tuesday; the default as-of date of these tests

# -------------------------------------------------------------------------------------------------
# Silver-shaped tables (schemas as tradelake.tables writes them: int -> int32, decimal2 -> (18,2),
# decimal6 -> (18,6), USD amounts (38,8), Spark timestamps -> timestamp[us, UTC])
# -------------------------------------------------------------------------------------------------
S, I32, DATE, TS, BOOL = pa.string(), pa.int32(), pa.date32(), pa.timestamp("us", tz="UTC"), pa.bool_()
DEC2, DEC6, USD = pa.decimal128(18, 2), pa.decimal128(18, 6), pa.decimal128(38, 8)
META = [("_record_id", S), ("_record_hash", S), ("_source_ingest_date", DATE), ("_known_date", DATE),
        ("_source_file", S), ("_run_id", S)]
SCHEMAS = {
    "transactions": pa.schema([
        ("txn_id", S), ("supplier_id", S), ("buyer_id", S), ("order_ts", TS), ("category", S), ("quantity", I32),
        ("unit_price", DEC2), ("currency", S), ("amount", DEC2), ("status", S), ("payment_terms_days", I32),
        ("due_date", DATE), ("buyer_email_hmac", S), ("updated_at", TS), ("fx_rate_usd", DEC6),
        ("amount_usd", USD), *META]),
    "payments": pa.schema([
        ("payment_id", S), ("txn_id", S), ("type", S), ("amount", DEC2), ("currency", S), ("paid_ts", TS),
        ("method", S), ("payer_account_hmac", S), ("fx_rate_usd", DEC6), ("amount_usd", USD), *META]),
    "shipments": pa.schema([
        ("shipment_id", S), ("txn_id", S), ("supplier_id", S), ("carrier", S), ("mode", S),
        ("origin_country", S), ("destination_country", S), ("quantity", I32), ("promised_date", DATE),
        ("created_ts", TS), ("updated_at", TS), *META]),
    "shipment_events": pa.schema([
        ("event_id", S), ("shipment_id", S), ("event_type", S), ("event_ts", TS), ("location", S),
        ("quantity_delivered", I32), *META]),
    "suppliers": pa.schema([
        ("supplier_id", S), ("legal_name", S), ("country", S), ("industry", S), ("tier", S),
        ("onboarded_date", DATE), ("credit_limit", DEC2), ("credit_limit_currency", S),
        ("contact_email_hmac", S), ("contact_phone_hmac", S), ("updated_at", TS), ("fx_rate_usd", DEC6),
        ("credit_limit_usd", USD), ("valid_from", TS), ("valid_to", TS), ("is_current", BOOL), *META]),
    "fx_rates": pa.schema([("rate_date", DATE), ("currency", S), ("usd_per_unit", DEC6), *META]),
}


def ts(value: str) -> dt.datetime:
    """'2026-06-01' or '2026-06-01T08:00' (UTC)."""
    t = dt.datetime.fromisoformat(value)
    return t.replace(tzinfo=dt.UTC)


def day(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def usd(amount: str, rate: str) -> Decimal:
    return (Decimal(amount) * Decimal(rate)).quantize(Decimal("0.00000001"))


class Silver:
    """Rows of the six silver tables, with sensible defaults; `write(root)` makes the Delta tables
    (a table without rows is not written at all: a missing table reads as empty)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {name: [] for name in SCHEMAS}

    def _add(self, table: str, row: dict, known: str | dt.date) -> None:
        known = day(known)
        digest = hashlib.sha256(repr(sorted(row.items(), key=str)).encode()).hexdigest()
        row.update(_record_id=f"{table}-{len(self.rows[table])}", _record_hash=digest,
                   _source_ingest_date=known, _known_date=known, _source_file="test", _run_id="test")
        self.rows[table].append(row)

    def supplier(self, supplier_id="S1", *, updated="2025-01-01", known=None, country="CN", industry="Textiles",
                 tier="B", onboarded="2025-01-01", credit_limit=None, currency=None, rate="1.000000"):
        self._add("suppliers", dict(
            supplier_id=supplier_id, legal_name=f"{supplier_id} Ltd", country=country, industry=industry, tier=tier,
            onboarded_date=day(onboarded),
            credit_limit=Decimal(credit_limit) if credit_limit else None, credit_limit_currency=currency,
            updated_at=ts(updated), fx_rate_usd=Decimal(rate) if currency else None,
            credit_limit_usd=usd(credit_limit, rate) if credit_limit else None,
            valid_from=ts(updated), is_current=True,
        ), known or ts(updated).date())

    def txn(self, txn_id, *, order, amount="100.00", supplier="S1", buyer="B1", status="PLACED", due=None,
            currency="USD", rate="1.000000", updated=None, known=None):
        """One version of a transaction: due defaults to order date + 30, updated_at to order_ts, known
        to updated_at's date."""
        order_ts = ts(order)
        due = day(due) if due else order_ts.date() + dt.timedelta(30)
        updated_at = ts(updated) if updated else order_ts
        self._add("transactions", dict(
            txn_id=txn_id, supplier_id=supplier, buyer_id=buyer, order_ts=order_ts, category="General",
            quantity=1, unit_price=Decimal(amount), currency=currency, amount=Decimal(amount), status=status,
            payment_terms_days=(due - order_ts.date()).days, due_date=due, updated_at=updated_at,
            fx_rate_usd=Decimal(rate), amount_usd=usd(amount, rate),
        ), known or updated_at.date())

    def payment(self, payment_id, txn_id, amount, *, paid, type="PAYMENT", currency="USD", rate="1.000000",
                known=None):
        self._add("payments", dict(
            payment_id=payment_id, txn_id=txn_id, type=type, amount=Decimal(amount), currency=currency,
            paid_ts=ts(paid), method="BANK_TRANSFER", fx_rate_usd=Decimal(rate), amount_usd=usd(amount, rate),
        ), known or ts(paid).date())

    def shipment(self, shipment_id, txn_id, *, quantity, promised, updated, supplier="S1", carrier="DHL",
                 mode="AIR", origin="CN", destination="US", known=None):
        self._add("shipments", dict(
            shipment_id=shipment_id, txn_id=txn_id, supplier_id=supplier, carrier=carrier, mode=mode,
            origin_country=origin, destination_country=destination, quantity=quantity,
            promised_date=day(promised), created_ts=ts(updated), updated_at=ts(updated),
        ), known or ts(updated).date())

    def event(self, event_id, shipment_id, event_type, at, *, quantity=None, known=None):
        self._add("shipment_events", dict(
            event_id=event_id, shipment_id=shipment_id, event_type=event_type, event_ts=ts(at),
            location="US", quantity_delivered=quantity,
        ), known or ts(at).date())

    def fx(self, rate_date, currency, rate, *, known=None):
        self._add("fx_rates", dict(rate_date=day(rate_date), currency=currency, usd_per_unit=Decimal(rate)),
                  known or day(rate_date))

    def write(self, root: Path, known_by: dt.date | None = None) -> str:
        """Write the silver tables under root/silver (only rows known by `known_by` when given)."""
        for name, rows in self.rows.items():
            rows = [r for r in rows if known_by is None or r["_known_date"] <= known_by]
            if rows:
                write_deltalake(str(root / "silver" / name), pa.Table.from_pylist(rows, schema=SCHEMAS[name]))
        return str(root)


def by_key(table: pa.Table, *key: str) -> dict:
    rows = table.to_pylist()
    return {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in rows}


def features(silver: Silver, tmp_path: Path, dates, label_dates=()) -> dict[str, pa.Table]:
    return compute_features(silver.write(tmp_path), [day(d) for d in dates], [day(d) for d in label_dates])


def approx(expected):
    return pytest.approx(expected, rel=1e-9, abs=1e-12)


# -------------------------------------------------------------------------------------------------
# Tests
# -------------------------------------------------------------------------------------------------
EXPECTED_COLUMNS = {
    "supplier_scorecard": [
        ("supplier_id", S), ("as_of_date", DATE), ("orders_90d", pa.int64()), ("gmv_usd_90d", pa.float64()),
        ("cancel_rate_90d", pa.float64()), ("return_rate_90d", pa.float64()), ("shipments_due_90d", pa.int64()),
        ("otif_rate_90d", pa.float64()), ("on_time_rate_90d", pa.float64()), ("unit_fill_rate_90d", pa.float64()),
        ("exception_rate_90d", pa.float64()), ("lead_time_mean_90d", pa.float64()),
        ("lead_time_p90_90d", pa.float64()), ("lead_time_cv_90d", pa.float64()),
        ("avg_days_late_90d", pa.float64()), ("active_buyers_90d", pa.int64()), ("buyer_hhi_90d", pa.float64())],
    "lane_performance": [
        ("origin_country", S), ("destination_country", S), ("carrier", S), ("mode", S), ("week_start", DATE),
        ("as_of_date", DATE), ("shipments_delivered", pa.int64()), ("otif_rate", pa.float64()),
        ("transit_days_p50", pa.float64()), ("transit_days_p90", pa.float64()),
        ("transit_days_mean", pa.float64()), ("transit_days_cv", pa.float64()),
        ("delay_days_mean", pa.float64()), ("exception_rate", pa.float64())],
    "supplier_credit_features": [
        ("supplier_id", S), ("as_of_date", DATE), ("net_sales_usd_30d", pa.float64()),
        ("net_sales_usd_90d", pa.float64()), ("net_sales_usd_180d", pa.float64()),
        ("net_sales_usd_365d", pa.float64()), ("sales_growth_90d", pa.float64()), ("sales_cv_6m", pa.float64()),
        ("txn_count_90d", pa.int64()), ("avg_ticket_usd_90d", pa.float64()),
        ("weekend_order_share_90d", pa.float64()), ("tenure_days", pa.int32()), ("tier", S), ("country", S),
        ("industry", S), ("credit_limit_usd", pa.float64()), ("top_buyer_share_180d", pa.float64()),
        ("buyer_hhi_180d", pa.float64()), ("open_receivables_usd", pa.float64()),
        ("overdue_receivables_usd", pa.float64()), ("overdue_share", pa.float64()), ("dso_90d", pa.float64()),
        ("bpdso_90d", pa.float64()), ("add_90d", pa.float64()), ("dpd_max_365d", pa.int32()),
        ("bad_debt_rate_365d", pa.float64()), ("on_time_payment_rate_180d", pa.float64()),
        ("otif_rate_90d", pa.float64()), ("return_rate_90d", pa.float64())],
    "buyer_credit_features": [
        ("buyer_id", S), ("as_of_date", DATE), ("purchases_usd_90d", pa.float64()),
        ("purchase_growth_90d", pa.float64()), ("supplier_count_180d", pa.int64()),
        ("outstanding_usd", pa.float64()), ("overdue_usd", pa.float64()), ("invoices_due_180d", pa.int64()),
        ("late_payment_share_180d", pa.float64()), ("avg_days_late_180d", pa.float64()),
        ("payment_ratio_180d", pa.float64()), ("dpd_now", pa.int32()), ("dpd_bucket_now", S),
        ("dpd_max_365d", pa.int32())],
    "buyer_default_labels": [
        ("buyer_id", S), ("as_of_date", DATE), ("default_180d", pa.int32()), ("label_date", DATE)],
}


def test_missing_silver_tables_give_empty_tables_with_the_gold_schemas(tmp_path):
    out = compute_features(str(tmp_path), [D], [dt.date(2025, 1, 1)])
    assert list(out) == list(EXPECTED_COLUMNS)
    for name, columns in EXPECTED_COLUMNS.items():
        assert out[name].num_rows == 0
        assert [(f.name, f.type) for f in out[name].schema] == columns, name


def test_order_features_windows_status_fx_and_zero_denominators(tmp_path):
    s = Silver()
    # S1: tier B until a change effective 06-29 that silver only accepted on 07-01.
    s.supplier("S1", credit_limit="10000.00", currency="EUR", rate="1.100000")
    s.supplier("S1", tier="A", updated="2026-06-29T12:00", known="2026-07-01",
               credit_limit="10000.00", currency="EUR", rate="1.100000")
    s.supplier("S2", country="US", industry="Food", tier="C", onboarded="2026-01-01", updated="2026-01-01")
    # EUR rates: 06-25 is the latest visible at D (06-30's rate is only known on 07-01).
    s.fx("2026-06-20", "EUR", "1.100000")
    s.fx("2026-06-25", "EUR", "1.200000")
    s.fx("2026-06-30", "EUR", "1.300000", known="2026-07-01")
    s.txn("T1", order="2026-04-02T10:00", amount="100.00", buyer="B1", status="FULFILLED")  # D-89: inside
    s.txn("T2", order="2026-04-01T10:00", amount="1000.00", buyer="B1")                      # D-90: outside 90d
    s.txn("T3", order="2026-06-01T10:00", amount="200.00", buyer="B2", currency="EUR", rate="1.100000")  # 220 USD
    s.txn("T4", order="2026-06-10T10:00", amount="50.00", buyer="B3")
    s.txn("T4", order="2026-06-10T10:00", amount="50.00", buyer="B3", status="CANCELLED", updated="2026-06-12")
    s.txn("T5", order="2026-05-01T10:00", amount="80.00", buyer="B2", status="RETURNED")
    s.txn("T6", order="2026-06-20T10:00", amount="60.00", buyer="B4")                         # a Saturday
    s.txn("T6", order="2026-06-20T10:00", amount="60.00", buyer="B4", status="CANCELLED",
          updated="2026-06-29T09:00", known="2026-07-02")                                    # known after D
    s.txn("T7", order="2026-06-15T10:00", amount="70.00", supplier="S2", buyer="B5", status="CANCELLED")
    s.txn("T8", order="2026-07-01T00:30", amount="10.00", buyer="B1", known=D)  # accepted on D, ordered on D+1
    d2, d3 = dt.date(2026, 7, 3), dt.date(2026, 7, 10)
    out = features(s, tmp_path, [D, d2, d3])
    card = by_key(out["supplier_scorecard"], "supplier_id", "as_of_date")
    credit = by_key(out["supplier_credit_features"], "supplier_id", "as_of_date")

    c = card["S1", D]
    # window (04-01, 06-30]: T1, T3, T4, T5, T6 (T6 still PLACED at D); T2 on D-90 is out; T8 is not visible
    assert c["orders_90d"] == 5
    assert c["gmv_usd_90d"] == approx(460.0)            # not CANCELLED: 100 + 220 + 80 + 60
    assert c["cancel_rate_90d"] == approx(0.2)          # T4: 1 / 5
    assert c["return_rate_90d"] == approx(0.5)          # RETURNED T5 / (FULFILLED T1 + RETURNED T5)
    assert c["active_buyers_90d"] == 3                  # B1, B2, B4 (B3 only cancelled)
    # gmv shares: B1 100, B2 220 + 80 = 300, B4 60 of 460
    assert c["buyer_hhi_90d"] == approx((100**2 + 300**2 + 60**2) / 460**2)
    assert c["shipments_due_90d"] == 0
    for f in ("otif_rate_90d", "on_time_rate_90d", "unit_fill_rate_90d", "exception_rate_90d",
              "lead_time_mean_90d", "lead_time_p90_90d", "lead_time_cv_90d", "avg_days_late_90d"):
        assert c[f] is None, f

    k = credit["S1", D]
    # invoices (PLACED/FULFILLED at D): T1 100 (04-02), T2 1000 (04-01), T3 220 (06-01), T6 60 (06-20)
    assert k["net_sales_usd_30d"] == approx(280.0)      # (05-31, 06-30]: T3 + T6
    assert k["net_sales_usd_90d"] == approx(380.0)      # T1 + T3 + T6
    assert k["net_sales_usd_180d"] == approx(1380.0)    # (01-01, 06-30]: + T2
    assert k["net_sales_usd_365d"] == approx(1380.0)
    assert k["sales_growth_90d"] == approx(380 / 1000 - 1)  # previous window (01-01, 04-01]: T2
    # buckets (D-30(k+1), D-30k]: k0 = T3 + T6 = 280, k1 = 0, k2 (04-01, 05-01] = T1 100, k3 (03-02, 04-01] =
    # T2 1000, k4 = k5 = 0. Mean 230, population variance (50² + 230² + 130² + 770² + 230² + 230²) / 6 = 128500
    assert k["sales_cv_6m"] == approx(math.sqrt(128500) / 230)
    assert k["txn_count_90d"] == 3
    assert k["avg_ticket_usd_90d"] == approx(380 / 3)
    assert k["weekend_order_share_90d"] == approx(1 / 5)  # T6 on Saturday 06-20, of 5 orders
    assert k["tenure_days"] == 545                        # 2026-06-30 - 2025-01-01
    assert (k["tier"], k["country"], k["industry"]) == ("B", "CN", "Textiles")
    assert k["credit_limit_usd"] == approx(12000.0)       # 10000 EUR x the 06-25 rate 1.2
    # net sales (D-180, D] per buyer: B1 1100, B2 220, B4 60 of 1380
    assert k["top_buyer_share_180d"] == approx(1100 / 1380)
    assert k["buyer_hhi_180d"] == approx((1100**2 + 220**2 + 60**2) / 1380**2)
    # nothing paid: open = 1380; overdue (due < D): T1 due 05-02, T2 due 05-01 -> 1100
    assert k["open_receivables_usd"] == approx(1380.0)
    assert k["overdue_receivables_usd"] == approx(1100.0)
    assert k["overdue_share"] == approx(1100 / 1380)
    assert k["dso_90d"] == approx(1380 / 380 * 90)
    assert k["bpdso_90d"] == approx(280 / 380 * 90)
    assert k["add_90d"] == approx(1100 / 380 * 90)
    assert k["dpd_max_365d"] == 60                        # T2: 06-30 - 05-01 (T1: 59)
    assert k["bad_debt_rate_365d"] == approx(0.0)         # none >= 90 days past due, of 1100 due
    assert k["on_time_payment_rate_180d"] == approx(0.0)  # T1, T2 due in (01-01, 06-30], neither settled
    assert k["otif_rate_90d"] is None
    assert k["return_rate_90d"] == approx(0.5)

    # S2: one cancelled order. Every rate with a 0 denominator is null; counts and sums are 0.
    c2, k2 = card["S2", D], credit["S2", D]
    assert (c2["orders_90d"], c2["gmv_usd_90d"], c2["cancel_rate_90d"]) == (1, 0.0, 1.0)
    assert c2["return_rate_90d"] is None and c2["buyer_hhi_90d"] is None and c2["active_buyers_90d"] == 0
    assert k2["net_sales_usd_90d"] == 0.0 and k2["txn_count_90d"] == 0
    for f in ("sales_growth_90d", "sales_cv_6m", "avg_ticket_usd_90d", "credit_limit_usd", "top_buyer_share_180d",
              "buyer_hhi_180d", "overdue_share", "dso_90d", "bpdso_90d", "add_90d", "dpd_max_365d",
              "bad_debt_rate_365d", "on_time_payment_rate_180d", "otif_rate_90d", "return_rate_90d"):
        assert k2[f] is None, f
    assert k2["weekend_order_share_90d"] == 0.0           # 06-15 is a Monday
    assert k2["tenure_days"] == 180 and k2["tier"] == "C"

    # 07-03: T6's cancellation and the tier change are known; window (04-04, 07-03] loses T1 and T2, has T8.
    c, k = card["S1", d2], credit["S1", d2]
    assert c["orders_90d"] == 5                           # T3, T4, T5, T6, T8
    assert c["cancel_rate_90d"] == approx(2 / 5)          # T4, T6
    assert k["tier"] == "A"
    assert k["credit_limit_usd"] == approx(13000.0)       # the 06-30 rate 1.3, known since 07-01
    # 07-10: the newest rate (06-30) is 10 days old, more than the 7 allowed
    assert credit["S1", d3]["credit_limit_usd"] is None


def receivables_world() -> Silver:
    s = Silver()
    s.supplier("S1")
    s.txn("I1", order="2026-03-01T10:00", due="2026-03-31", amount="100.00")
    s.payment("P1", "I1", "60.00", paid="2026-03-20T10:00")
    s.payment("P2", "I1", "40.00", paid="2026-04-10T10:00")            # settled 04-10: 10 days late
    s.txn("I2", order="2026-04-01T10:00", due="2026-05-01", amount="200.00")
    s.payment("P3", "I2", "200.00", paid="2026-04-20T10:00")           # settled 04-20
    s.payment("R1", "I2", "50.00", paid="2026-05-10T10:00", type="REFUND")  # paid back to 150
    s.txn("I3", order="2026-05-01T10:00", due="2026-06-15", amount="300.00")
    s.payment("P4", "I3", "300.00", paid="2026-06-25T10:00", known="2026-07-02")  # paid before D, known after
    s.txn("I4", order="2026-06-01T10:00", due="2026-06-20", amount="400.00")
    s.payment("P5", "I4", "400.00", paid="2026-07-01T00:30", known=D)  # paid after D (accepted on D)
    s.txn("I5", order="2026-06-25T10:00", due="2026-07-25", amount="500.00")  # not due yet
    s.txn("I0", order="2025-12-01T10:00", due="2026-01-15", amount="1000.00", buyer="B9")  # never paid
    return s


def test_payments_refunds_settlement_and_days_past_due(tmp_path):
    d2 = dt.date(2026, 7, 6)
    out = features(receivables_world(), tmp_path, [D, d2])
    buyers = by_key(out["buyer_credit_features"], "buyer_id", "as_of_date")
    b = buyers["B1", D]
    # At D: I1 settled 04-10 (dpd 10); I2 settled 04-20 before its due date (dpd 0), refund leaves 150 paid;
    # I3 unpaid as far as D knows (dpd 06-30 - 06-15 = 15); I4 unpaid (dpd 10); I5 not due.
    assert b["purchases_usd_90d"] == approx(1200.0)        # (04-01, 06-30]: I3 + I4 + I5 (I2 on D-90 is out)
    assert b["purchase_growth_90d"] == approx(1200 / 300 - 1)  # (01-01, 04-01]: I1 + I2 = 300
    assert b["supplier_count_180d"] == 1
    assert b["outstanding_usd"] == approx(1250.0)          # I2 200 - 150, I3 300, I4 400, I5 500
    assert b["overdue_usd"] == approx(750.0)               # due before D: 50 + 300 + 400
    assert b["invoices_due_180d"] == 4                     # I1, I2, I3, I4
    assert b["late_payment_share_180d"] == approx(3 / 4)   # I1, I3, I4
    assert b["avg_days_late_180d"] == approx((10 + 15 + 10) / 3)
    assert b["payment_ratio_180d"] == approx((100 + 150 + 0 + 0) / 1000)
    assert (b["dpd_now"], b["dpd_bucket_now"]) == (15, "1-29")  # I3 (15) and I4 (10) unsettled and overdue
    assert b["dpd_max_365d"] == 15

    b9 = buyers["B9", D]                                   # I0 due 01-15, unpaid: 16 + 28 + 31 + 30 + 31 + 30 days
    assert b9["purchases_usd_90d"] == 0.0 and b9["purchase_growth_90d"] is None  # previous window is 0 too
    assert (b9["outstanding_usd"], b9["overdue_usd"], b9["invoices_due_180d"]) == (1000.0, 1000.0, 1)
    assert b9["supplier_count_180d"] == 0                  # I0 was ordered before (D-180, D]
    assert (b9["late_payment_share_180d"], b9["avg_days_late_180d"], b9["payment_ratio_180d"]) == (1.0, 166.0, 0.0)
    assert (b9["dpd_now"], b9["dpd_bucket_now"], b9["dpd_max_365d"]) == (166, "90+", 166)

    # 07-06: P4 (paid 06-25) is known and P5 (07-01) paid: I3 dpd 10, I4 dpd 11, nothing unsettled and overdue.
    b = buyers["B1", d2]
    assert (b["dpd_now"], b["dpd_bucket_now"]) == (0, "CURRENT")
    assert b["outstanding_usd"] == approx(550.0)           # I2 50 + I5 500
    assert b["late_payment_share_180d"] == approx(3 / 4)   # I1 10, I3 10, I4 11
    assert b["avg_days_late_180d"] == approx((10 + 10 + 11) / 3)
    assert b["payment_ratio_180d"] == approx((100 + 150 + 300 + 400) / 1000)

    k = by_key(out["supplier_credit_features"], "supplier_id", "as_of_date")["S1", D]
    # S1 has both buyers: open 1250 + 1000, overdue 750 + 1000; net sales 90d 1200 (I3, I4, I5)
    assert k["open_receivables_usd"] == approx(2250.0)
    assert k["overdue_receivables_usd"] == approx(1750.0)
    assert k["overdue_share"] == approx(1750 / 2250)
    assert k["dso_90d"] == approx(2250 / 1200 * 90)        # 168.75
    assert k["bpdso_90d"] == approx(500 / 1200 * 90)       # 37.5
    assert k["add_90d"] == approx(1750 / 1200 * 90)        # 131.25 = dso - bpdso
    assert k["dpd_max_365d"] == 166
    assert k["bad_debt_rate_365d"] == approx(1000 / 2000)  # due in (D-365, D]: I0..I4 = 2000, I0 >= 90 dpd
    assert k["on_time_payment_rate_180d"] == approx(1 / 5)  # I0..I4 due, only I2 settled by its due date


def test_recomputing_a_date_later_gives_the_same_snapshot(tmp_path):
    # What D knew (rows known by D) and everything known later give the same snapshot of D.
    world = receivables_world()
    early = compute_features(world.write(tmp_path / "early", known_by=D), [D])
    late = compute_features(world.write(tmp_path / "late"), [D])
    for name in EXPECTED_COLUMNS:
        assert early[name].equals(late[name]), name
    assert late["buyer_credit_features"].num_rows == 2


def test_dpd_now_buckets(tmp_path):
    s = Silver()
    s.supplier("S1")
    for n in (0, 1, 29, 30, 59, 60, 89, 90):   # one unpaid invoice due n days before D per buyer
        s.txn(f"T{n}", buyer=f"K{n:02d}", order="2026-01-10T10:00", due=D - dt.timedelta(n))
    s.txn("TP", buyer="KPAID", order="2026-01-10T10:00", due=D - dt.timedelta(100))
    s.payment("P", "TP", "100.00", paid="2026-06-01T10:00")  # settled 03-22 + 71 (9 + 30 + 31 + 1): not "now"
    # KOLD: the state is the newest updated_at, not the latest to arrive: an older CANCELLED version
    # (updated 02-01) accepted on 06-01 does not replace the PLACED version updated 03-01
    s.txn("TO", buyer="KOLD", order="2026-01-10T10:00", due=D - dt.timedelta(45), updated="2026-03-01")
    s.txn("TO", buyer="KOLD", order="2026-01-10T10:00", due=D - dt.timedelta(45), status="CANCELLED",
          updated="2026-02-01", known="2026-06-01")
    # KFUT: a cancellation effective 07-01 00:30, accepted on D already: not in effect at D
    s.txn("TF", buyer="KFUT", order="2026-01-10T10:00", due=D - dt.timedelta(40))
    s.txn("TF", buyer="KFUT", order="2026-01-10T10:00", due=D - dt.timedelta(40), status="CANCELLED",
          updated="2026-07-01T00:30", known=D)
    # KTOL: 99.99 paid on 100.00 settles it (cumulative >= amount - 0.01)
    s.txn("TT", buyer="KTOL", order="2026-01-10T10:00", due=D - dt.timedelta(50))
    s.payment("PT", "TT", "99.99", paid="2026-06-01T10:00")
    out = features(s, tmp_path, [D])
    got = {r["buyer_id"]: (r["dpd_now"], r["dpd_bucket_now"]) for r in out["buyer_credit_features"].to_pylist()}
    assert got == {
        "K00": (0, "CURRENT"),  # due today is not past due (due_date < D)
        "K01": (1, "1-29"), "K29": (29, "1-29"),
        "K30": (30, "30-59"), "K59": (59, "30-59"),
        "K60": (60, "60-89"), "K89": (89, "60-89"),
        "K90": (90, "90+"),
        "KPAID": (0, "CURRENT"),
        "KOLD": (45, "30-59"), "KFUT": (40, "30-59"), "KTOL": (0, "CURRENT"),
    }
    assert by_key(out["buyer_credit_features"], "buyer_id")["KPAID"]["dpd_max_365d"] == 71


def shipments_world() -> Silver:
    s = Silver()
    s.supplier("S1")
    s.txn("TA", order="2026-06-01T08:00")
    s.txn("TB", order="2026-06-02T00:00")
    s.txn("TC", order="2026-06-03T00:00")
    s.txn("TD", order="2026-06-04T00:00")
    s.txn("TD", order="2026-06-04T00:00", status="CANCELLED", updated="2026-06-05T00:00")
    s.txn("TE", order="2026-06-05T00:00")
    s.txn("TF", order="2026-06-06T00:00")
    # SH1: partial deliveries, full at the second DELIVERED event, 2 days late (first delivery on time)
    s.shipment("SH1", "TA", quantity=10, promised="2026-06-20", updated="2026-06-01T08:00")
    s.event("E11", "SH1", "PICKED_UP", "2026-06-05T08:00")
    s.event("E12", "SH1", "DELIVERED", "2026-06-18T12:00", quantity=4)
    s.event("E13", "SH1", "DELIVERED", "2026-06-22T12:00", quantity=6)
    # SH2: on time and in full, with an exception
    s.shipment("SH2", "TB", quantity=10, promised="2026-06-25", updated="2026-06-02T00:00")
    s.event("E21", "SH2", "PICKED_UP", "2026-06-03T00:00")
    s.event("E22", "SH2", "EXCEPTION", "2026-06-05T00:00")
    s.event("E23", "SH2", "DELIVERED", "2026-06-10T00:00", quantity=10)
    # SH3: short: 7 of 10 delivered, never in full
    s.shipment("SH3", "TC", quantity=10, promised="2026-06-15", updated="2026-06-03T00:00")
    s.event("E31", "SH3", "PICKED_UP", "2026-06-04T00:00")
    s.event("E32", "SH3", "DELIVERED", "2026-06-14T00:00", quantity=7)
    # SH4: its transaction is CANCELLED: left out everywhere
    s.shipment("SH4", "TD", quantity=5, promised="2026-06-20", updated="2026-06-04T00:00")
    s.event("E41", "SH4", "PICKED_UP", "2026-06-06T00:00")
    s.event("E42", "SH4", "DELIVERED", "2026-06-24T00:00", quantity=5)
    # SH5: nothing delivered, past its promise
    s.shipment("SH5", "TE", quantity=5, promised="2026-06-28", updated="2026-06-05T00:00")
    # SH6: delivered in full early; promised after D (not due in the window)
    s.shipment("SH6", "TF", quantity=2, promised="2026-07-10", updated="2026-06-06T00:00")
    s.event("E61", "SH6", "PICKED_UP", "2026-06-13T00:00")
    s.event("E62", "SH6", "DELIVERED", "2026-06-23T00:00", quantity=2, known="2026-06-24")  # arrives a day late
    return s


def test_shipment_features(tmp_path):
    early, before_e62 = dt.date(2026, 6, 20), dt.date(2026, 6, 23)
    out = features(shipments_world(), tmp_path, [D, early, before_e62])
    card = by_key(out["supplier_scorecard"], "supplier_id", "as_of_date")
    c = card["S1", D]
    # due (promised in (04-01, 06-30]): SH1, SH2, SH3, SH5 (SH4 cancelled, SH6 promised 07-10)
    assert c["shipments_due_90d"] == 4
    assert c["otif_rate_90d"] == approx(1 / 4)        # SH2 (SH1 full 06-22 > 06-20, SH3 short, SH5 nothing)
    assert c["on_time_rate_90d"] == approx(3 / 4)     # first deliveries SH1 06-18, SH2 06-10, SH3 06-14
    assert c["unit_fill_rate_90d"] == approx((10 + 10 + 7 + 0) / (10 + 10 + 10 + 5))
    assert c["exception_rate_90d"] == approx(1 / 4)   # SH2
    # lead times, full delivery in (04-01, 06-30]: SH1 06-22 12:00 - 06-01 08:00 = 21 d 4 h,
    # SH2 06-10 - 06-02 = 8 d, SH6 06-23 - 06-06 = 17 d
    leads = [8.0, 17.0, 21 + 4 / 24]
    assert c["lead_time_mean_90d"] == approx(sum(leads) / 3)
    assert c["lead_time_p90_90d"] == approx(17 + 0.8 * (21 + 4 / 24 - 17))  # position 0.9 x 2 = 1.8
    assert c["lead_time_cv_90d"] == approx(statistics.stdev(leads) / (sum(leads) / 3))
    assert c["avg_days_late_90d"] == approx(2.0)     # SH1: 06-22 - 06-20
    assert c["orders_90d"] == 6

    # 06-20: SH1 has only 4 of 10 (second delivery not yet happened); due in (03-22, 06-20]: SH1, SH3
    c = card["S1", early]
    assert c["shipments_due_90d"] == 2
    assert c["otif_rate_90d"] == approx(0.0)
    assert c["on_time_rate_90d"] == approx(1.0)
    assert c["unit_fill_rate_90d"] == approx((4 + 7) / 20)
    assert c["exception_rate_90d"] == approx(0.0)     # SH2 is not due yet
    assert (c["lead_time_mean_90d"], c["lead_time_p90_90d"]) == (approx(8.0), approx(8.0))  # SH2 only
    assert c["lead_time_cv_90d"] is None              # fewer than 2
    assert c["avg_days_late_90d"] is None

    # 06-23: SH6's delivery (06-23) is only known on 06-24: lead times of SH1 and SH2 only
    assert card["S1", before_e62]["lead_time_mean_90d"] == approx((8.0 + 21 + 4 / 24) / 2)

    credit = by_key(out["supplier_credit_features"], "supplier_id", "as_of_date")
    assert credit["S1", D]["otif_rate_90d"] == approx(0.25)


def test_lane_performance(tmp_path):
    sunday = dt.date(2026, 6, 28)
    out = features(shipments_world(), tmp_path, [D, sunday])
    lanes = by_key(out["lane_performance"], "week_start", "as_of_date")
    lane = {(r["origin_country"], r["destination_country"], r["carrier"], r["mode"])
            for r in out["lane_performance"].to_pylist()}
    assert lane == {("CN", "US", "DHL", "AIR")}
    # D (Tue 06-30): complete weeks end on Sunday 06-28 at the latest.
    # Week of Mon 06-08: SH2 (full 06-10, transit 06-10 - 06-03 = 7 d, 15 days early, an exception)
    w = lanes[dt.date(2026, 6, 8), D]
    assert (w["shipments_delivered"], w["otif_rate"], w["exception_rate"]) == (1, 1.0, 1.0)
    assert (w["transit_days_p50"], w["transit_days_p90"], w["transit_days_mean"]) == (7.0, 7.0, 7.0)
    assert w["transit_days_cv"] is None
    assert w["delay_days_mean"] == approx(-15.0)
    # Week of Mon 06-22: SH1 (full 06-22 12:00, picked up 06-05 08:00: 17 d 4 h; 2 days late) and SH6
    # (06-23 - 06-13 = 10 d; 06-23 - 07-10 = -17). SH4 (delivered 06-24) is cancelled.
    transit = [10.0, 17 + 4 / 24]
    w = lanes[dt.date(2026, 6, 22), D]
    assert (w["shipments_delivered"], w["otif_rate"], w["exception_rate"]) == (2, 0.5, 0.0)
    assert w["transit_days_p50"] == approx(sum(transit) / 2)
    assert w["transit_days_p90"] == approx(10 + 0.9 * (transit[1] - 10))
    assert w["transit_days_mean"] == approx(sum(transit) / 2)
    assert w["transit_days_cv"] == approx(statistics.stdev(transit) / (sum(transit) / 2))
    assert w["delay_days_mean"] == approx((2 - 17) / 2)
    assert len(lanes) == 3
    # On Sunday 06-28 itself the week of 06-22 is not complete yet (its Sunday is not before D).
    assert (dt.date(2026, 6, 8), sunday) in lanes and (dt.date(2026, 6, 22), sunday) not in lanes


def test_default_labels(tmp_path):
    d0, late = dt.date(2026, 1, 1), dt.date(2026, 1, 10)
    s = Silver()
    s.supplier("S1")
    # BA: due 12-15, never paid: due + 90 = 03-15 in (01-01, 06-30] -> default
    s.txn("TA", buyer="BA", order="2025-11-15T10:00", due="2025-12-15")
    # BB: due 12-20, paid 03-01: late, but before due + 90 = 03-20 -> 0
    s.txn("TB", buyer="BB", order="2025-11-20T10:00", due="2025-12-20")
    s.payment("PB", "TB", "100.00", paid="2026-03-01T10:00")
    # BC: due 09-01, unpaid: 122 days past due at D -> already in default, no row
    s.txn("TC", buyer="BC", order="2025-08-01T10:00", due="2025-09-01")
    # BD: due 05-01: due + 90 = 07-30 is after L -> 0
    s.txn("TD", buyer="BD", order="2025-12-01T10:00", due="2026-05-01")
    # BE: settled exactly on due + 90 (12-10 + 90 = 03-10): not later -> 0
    s.txn("TE", buyer="BE", order="2025-11-10T10:00", due="2025-12-10")
    s.payment("PE", "TE", "100.00", paid="2026-03-10T10:00")
    # BF: paid on 03-01 but known only on 07-05, after L = 06-30: not settled as known at L -> default
    s.txn("TF", buyer="BF", order="2025-11-10T10:00", due="2025-12-10")
    s.payment("PF", "TF", "100.00", paid="2026-03-01T10:00", known="2026-07-05")
    # BH: settled 04-01, after due + 90 = 03-10 -> default
    s.txn("TH", buyer="BH", order="2025-11-10T10:00", due="2025-12-10")
    s.payment("PH", "TH", "100.00", paid="2026-04-01T10:00")
    # BG: an invoice at D, RETURNED (void) at L -> 0
    s.txn("TG", buyer="BG", order="2025-11-15T10:00", due="2025-12-15")
    s.txn("TG", buyer="BG", order="2025-11-15T10:00", due="2025-12-15", status="RETURNED", updated="2026-02-01")
    # newest known date is 07-05: labels exist for d0 (L = 06-30), not for 01-10 (L = 07-09)
    out = features(s, tmp_path, [d0], label_dates=[d0, late])
    labels = out["buyer_default_labels"].to_pylist()
    assert {r["as_of_date"] for r in labels} == {d0}
    assert {r["label_date"] for r in labels} == {dt.date(2026, 6, 30)}
    assert {r["buyer_id"]: r["default_180d"] for r in labels} == {
        "BA": 1, "BB": 0, "BD": 0, "BE": 0, "BF": 1, "BG": 0, "BH": 1,
    }
    dpd_now = {r["buyer_id"]: r["dpd_now"] for r in out["buyer_credit_features"].to_pylist()}
    assert dpd_now["BC"] == 122 and dpd_now["BA"] == 17   # 01-01 - 09-01; 01-01 - 12-15


def test_payment_in_another_currency_counts_at_the_invoice_rate(tmp_path):
    s = Silver()
    s.supplier("S1")
    # X1: 100.00 EUR at 1.1 = 110 USD; paid 55.00 USD -> round(55 / 1.1, 2) = 50.00 EUR = 55 USD, then
    # 10.00 USD -> round(9.0909.., 2) = 9.09 EUR = 9.999 USD. Outstanding 110 - 55 - 9.999 = 45.001.
    s.txn("X1", buyer="BX", order="2026-06-01T10:00", amount="100.00", currency="EUR", rate="1.100000")
    s.payment("PX1", "X1", "55.00", paid="2026-06-10T10:00")
    s.payment("PX2", "X1", "10.00", paid="2026-06-11T10:00")
    # Y1: 10.00 USD; paid 0.67 EUR at 1.5 = 1.005 USD -> round(1.005, 2) half up = 1.01. Outstanding 8.99.
    s.txn("Y1", buyer="BY", order="2026-06-01T10:00", amount="10.00")
    s.payment("PY1", "Y1", "0.67", paid="2026-06-10T10:00", currency="EUR", rate="1.500000")
    out = features(s, tmp_path, [D])
    buyers = by_key(out["buyer_credit_features"], "buyer_id")
    assert buyers["BX"]["outstanding_usd"] == approx(45.001)
    assert buyers["BY"]["outstanding_usd"] == approx(8.99)
