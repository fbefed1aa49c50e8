"""Every gold feature on hand-built silver rows, against values worked out by hand from features.md
(and docs/gold_features.md where it leaves a choice). The arithmetic is in the comments.

The main scenario is the snapshot of D = 2026-06-30 (a Tuesday) for supplier S1 (S2 has one old
invoice) and buyers B1..B4. It holds, on purpose: an order on D-90 (outside the 90-day window) and one
on D-89 (inside); a cancelled order with a shipment (left out); a return with a refund; an EUR invoice
(FX); a partial delivery; a short shipment never delivered in full; a payment paid before D but known
only after D; a cancellation, a supplier version and an FX rate known only after D; a refund that does
not unsettle an invoice; denominators of 0.
"""
from __future__ import annotations

import datetime as dt
import math

import pytest
import silver_builder as sb
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from tradelake.gold.compute import compute_range

D = dt.date(2026, 6, 30)

TRANSACTIONS = [
    # T0: S1/B4, 500 USD, due 2025-12-31, never paid
    sb.txn("T0", "2025-12-01T10:00", 500, buyer="B4", due="2025-12-31"),
    sb.txn("T0", "2025-12-01T10:00", 500, buyer="B4", due="2025-12-31", status="FULFILLED", updated="2025-12-10"),
    # T1: ordered D-89 (inside), 100, due 05-02
    sb.txn("T1", "2026-04-02T12:00", 100, due="2026-05-02"),
    sb.txn("T1", "2026-04-02T12:00", 100, due="2026-05-02", status="FULFILLED", updated="2026-04-20"),
    # T2: ordered D-90 (outside the 90-day windows), 200, due 05-01
    sb.txn("T2", "2026-04-01T09:00", 200, due="2026-05-01"),
    sb.txn("T2", "2026-04-01T09:00", 200, due="2026-05-01", status="FULFILLED", updated="2026-04-10"),
    # T3: cancelled (its shipment is left out)
    sb.txn("T3", "2026-06-01T08:00", 50, buyer="B2", due="2026-07-01"),
    sb.txn("T3", "2026-06-01T08:00", 50, buyer="B2", due="2026-07-01", status="CANCELLED", updated="2026-06-02"),
    # T4: returned (void: owes nothing)
    sb.txn("T4", "2026-06-10T10:00", 80, buyer="B2", due="2026-07-10"),
    sb.txn("T4", "2026-06-10T10:00", 80, buyer="B2", due="2026-07-10", status="FULFILLED", updated="2026-06-15"),
    sb.txn("T4", "2026-06-10T10:00", 80, buyer="B2", due="2026-07-10", status="RETURNED", updated="2026-06-25"),
    # T5: 300 EUR at 1.1 = 330 USD, a Saturday
    sb.txn("T5", "2026-06-20T09:00", 300, buyer="B3", due="2026-07-20", currency="EUR", rate="1.1"),
    # T6: a Sunday; its cancellation happens and is known after D: PLACED at D
    sb.txn("T6", "2026-06-28T11:00", 40, due="2026-07-28"),
    sb.txn("T6", "2026-06-28T11:00", 40, due="2026-07-28", status="CANCELLED", updated="2026-07-02"),
    # T7: supplier S2, buyer B1, 60, due 04-14
    sb.txn("T7", "2026-03-15T10:00", 60, supplier="S2", due="2026-04-14"),
    sb.txn("T7", "2026-03-15T10:00", 60, supplier="S2", due="2026-04-14", status="FULFILLED", updated="2026-03-20"),
]
PAYMENTS = [
    sb.payment("P1", "T1", 100, "2026-05-10"),                # settles T1 on 05-10: dpd 8
    sb.payment("R1", "T1", 30, "2026-06-05", type="REFUND"),  # paid 70, still settled (first date reached)
    sb.payment("P2", "T2", 200, "2026-04-30"),                # on time: dpd 0
    sb.payment("P4", "T4", 80, "2026-06-12"),
    sb.payment("R4", "T4", 80, "2026-06-26", type="REFUND"),
    sb.payment("P5", "T5", 100, "2026-06-25", currency="EUR", rate="1.1"),  # 100 EUR x 1.1 = 110 USD
    sb.payment("P5b", "T5", 50, "2026-06-29", currency="EUR", rate="1.1", known="2026-07-01"),  # known after D
    sb.payment("P7", "T7", 60, "2026-04-20"),                 # T7 settled 6 days late
]
SHIPMENTS = [
    sb.shipment("SH1", "T1", 10, "2026-04-25", created="2026-04-03"),
    sb.shipment("SH2", "T2", 3, "2026-04-01", created="2026-04-01T10:00"),   # promised on D-90: outside
    sb.shipment("SH3", "T3", 5, "2026-06-10", created="2026-06-01T12:00"),   # transaction cancelled
    sb.shipment("SH4", "T4", 8, "2026-06-14", created="2026-06-10T12:00"),
    sb.shipment("SH5", "T5", 20, "2026-06-28", created="2026-06-20T12:00"),
    sb.shipment("SH6", "T6", 4, "2026-07-05", created="2026-06-28T12:00"),   # due after D
]
EVENTS = [
    sb.event("E11", "SH1", "PICKED_UP", "2026-04-05T00:00"),
    sb.event("E12", "SH1", "EXCEPTION", "2026-04-10T00:00"),
    sb.event("E13", "SH1", "DELIVERED", "2026-04-20T12:00", 6),   # first delivery, on time
    sb.event("E14", "SH1", "DELIVERED", "2026-04-28T12:00", 4),   # full delivery, 3 days late
    sb.event("E21", "SH2", "DELIVERED", "2026-04-01T18:00", 3),
    sb.event("E31", "SH3", "DELIVERED", "2026-06-09T10:00", 5),
    sb.event("E41", "SH4", "PICKED_UP", "2026-06-11T10:00"),
    sb.event("E42", "SH4", "DELIVERED", "2026-06-14T10:00", 8),   # in full, on the promised day
    sb.event("E51", "SH5", "DELIVERED", "2026-06-27T09:00", 10),  # short: 10 of 20, never completed
]
SUPPLIERS = [
    sb.supplier("S1", "2026-01-10", tier="A", onboarded="2025-06-30", credit_limit=10000, currency="EUR"),
    sb.supplier("S1", "2026-06-29", tier="B", onboarded="2025-06-30", credit_limit=20000, currency="EUR"),
    sb.supplier("S1", "2026-06-30T08:00", tier="C", onboarded="2025-06-30", credit_limit=1, currency="EUR",
                known="2026-07-01"),  # known after D
    sb.supplier("S2", "2026-01-05", tier="B", country="DE", industry="Machinery", onboarded="2024-01-01"),
]
FX = [
    sb.fx("2026-06-26", "EUR", "1.10"),
    sb.fx("2026-06-29", "EUR", "1.20", known="2026-07-01"),  # known after D: D uses 06-26's (fallback)
]


@pytest.fixture(scope="module")
def snapshot(spark):
    silver = sb.silver(spark, transactions=TRANSACTIONS, payments=PAYMENTS, shipments=SHIPMENTS,
                       shipment_events=EVENTS, suppliers=SUPPLIERS, fx_rates=FX)
    gold, _, _ = compute_range(silver, D, D)
    return gold


def _plain(df):
    """Without column metadata (comments inherited from silver), which chispa's approximate comparison checks."""
    return df.select(*[F.col(f.name).alias(f.name, metadata={}) for f in df.schema.fields])


def _expected(spark, columns: list[str], rows: list[tuple], schema_from):
    types = {f.name: f.dataType.simpleString() for f in schema_from.schema.fields}
    return spark.createDataFrame(rows, ", ".join(f"{c} {types[c]}" for c in columns))


def test_supplier_scorecard(spark, snapshot):
    cols = ["supplier_id", "as_of_date", "orders_90d", "gmv_usd_90d", "cancel_rate_90d", "return_rate_90d",
            "shipments_due_90d", "otif_rate_90d", "on_time_rate_90d", "unit_fill_rate_90d", "exception_rate_90d",
            "lead_time_mean_90d", "lead_time_cv_90d", "avg_days_late_90d", "active_buyers_90d", "buyer_hhi_90d"]
    got = _plain(snapshot.supplier_scorecard.select(*cols))
    expected = _expected(spark, cols, [
        # S1: orders in (04-01, 06-30]: T1, T3, T4, T5, T6 = 5 (T2 on D-90 is out); CANCELLED: T3 -> 1/5;
        # RETURNED / (FULFILLED + RETURNED) = T4 / (T1 + T4) = 1/2; GMV (not cancelled) = 100 + 80 + 330 + 40 = 550.
        # Shipments due: SH1, SH4, SH5 (SH2 promised on D-90, SH3 cancelled, SH6 due after D) = 3;
        # OTIF: SH4 only (SH1 full on 04-28 > 04-25, SH5 never full) -> 1/3; on time (first delivery): all 3;
        # fill: (min(10,10) + 8 + min(10,20)) / (10 + 8 + 20) = 28/38; exceptions: SH1 -> 1/3.
        # Lead times (full delivery in window): SH1 04-02T12 -> 04-28T12 = 26 d, SH4 06-10T10 -> 06-14T10 = 4 d:
        # mean 15, stddev_samp sqrt(((26-15)^2 + (4-15)^2) / 1) = sqrt(242), cv = sqrt(242)/15.
        # Late among due: SH1, 04-28 - 04-25 = 3 days. Buyers of non-cancelled orders: B1 (T1, T6), B2 (T4), B3 (T5)
        # = 3; GMV shares: B1 140, B2 80, B3 330 of 550 -> HHI = (140^2 + 80^2 + 330^2) / 550^2.
        ("S1", D, 5, 550.0, 0.2, 0.5, 3, 1 / 3, 1.0, 28 / 38, 1 / 3, 15.0, math.sqrt(242) / 15, 3.0, 3,
         (140**2 + 80**2 + 330**2) / 550**2),
        # S2: T7 ordered 03-15 is in (D-365, D] (a row) but not in the 90-day window: counts 0, rates null.
        ("S2", D, 0, 0.0, None, None, 0, None, None, None, None, None, None, None, 0, None),
    ], snapshot.supplier_scorecard)
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_lead_time_p90_is_within_half_a_percent(snapshot):
    # Linear interpolation over (4, 26): h = (2 - 1) x 0.9 -> 4 + 0.9 x (26 - 4) = 23.8. The Spark side reads it
    # from a histogram whose bins represent every value within 0.5%.
    got = snapshot.supplier_scorecard.where("supplier_id = 'S1'").first()["lead_time_p90_90d"]
    assert got == pytest.approx(23.8, rel=0.005)


def test_supplier_credit_features(spark, snapshot):
    cols = [f.name for f in snapshot.supplier_credit_features.schema.fields]
    got = _plain(snapshot.supplier_credit_features.select(*cols))
    # S1 invoices at D (PLACED/FULFILLED): T0 500, T1 100, T2 200, T5 330, T6 40 (T3 cancelled, T4 returned).
    # Net sales by order date: 30d (05-31, 06-30]: T5 + T6 = 370; 90d: + T1 = 470; 180d: + T2 = 670;
    # 365d: + T0 = 1170. Earlier 90 days (01-01, 04-01]: T2 = 200 -> growth 470/200 - 1 = 1.35.
    buckets = [370, 0, 100, 200, 0, 0]  # (D-30(k+1), D-30k], k = 0..5: T1 (04-02) in k=2, T2 (04-01) in k=3
    mean = sum(buckets) / 6
    cv = math.sqrt(sum((b - mean) ** 2 for b in buckets) / 6) / mean
    # Open: T0 500, T1 100 - 70 = 30, T2 0, T5 330 - 100 x 1.1 = 220 (P5b known after D), T6 40 -> 790;
    # overdue (due < D): T0 500 + T1 30 = 530. dpd: T0 not settled, D - 2025-12-31 = 181; T1 8; T2 0.
    # Due in (D-365, D]: T0, T1, T2 -> bad debt 500 / 800; due in (D-180, D]: T1 (late), T2 (on time) -> 1/2.
    # Invoices ordered in (D-180, D] by buyer: B1 100 + 200 + 40 = 340, B3 330: top 340/670, HHI (340^2 + 330^2)/670^2.
    # Supplier version at D: 06-29's (tier B; the 06-30 one is known on 07-01), limit 20000 EUR at 06-26's
    # rate 1.10 (06-29's is known on 07-01) = 22000; tenure D - 2025-06-30 = 365. Orders (any status) in
    # window: 5, on Sat/Sun: T5 (Sat 06-20), T6 (Sun 06-28) -> 2/5.
    s1 = ("S1", D, 370.0, 470.0, 670.0, 1170.0, 470 / 200 - 1, cv, 3, 470 / 3, 2 / 5, 365, "B", "CN", "Textiles",
          22000.0, 340 / 670, (340**2 + 330**2) / 670**2, 790.0, 530.0, 530 / 790, 790 / 470 * 90, 260 / 470 * 90,
          530 / 470 * 90, 181, 500 / 800, 0.5, 1 / 3, 0.5)
    # S2: T7 (B1, 60, ordered 03-15, due 04-14, paid 04-20: dpd 6) only. Buckets: T7 in k=3 (03-02, 04-01]:
    # [0, 0, 0, 60, 0, 0], mean 10, stddev_pop sqrt((5 x 10^2 + 50^2) / 6) = sqrt(500). Growth 0/60 - 1 = -1.
    s2 = ("S2", D, 0.0, 0.0, 60.0, 60.0, -1.0, math.sqrt(500) / 10, 0, None, None, 911, "B", "DE", "Machinery",
          None, 1.0, 1.0, 0.0, 0.0, None, None, None, None, 6, 0.0, 0.0, None, None)
    expected = _expected(spark, cols, [s1, s2], snapshot.supplier_credit_features)
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_buyer_credit_features(spark, snapshot):
    cols = [f.name for f in snapshot.buyer_credit_features.schema.fields]
    got = _plain(snapshot.buyer_credit_features.select(*cols))
    expected = _expected(spark, cols, [
        # B1: invoices T1 (100, paid 70, due 05-02, settled 05-10), T2 (200, due 05-01, settled 04-30), T6 (40,
        # PLACED at D), T7 (S2, 60, due 04-14, settled 04-20). Purchases (04-01, 06-30]: T1 + T6 = 140; earlier:
        # T2 + T7 = 260. Suppliers in 180 days: S1, S2. Outstanding: 30 + 40 = 70; overdue: T1 30.
        # Due in (01-01, 06-30]: T1 (dpd 8), T2 (0), T7 (6): late 2/3, mean 7; paid min(70,100) + 200 + 60 of 360.
        ("B1", D, 140.0, 140 / 260 - 1, 2, 70.0, 30.0, 3, 2 / 3, 7.0, 330 / 360, 0, "CURRENT", 8),
        # B2: only void transactions (T3 cancelled, T4 returned): a row, nothing owed, ratios null.
        ("B2", D, 0.0, None, 0, 0.0, 0.0, 0, None, None, None, 0, "CURRENT", None),
        # B3: T5 330, 110 paid, due after D.
        ("B3", D, 330.0, None, 1, 220.0, 0.0, 0, None, None, None, 0, "CURRENT", None),
        # B4: T0 500 never paid, due 2025-12-31: 181 days past due; not due in the last 180 days.
        ("B4", D, 0.0, None, 0, 500.0, 500.0, 0, None, None, None, 181, "90+", 181),
    ], snapshot.buyer_credit_features)
    assert_approx_df_equality(got, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_snapshot_ignores_what_was_known_after_d(spark, snapshot):
    """The same snapshot from silver cut at D: everything known later (T6's cancellation, P5b, S1's
    third version, 06-29's FX rate) changed nothing."""
    silver = sb.silver(
        spark,
        transactions=[r for r in TRANSACTIONS if r["_known_date"] <= D],
        payments=[r for r in PAYMENTS if r["_known_date"] <= D],
        shipments=SHIPMENTS, shipment_events=EVENTS,
        suppliers=[r for r in SUPPLIERS if r["_known_date"] <= D], fx_rates=[r for r in FX if r["_known_date"] <= D],
    )
    cut, _, _ = compute_range(silver, D, D)
    for name in ("supplier_scorecard", "supplier_credit_features", "buyer_credit_features"):
        assert_df_equality(getattr(cut, name), getattr(snapshot, name), ignore_row_order=True)


# -------------------------------------------------------------------------------------------------
# Lanes: D = 2026-06-30 reports the 13 ISO weeks 03-30 .. 06-22 (Sunday 06-28 is the last complete one)
# -------------------------------------------------------------------------------------------------
def _lane_shipment(n: int, promised: str, delivered: list[tuple[str, int]], *, pickup: str | None = None,
                   cancelled: bool = False, carrier="Maersk", mode="SEA", delivered_known: str | None = None,
                   exception: bool = False):
    t = f"LT{n}"
    txns = [sb.txn(t, "2026-03-20T10:00", 10)]
    if cancelled:
        txns.append(sb.txn(t, "2026-03-20T10:00", 10, status="CANCELLED", updated="2026-06-27"))
    qty = sum(q for _, q in delivered)
    ships = [sb.shipment(f"L{n}", t, qty, promised, created="2026-03-21", carrier=carrier, mode=mode)]
    events = [sb.event(f"L{n}-p", f"L{n}", "PICKED_UP", pickup)] if pickup else []
    events += [sb.event(f"L{n}-d{i}", f"L{n}", "DELIVERED", at, q, known=delivered_known)
               for i, (at, q) in enumerate(delivered)]
    if exception:
        events.append(sb.event(f"L{n}-x", f"L{n}", "EXCEPTION", "2026-06-15T00:00"))
    return txns, ships, events


def test_lane_performance(spark):
    parts = [
        _lane_shipment(1, "2026-06-24", [("2026-06-23T12:00", 5)], pickup="2026-06-10T00:00"),   # 13.5 d, on time
        _lane_shipment(2, "2026-06-20", [("2026-06-25T00:00", 5)], pickup="2026-06-12T00:00", exception=True),  # 13 d, +5
        _lane_shipment(3, "2026-06-20", [("2026-06-22T00:00", 2), ("2026-06-26T06:00", 2)],
                       pickup="2026-06-15T00:00"),                                              # full 06-26T06: 11.25 d, +6
        _lane_shipment(4, "2026-06-30", [("2026-06-29T00:00", 1)], pickup="2026-06-20T00:00"),   # week of 06-29: incomplete
        _lane_shipment(5, "2026-06-30", [("2026-06-23T00:00", 1)], pickup="2026-06-20T00:00", cancelled=True),
        _lane_shipment(6, "2026-06-30", [("2026-06-24T00:00", 1)], pickup="2026-06-20T00:00",
                       delivered_known="2026-07-01"),                                           # known after D
        _lane_shipment(7, "2026-04-02", [("2026-04-01T00:00", 1)], carrier="DHL", mode="AIR"),   # week 03-30, no pickup
        _lane_shipment(8, "2026-03-29", [("2026-03-29T00:00", 1)], carrier="DHL", mode="AIR"),   # week 03-23: 14th week back
    ]
    silver = sb.silver(spark, transactions=[t for p in parts for t in p[0]], shipments=[s for p in parts for s in p[1]],
                       shipment_events=[e for p in parts for e in p[2]])
    gold, _, _ = compute_range(silver, D, D)
    transit = [11.25, 13.0, 13.5]
    mean = sum(transit) / 3
    sd = math.sqrt(sum((t - mean) ** 2 for t in transit) / 2)
    quantiles = ["transit_days_p50", "transit_days_p90"]
    cols = [f.name for f in gold.lane_performance.schema.fields if f.name not in quantiles]
    expected = _expected(spark, cols, [
        # 3 shipments (L4 in an incomplete week, L5 cancelled, L6 not known at D); on time in full: L1 only;
        # delays -1, +5, +6.
        ("CN", "DE", "Maersk", "SEA", dt.date(2026, 6, 22), D, 3, 1 / 3, mean, sd / mean, 10 / 3, 1 / 3),
        # No pickup: no transit time; delivered a day before the promise.
        ("CN", "DE", "DHL", "AIR", dt.date(2026, 3, 30), D, 1, 1.0, None, None, -1.0, 0.0),
    ], gold.lane_performance)
    assert_approx_df_equality(_plain(gold.lane_performance.select(*cols)), expected, 1e-9, ignore_row_order=True,
                              ignore_nullable=True)
    # Transit p50 = 13.0, p90: h = 2 x 0.9 = 1.8 -> 13.0 + 0.8 x (13.5 - 13.0) = 13.4 (histogram: within 0.5%).
    q = {(r["mode"]): (r["transit_days_p50"], r["transit_days_p90"]) for r in gold.lane_performance.collect()}
    assert q["SEA"] == (pytest.approx(13.0, rel=0.005), pytest.approx(13.4, rel=0.005))
    assert q["AIR"] == (None, None)


# -------------------------------------------------------------------------------------------------
# Labels: the label of D' = 2026-01-15 is computed with what is known on L = D' + 180 = 2026-07-14
# -------------------------------------------------------------------------------------------------
def test_default_labels(spark):
    d, last = dt.date(2026, 1, 15), dt.date(2026, 7, 14)
    txns = [
        sb.txn("A1", "2026-01-10T10:00", 100, buyer="BA", due="2026-03-01"),   # due + 90 = 05-30, never paid: 1
        sb.txn("B1", "2026-01-05T10:00", 100, buyer="BB", due="2026-02-04"),   # paid 04-20 < due + 90 (05-05): 0
        sb.txn("C1", "2025-08-01T10:00", 100, buyer="BC", due="2025-08-31"),   # 137 days past due at D': no row
        sb.txn("D1", "2026-01-12T10:00", 100, buyer="BD", due="2026-02-11"),   # paid on due + 90 (05-12): 0
        sb.txn("D2", "2026-06-01T10:00", 100, buyer="BD", due="2026-07-01"),   # due + 90 = 09-29, after D' + 180
        sb.txn("E1", "2026-01-14T10:00", 100, buyer="BE", due="2026-02-13"),   # paid 05-10, but known after L: 1
        sb.txn("F1", "2026-01-02T10:00", 100, buyer="BF", due="2026-02-01"),   # returned: void, 0
        sb.txn("F1", "2026-01-02T10:00", 100, buyer="BF", due="2026-02-01", status="RETURNED", updated="2026-02-20"),
    ]
    pays = [
        sb.payment("PB", "B1", 100, "2026-04-20"),
        sb.payment("PD", "D1", 100, "2026-05-12"),
        sb.payment("PE", "E1", 100, "2026-05-10", known="2026-07-20"),
    ]
    gold, _, _ = compute_range(sb.silver(spark, transactions=txns, payments=pays), d, last)
    expected = spark.createDataFrame(
        [("BA", d, 1, last), ("BB", d, 0, last), ("BD", d, 0, last), ("BE", d, 1, last), ("BF", d, 0, last)],
        "buyer_id string, as_of_date date, default_180d int, label_date date",
    )
    assert_df_equality(gold.buyer_default_labels, expected, ignore_row_order=True, ignore_nullable=True,
                       ignore_metadata=True)


# -------------------------------------------------------------------------------------------------
# The 180- and 365-day edges: DE = 2026-09-30 (a Wednesday). D-180 = 04-03 (outside every 180-day window),
# D-179 = 04-04 (inside), D-365 = 2025-09-30 (outside every 365-day window), D-364 = 2025-10-01 (inside).
# Order edges and due-date edges are kept apart: the orders on the edges are all due after DE (2026-10-30),
# so they stay out of the due-date windows; the invoices due on the edges were all ordered on D-400
# (2025-08-26), outside every order window. Everything is in USD (rate 1).
# -------------------------------------------------------------------------------------------------
DE = dt.date(2026, 9, 30)


def _ago(n: int) -> str:
    """DE - n days, as the builders take it (noon UTC for a date)."""
    return (DE - dt.timedelta(days=n)).isoformat()


AFTER_DE = _ago(-30)  # 2026-10-30: the due date of the order-edge invoices
EDGE_TRANSACTIONS = [
    # Order edges (invoices: PLACED; never paid, due after DE)
    sb.txn("O1", _ago(365), 1000, buyer="B1", due=AFTER_DE),  # D-365: outside every window
    sb.txn("O2", _ago(364), 300, buyer="B1", due=AFTER_DE),   # D-364: in the 365-day windows only
    sb.txn("O3", _ago(180), 500, buyer="B2", due=AFTER_DE),   # D-180: in 365, outside 180 and bucket k=5
    sb.txn("O4", _ago(179), 200, buyer="B1", due=AFTER_DE),   # D-179: in 180, 365 and bucket k=5
    sb.txn("O6", _ago(10), 150, buyer="B2", due=AFTER_DE),    # D-10: every window, bucket k=0
    sb.txn("X1", _ago(180), 400, supplier="S2", buyer="B1", due=AFTER_DE),  # S2 for B1 on D-180: out of 180
    sb.txn("X2", _ago(179), 250, supplier="S2", buyer="B2", due=AFTER_DE),  # S2 for B2 on D-179: in 180
    sb.txn("O8", _ago(364), 70, supplier="S8", buyer="B8", due=AFTER_DE),   # S8/B8's only order: D-364 -> rows
    sb.txn("O9", _ago(365), 90, supplier="S9", buyer="B9", due=AFTER_DE),   # S9/B9's only order: D-365 -> no rows
    # Due-date edges (supplier S1, ordered D-400)
    sb.txn("U1", _ago(400), 100, buyer="B1", due=_ago(180)),   # never paid: dpd 180
    sb.txn("U2", _ago(400), 200, buyer="B1", due=_ago(179)),   # paid in full D-170: dpd 9
    sb.txn("U9", _ago(400), 300, buyer="B1", due=_ago(179)),   # paid in full D-180, before due: dpd 0
    sb.txn("U3", _ago(400), 300, buyer="B2", due=_ago(180)),   # paid in full D-181, before due: dpd 0
    sb.txn("U4", _ago(400), 400, buyer="B2", due=_ago(179)),   # 100 paid D-175, not settled: dpd 179
    sb.txn("U5", _ago(400), 1000, buyer="B1", due=_ago(365)),  # never paid: dpd 365 (>= 90)
    sb.txn("U7", _ago(400), 50, buyer="B1", due=_ago(364)),    # never paid: dpd 364 (>= 90)
    sb.txn("U8", _ago(400), 20, buyer="B2", due=_ago(365)),    # paid in full D-165: dpd 200 (>= 90)
    sb.txn("U6", _ago(400), 600, buyer="B2", due=_ago(364)),   # paid in full D-174: dpd 190 (>= 90)
]
EDGE_PAYMENTS = [
    sb.payment("PU2", "U2", 200, _ago(170)),   # settled D-170: (D-170) - (D-179) = 9 days late
    sb.payment("PU9", "U9", 300, _ago(180)),   # settled D-180 <= due D-179: on time
    sb.payment("PU3", "U3", 300, _ago(181)),   # settled D-181 <= due D-180: on time
    sb.payment("PU4", "U4", 100, _ago(175)),   # 100 of 400: not settled
    sb.payment("PU8", "U8", 20, _ago(165)),    # settled D-165: (D-165) - (D-365) = 200
    sb.payment("PU6", "U6", 600, _ago(174)),   # settled D-174: (D-174) - (D-364) = 190
]


@pytest.fixture(scope="module")
def edges(spark):
    gold, _, _ = compute_range(sb.silver(spark, transactions=EDGE_TRANSACTIONS, payments=EDGE_PAYMENTS), DE, DE)
    return gold


def _edge_rows(spark, gold_table, cols: list[str], rows: list[tuple]):
    got = _plain(gold_table.select(*cols))
    assert_approx_df_equality(got, _expected(spark, cols, rows, gold_table), 1e-9, ignore_row_order=True,
                              ignore_nullable=True)


def test_edges_rows_start_at_d_minus_364(spark, edges):
    # Rows: entities with a transaction ordered in (D-365, D] = (2025-09-30, 2026-09-30].
    # S1: O2..O6; S2: X1, X2; S8: O8 on D-364 -> rows. S9: only O9 on D-365 -> no row.
    # B1: O2, O4, X1; B2: O3, O6, X2; B8: O8 on D-364 -> rows. B9: only O9 on D-365 -> no row.
    # (The invoices U* ordered on D-400 make no row by themselves; their buyers have rows from other orders.)
    for table in (edges.supplier_scorecard, edges.supplier_credit_features):
        _edge_rows(spark, table, ["supplier_id", "as_of_date"], [("S1", DE), ("S2", DE), ("S8", DE)])
    _edge_rows(spark, edges.buyer_credit_features, ["buyer_id", "as_of_date"], [("B1", DE), ("B2", DE), ("B8", DE)])


def test_edges_supplier_sales_180d_365d(spark, edges):
    cols = ["supplier_id", "as_of_date", "net_sales_usd_180d", "net_sales_usd_365d", "top_buyer_share_180d",
            "buyer_hhi_180d"]
    _edge_rows(spark, edges.supplier_credit_features, cols, [
        # S1 orders: O1 1000 (D-365), O2 300 (D-364), O3 500 (D-180), O4 200 (D-179), O6 150 (D-10); the U* were
        # ordered on D-400. 180d (D-180, D]: O4 + O6 = 350. 365d (D-365, D]: O2 + O3 + O4 + O6 = 1150.
        # Buyers over (D-180, D]: B1 200 (O4), B2 150 (O6; O3 on D-180 is out) -> top 200/350 = 4/7,
        # HHI (200^2 + 150^2) / 350^2 = 62500 / 122500 = 25/49.
        ("S1", DE, 350.0, 1150.0, 4 / 7, 25 / 49),
        # S2: X1 400 (D-180, B1), X2 250 (D-179, B2). 180d: X2 = 250; 365d: 650. One buyer in 180 days: 1, 1.
        ("S2", DE, 250.0, 650.0, 1.0, 1.0),
        # S8: O8 70 on D-364: 180d 0; 365d 70; no net sales in 180 days: share and HHI null (denominator 0).
        ("S8", DE, 0.0, 70.0, None, None),
    ])


def test_edges_sales_cv_6m_buckets(spark, edges):
    # Buckets (D-30(k+1), D-30k], k = 0..5. k=0 (D-30, D]: O6 150; k=5 (D-180, D-150]: O4 (D-179) 200, not
    # O3 (D-180, which is in no bucket). S1: [150, 0, 0, 0, 0, 200], mean 350/6 = 175/3;
    # sum of squared deviations (150 - 175/3)^2 + 4 x (175/3)^2 + (200 - 175/3)^2
    #   = (275^2 + 4 x 175^2 + 425^2) / 9 = (75625 + 122500 + 180625) / 9 = 378750 / 9;
    # stddev_pop = sqrt(378750 / 9 / 6), cv = that / (175/3) = sqrt(378750 / 54) x 3 / 175.
    s1_cv = math.sqrt(378750 / 54) * 3 / 175
    buckets = [150, 0, 0, 0, 0, 200]  # the same, computed: a check of the arithmetic above
    mean = sum(buckets) / 6
    assert s1_cv == pytest.approx(math.sqrt(sum((b - mean) ** 2 for b in buckets) / 6) / mean, rel=1e-12)
    _edge_rows(spark, edges.supplier_credit_features, ["supplier_id", "as_of_date", "net_sales_usd_30d", "sales_cv_6m"], [
        ("S1", DE, 150.0, s1_cv),
        # S2: [0, 0, 0, 0, 0, 250] (X2 on D-179; X1 on D-180 in no bucket): mean m = 250/6, stddev_pop
        # sqrt((5 m^2 + (6m - m)^2) / 6) = sqrt(30 m^2 / 6) = m sqrt(5) -> cv sqrt(5).
        ("S2", DE, 0.0, math.sqrt(5)),
        # S8: all six buckets 0 (O8 on D-364): mean 0 -> null.
        ("S8", DE, 0.0, None),
    ])


def test_edges_supplier_payments_due_180d_365d(spark, edges):
    cols = ["supplier_id", "as_of_date", "on_time_payment_rate_180d", "dpd_max_365d", "bad_debt_rate_365d"]
    _edge_rows(spark, edges.supplier_credit_features, cols, [
        # S1 invoices by due date (dpd_D): U5 D-365 (365), U8 D-365 (200), U7 D-364 (364), U6 D-364 (190),
        # U1 D-180 (180), U3 D-180 (0), U2 D-179 (9), U9 D-179 (0), U4 D-179 (179); O* due after D.
        # Due in (D-180, D]: U2 (settled 9 days late), U9 (settled before due), U4 (not settled) -> on time 1/3.
        # Due in (D-365, D]: U7, U6, U1, U3, U2, U9, U4 (not U5, U8): dpd max = 364 (U7).
        # Amounts: 50 + 600 + 100 + 300 + 200 + 300 + 400 = 1950; dpd >= 90: U7 50 + U6 600 + U1 100 + U4 400
        # = 1150 -> 1150/1950 = 23/39.
        ("S1", DE, 1 / 3, 364, 1150 / 1950),
        # S2, S8: nothing due in either window (X*, O8 due after D): null rate, null max, null rate.
        ("S2", DE, None, None, None),
        ("S8", DE, None, None, None),
    ])


def test_edges_buyer_credit_180d_365d(spark, edges):
    cols = ["buyer_id", "as_of_date", "supplier_count_180d", "invoices_due_180d", "late_payment_share_180d",
            "avg_days_late_180d", "payment_ratio_180d", "dpd_max_365d"]
    _edge_rows(spark, edges.buyer_credit_features, cols, [
        # B1: invoices ordered in (D-180, D]: O4 (S1, D-179); X1 (S2) on D-180 is out -> 1 supplier.
        # Due in (D-180, D]: U2 (dpd 9, paid 200 of 200), U9 (dpd 0, paid 300 of 300); U1 (D-180) is out
        # -> 2 invoices, late 1/2, mean dpd of the late ones 9, paid (200 + 300) / (200 + 300) = 1.
        # Due in (D-365, D]: U7 364, U1 180, U2 9, U9 0 (U5 on D-365, dpd 365, is out) -> max 364.
        ("B1", DE, 1, 2, 0.5, 9.0, 1.0, 364),
        # B2: ordered in (D-180, D]: O6 (S1), X2 (S2, D-179); O3 (D-180) is out -> 2 suppliers.
        # Due in (D-180, D]: U4 only (dpd 179, 100 paid of 400); U3 (D-180) is out -> 1, late 1/1, 179, 100/400.
        # Due in (D-365, D]: U6 190, U3 0, U4 179 (U8 on D-365, dpd 200, is out) -> max 190.
        ("B2", DE, 2, 1, 1.0, 179.0, 0.25, 190),
        # B8: O8 on D-364 only (due after D): no supplier in 180 days, nothing due: 0, 0, null, null, null, null.
        ("B8", DE, 0, 0, None, None, None, None),
    ])
