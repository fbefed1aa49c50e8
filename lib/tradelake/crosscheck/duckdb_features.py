"""The gold features, read independently from shared/spec/features.md and computed in DuckDB SQL.

This is the second implementation of the gold layer: written from the specification (features.md,
as docs/gold_features.md resolves its choices) without looking at the Spark code in tradelake.gold, so
that a differential test and a benchmark can compare the two. It reads only the silver Delta tables and
computes, for every as-of date D, the point-in-time snapshot of D:

    supplier_scorecard, lane_performance, supplier_credit_features, buyer_credit_features
    buyer_default_labels (for label dates D, known at L = D + 180)

Usage::

    from tradelake.crosscheck.duckdb_features import compute_features
    tables = compute_features("/path/to/lakehouse", [date(2026, 3, 31)], label_dates=[date(2025, 9, 1)])
    tables["supplier_scorecard"]  # a pyarrow.Table, sorted by its key

    python -m tradelake.crosscheck.duckdb_features --lakehouse DIR --date 2026-03-31 [--date ...]
        [--label-date 2025-09-01 ...] [--out DIR]

How it works (plain SQL, no incremental state):

1. Each silver row gets a *visibility date* `greatest(_known_date, event date)`: it is visible at D
   when that date is <= D.
2. Per transaction (shipment, supplier) the days on which anything it depends on can change are its
   *change points* (the visibility dates of its versions, of its payments or tracking events, of its
   transaction's versions). Between two change points its facts (state, paid amount, settlement
   date, delivery dates...) are constant, so they are computed once per interval
   `[valid_from, valid_to)`.
3. For a batch of as-of dates, a dates table is joined to those intervals (`valid_from <= D < valid_to`),
   which gives every record's facts as of D; the features are then ordinary GROUP BYs with FILTERs.

Money stays DECIMAL (USD at 8 decimals, as in silver) until the final division or cast to DOUBLE.
Quantiles are exact (`quantile_cont`, linear interpolation). One DuckDB connection, 2 threads.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence

import duckdb
import pyarrow as pa

THREADS = 2
# Dates are processed in batches so that the (date x transaction) table of a batch stays around this size.
ROWS_PER_BATCH = 20_000_000

TABLES = (
    "supplier_scorecard",
    "lane_performance",
    "supplier_credit_features",
    "buyer_credit_features",
    "buyer_default_labels",
)
KEYS = {
    "supplier_scorecard": ("supplier_id", "as_of_date"),
    "lane_performance": ("origin_country", "destination_country", "carrier", "mode", "week_start", "as_of_date"),
    "supplier_credit_features": ("supplier_id", "as_of_date"),
    "buyer_credit_features": ("buyer_id", "as_of_date"),
    "buyer_default_labels": ("buyer_id", "as_of_date"),
}

# The silver columns read here, with their types (see tradelake.tables: silver timestamps are UTC).
SILVER_COLUMNS: dict[str, dict[str, str]] = {
    "transactions": {
        "txn_id": "VARCHAR", "supplier_id": "VARCHAR", "buyer_id": "VARCHAR", "order_ts": "TIMESTAMP",
        "status": "VARCHAR", "amount": "DECIMAL(18,2)", "currency": "VARCHAR", "fx_rate_usd": "DECIMAL(18,6)",
        "amount_usd": "DECIMAL(38,8)", "due_date": "DATE", "updated_at": "TIMESTAMP",
        "_record_hash": "VARCHAR", "_known_date": "DATE",
    },
    "payments": {
        "payment_id": "VARCHAR", "txn_id": "VARCHAR", "type": "VARCHAR", "amount": "DECIMAL(18,2)",
        "currency": "VARCHAR", "paid_ts": "TIMESTAMP", "amount_usd": "DECIMAL(38,8)", "_known_date": "DATE",
    },
    "shipments": {
        "shipment_id": "VARCHAR", "txn_id": "VARCHAR", "supplier_id": "VARCHAR", "carrier": "VARCHAR",
        "mode": "VARCHAR", "origin_country": "VARCHAR", "destination_country": "VARCHAR", "quantity": "INTEGER",
        "promised_date": "DATE", "updated_at": "TIMESTAMP", "_record_hash": "VARCHAR", "_known_date": "DATE",
    },
    "shipment_events": {
        "event_id": "VARCHAR", "shipment_id": "VARCHAR", "event_type": "VARCHAR", "event_ts": "TIMESTAMP",
        "quantity_delivered": "INTEGER", "_known_date": "DATE",
    },
    "suppliers": {
        "supplier_id": "VARCHAR", "country": "VARCHAR", "industry": "VARCHAR", "tier": "VARCHAR",
        "onboarded_date": "DATE", "credit_limit": "DECIMAL(18,2)", "credit_limit_currency": "VARCHAR",
        "updated_at": "TIMESTAMP", "_record_hash": "VARCHAR", "_known_date": "DATE",
    },
    "fx_rates": {
        "rate_date": "DATE", "currency": "VARCHAR", "usd_per_unit": "DECIMAL(18,6)", "_known_date": "DATE",
    },
}

# -------------------------------------------------------------------------------------------------
# Helpers
# -------------------------------------------------------------------------------------------------
MACROS = """
-- USD amounts: exact at 8 decimals (silver's scale). 18 digits (below 10^10 USD per record; a larger
-- amount fails the cast, it is never rounded) let DuckDB sum 64-bit decimals, several times faster
-- than 38-digit ones. Sums of them are DECIMAL(38,8).
CREATE TYPE USD AS DECIMAL(18, 8);
-- day in the window (as_of - days, as_of]
CREATE MACRO in_window(day, as_of, days) AS day > as_of - days AND day <= as_of;
-- a rate or ratio: null when the denominator is 0 (or null)
CREATE MACRO ratio(num, den) AS CASE WHEN den <> 0 THEN num::DOUBLE / den::DOUBLE END;
-- a duration between two timestamps in fractional days
CREATE MACRO days_between(t0, t1) AS (epoch_us(t1) - epoch_us(t0))::DOUBLE / 86400e6;
-- round(amount_usd / rate, 2) (half up), exactly: amount_usd has 8 decimals and rate 6, so with
-- A = amount_usd * 1e8 and R = rate * 1e6 (integers) the amount in cents is A / R.
CREATE MACRO usd_to_currency(amount_usd, rate) AS
    ((2 * (amount_usd * 100000000)::HUGEINT + (rate * 1000000)::HUGEINT)
      // (2 * (rate * 1000000)::HUGEINT))::DECIMAL(18, 0) * 0.01;
"""

# Silver rows with their visibility date: visible at D when visible_from <= D.
VISIBLE_ROWS = """
CREATE TABLE txn_version AS
SELECT txn_id, supplier_id, buyer_id, order_ts, order_ts::DATE AS order_date, status, amount, currency,
       fx_rate_usd, amount_usd::USD AS amount_usd, due_date, updated_at, _record_hash AS record_hash,
       greatest(_known_date, updated_at::DATE) AS visible_from
FROM silver_transactions;

CREATE TABLE payment AS
SELECT payment_id, txn_id, type, amount, currency, amount_usd, paid_ts::DATE AS paid_date,
       greatest(_known_date, paid_ts::DATE) AS visible_from
FROM silver_payments;

CREATE TABLE shipment_version AS
SELECT shipment_id, txn_id, supplier_id, carrier, mode, origin_country, destination_country, quantity,
       promised_date, updated_at, _record_hash AS record_hash,
       greatest(_known_date, updated_at::DATE) AS visible_from
FROM silver_shipments;

CREATE TABLE shipment_event AS
SELECT event_id, shipment_id, event_type, event_ts, quantity_delivered,
       greatest(_known_date, event_ts::DATE) AS visible_from
FROM silver_shipment_events;

CREATE TABLE supplier_version AS
SELECT supplier_id, country, industry, tier, onboarded_date, credit_limit, credit_limit_currency,
       updated_at, _record_hash AS record_hash, greatest(_known_date, updated_at::DATE) AS visible_from
FROM silver_suppliers;

CREATE TABLE fx_rate AS
SELECT rate_date, currency, usd_per_unit, greatest(_known_date, rate_date) AS visible_from
FROM silver_fx_rates;
"""


def state_sql(versions: str, key: str, state: str) -> str:
    """The state of each key over time: on each day a version becomes visible, the visible version
    with the newest updated_at (ties: the greater record hash) is the state until the next such day.
    valid_to is exclusive; 9999-12-31 when open."""
    return f"""
CREATE TABLE {state} AS
WITH change_day AS (
    SELECT DISTINCT {key}, visible_from AS valid_from FROM {versions}
),
newest AS (
    SELECT c.valid_from, v.* EXCLUDE (visible_from)
    FROM change_day c
    JOIN {versions} v ON v.{key} = c.{key} AND v.visible_from <= c.valid_from
    QUALIFY row_number() OVER (PARTITION BY c.{key}, c.valid_from
                               ORDER BY v.updated_at DESC, v.record_hash DESC) = 1
)
SELECT *, lead(valid_from, 1, DATE '9999-12-31') OVER (PARTITION BY {key} ORDER BY valid_from) AS valid_to
FROM newest;
"""


# A transaction's facts over each interval in which neither its state nor its visible payments change.
TXN_FACT = """
CREATE TABLE txn_fact AS
WITH change_day AS (
    SELECT txn_id, valid_from AS day FROM txn_state
    UNION
    SELECT txn_id, visible_from FROM payment
),
span AS (
    SELECT txn_id, day AS valid_from,
           lead(day, 1, DATE '9999-12-31') OVER (PARTITION BY txn_id ORDER BY day) AS valid_to
    FROM change_day
),
state AS (   -- no row before the transaction's first visible version: it does not exist yet
    SELECT i.valid_from, i.valid_to, s.* EXCLUDE (valid_from, valid_to)
    FROM span i
    JOIN txn_state s ON s.txn_id = i.txn_id AND s.valid_from <= i.valid_from AND i.valid_from < s.valid_to
),
paid_per_day AS (   -- visible payments, signed, in the invoice's currency, summed per paid date
    SELECT st.txn_id, st.valid_from, p.paid_date,
           sum(CASE p.type WHEN 'REFUND' THEN -1 ELSE 1 END
               * CASE WHEN p.currency = st.currency THEN p.amount
                      ELSE usd_to_currency(p.amount_usd, st.fx_rate_usd) END) AS paid
    FROM state st
    JOIN payment p ON p.txn_id = st.txn_id AND p.visible_from <= st.valid_from
    GROUP BY st.txn_id, st.valid_from, p.paid_date
),
paid_cumulative AS (
    SELECT *, sum(paid) OVER (PARTITION BY txn_id, valid_from ORDER BY paid_date) AS paid_to_date
    FROM paid_per_day
),
settlement AS (   -- settled on the first paid date on which the cumulative paid reaches amount - 0.01
    SELECT c.txn_id, c.valid_from, sum(c.paid) AS paid,
           min(c.paid_date) FILTER (c.paid_to_date >= st.amount - 0.01) AS settled_by_payments
    FROM paid_cumulative c
    JOIN state st USING (txn_id, valid_from)
    GROUP BY c.txn_id, c.valid_from
),
fact AS (
    SELECT st.txn_id, st.valid_from, st.valid_to,
           st.supplier_id, st.buyer_id, st.order_ts, st.order_date, st.status,
           st.status IN ('PLACED', 'FULFILLED') AS is_invoice,
           st.amount, st.fx_rate_usd, st.due_date, st.amount_usd,
           coalesce(s.paid, 0) AS paid,
           coalesce(s.paid, 0) * st.fx_rate_usd AS paid_usd,                   -- exact: scale 2 + 6
           CASE WHEN st.amount - 0.01 <= 0 THEN st.order_date ELSE s.settled_by_payments END AS settled_date
    FROM state st
    LEFT JOIN settlement s USING (txn_id, valid_from)
)
SELECT * EXCLUDE (paid_usd),
       paid_usd::USD AS paid_usd,
       greatest(amount_usd - paid_usd, 0)::USD AS unpaid_usd,        -- max(amount_usd - paid_usd_D, 0)
       least(paid_usd, amount_usd)::USD AS paid_capped_usd            -- min(paid_usd_D, amount_usd)
FROM fact;
"""

# A shipment's facts over each interval in which neither its state, its visible events nor its
# transaction's state change. Only intervals in which the shipment counts: its transaction exists and
# is not CANCELLED.
SHIPMENT_FACT = """
CREATE TABLE shipment_fact AS
WITH change_day AS (
    SELECT shipment_id, valid_from AS day FROM shipment_state
    UNION
    SELECT shipment_id, visible_from FROM shipment_event
    UNION
    SELECT v.shipment_id, t.valid_from
    FROM (SELECT DISTINCT shipment_id, txn_id FROM shipment_version) v
    JOIN txn_state t USING (txn_id)
),
span AS (
    SELECT shipment_id, day AS valid_from,
           lead(day, 1, DATE '9999-12-31') OVER (PARTITION BY shipment_id ORDER BY day) AS valid_to
    FROM change_day
),
counted AS (
    SELECT i.shipment_id, i.valid_from, i.valid_to,
           s.supplier_id, s.origin_country, s.destination_country, s.carrier, s.mode, s.quantity,
           s.promised_date, t.order_ts
    FROM span i
    JOIN shipment_state s
      ON s.shipment_id = i.shipment_id AND s.valid_from <= i.valid_from AND i.valid_from < s.valid_to
    JOIN txn_state t
      ON t.txn_id = s.txn_id AND t.valid_from <= i.valid_from AND i.valid_from < t.valid_to
    WHERE t.status <> 'CANCELLED'
),
delivered_event AS (   -- visible DELIVERED events, with the running delivered quantity
    SELECT c.shipment_id, c.valid_from, c.quantity, e.event_ts, e.quantity_delivered,
           sum(e.quantity_delivered) OVER (PARTITION BY c.shipment_id, c.valid_from
                                           ORDER BY e.event_ts, e.event_id
                                           ROWS UNBOUNDED PRECEDING) AS delivered_so_far
    FROM counted c
    JOIN shipment_event e
      ON e.shipment_id = c.shipment_id AND e.visible_from <= c.valid_from AND e.event_type = 'DELIVERED'
),
delivery AS (
    SELECT shipment_id, valid_from,
           sum(quantity_delivered) AS delivered_qty,
           min(event_ts) AS first_delivery_ts,
           min(event_ts) FILTER (delivered_so_far >= quantity) AS full_delivery_ts
    FROM delivered_event
    GROUP BY shipment_id, valid_from
),
other_event AS (
    SELECT c.shipment_id, c.valid_from,
           min(e.event_ts) FILTER (e.event_type = 'PICKED_UP') AS pickup_ts,
           bool_or(e.event_type = 'EXCEPTION') AS has_exception
    FROM counted c
    JOIN shipment_event e
      ON e.shipment_id = c.shipment_id AND e.visible_from <= c.valid_from
     AND e.event_type IN ('PICKED_UP', 'EXCEPTION')
    GROUP BY c.shipment_id, c.valid_from
),
fact AS (
    SELECT c.*,
           coalesce(d.delivered_qty, 0)::BIGINT AS delivered_qty,
           d.first_delivery_ts::DATE AS first_delivery_date,
           d.full_delivery_ts,
           d.full_delivery_ts::DATE AS full_delivery_date,
           o.pickup_ts,
           coalesce(o.has_exception, false) AS has_exception
    FROM counted c
    LEFT JOIN delivery d USING (shipment_id, valid_from)
    LEFT JOIN other_event o USING (shipment_id, valid_from)
)
SELECT *,
       coalesce(full_delivery_date <= promised_date, false) AS is_otif,
       coalesce(first_delivery_date <= promised_date, false) AS is_on_time,
       days_between(order_ts, full_delivery_ts) AS lead_time_days,
       days_between(pickup_ts, full_delivery_ts) AS transit_days
FROM fact;
"""

# -------------------------------------------------------------------------------------------------
# Per batch of as-of dates (table `dates`)
# -------------------------------------------------------------------------------------------------
# Every transaction as of D. Kept: those some feature can use (ordered in the last 365 days; invoices
# ordered by D that are due in the last 365 days, not fully paid, or not settled). A view: each of its
# three readers re-runs the (cheap) interval join, which keeps memory low.
TXN_AT = """
CREATE OR REPLACE VIEW txn_at AS
WITH at_d AS (
    SELECT d.as_of_date, f.*,
           CASE WHEN f.settled_date <= d.as_of_date THEN f.settled_date END AS settled_by_d
    FROM dates d
    JOIN txn_fact f ON f.valid_from <= d.as_of_date AND d.as_of_date < f.valid_to
)
SELECT as_of_date, txn_id, supplier_id, buyer_id, order_ts, order_date, status, is_invoice,
       amount_usd, paid_usd, unpaid_usd, paid_capped_usd, due_date,
       settled_by_d AS settled_date,
       (CASE WHEN settled_by_d IS NOT NULL THEN greatest(settled_by_d - due_date, 0)
             ELSE greatest(as_of_date - due_date, 0) END)::INTEGER AS dpd,
       in_window(order_date, as_of_date, 30) AS ordered_30d,
       in_window(order_date, as_of_date, 90) AS ordered_90d,
       in_window(order_date, as_of_date, 180) AS ordered_180d,
       in_window(order_date, as_of_date, 365) AS ordered_365d,
       in_window(order_date, as_of_date - 90, 90) AS ordered_prev_90d,          -- (D-180, D-90]
       -- k = 0..5 for the 30-day bucket (D-30(k+1), D-30k] of an order in (D-180, D]
       CASE WHEN in_window(order_date, as_of_date, 180) THEN (as_of_date - order_date) // 30 END AS sales_bucket,
       in_window(due_date, as_of_date, 180) AS due_180d,
       in_window(due_date, as_of_date, 365) AS due_365d
FROM at_d
WHERE in_window(order_date, as_of_date, 365)
   OR (is_invoice AND order_date <= as_of_date
       AND (in_window(due_date, as_of_date, 365) OR unpaid_usd > 0 OR settled_by_d IS NULL));
"""

# Every counted shipment as of D, kept when due or fully delivered in the last 90 days, or fully
# delivered in the 13 complete ISO weeks before D (weeks whose Sunday is before D).
SHIPMENT_AT = """
CREATE OR REPLACE TABLE shipment_at AS
WITH at_d AS (
    SELECT d.as_of_date, d.as_of_date - isodow(d.as_of_date)::INTEGER AS last_sunday, f.*
    FROM dates d
    JOIN shipment_fact f ON f.valid_from <= d.as_of_date AND d.as_of_date < f.valid_to
)
SELECT as_of_date, supplier_id, origin_country, destination_country, carrier, mode, quantity,
       promised_date, delivered_qty, full_delivery_date, has_exception, is_otif, is_on_time,
       lead_time_days, transit_days,
       in_window(promised_date, as_of_date, 90) AS due_90d,
       in_window(full_delivery_date, as_of_date, 90) AS delivered_90d,
       in_window(full_delivery_date, last_sunday, 91) AS delivered_13w,
       date_trunc('week', full_delivery_date)::DATE AS week_start
FROM at_d
WHERE in_window(promised_date, as_of_date, 90)
   OR in_window(full_delivery_date, as_of_date, 90)
   OR in_window(full_delivery_date, last_sunday, 91);
"""

SUPPLIER_ORDERS = """
CREATE OR REPLACE TABLE supplier_orders AS
SELECT as_of_date, supplier_id,
       count(*) FILTER (ordered_365d) AS orders_365d,
       count(*) FILTER (ordered_90d) AS orders_90d,
       count(*) FILTER (ordered_90d AND status = 'CANCELLED') AS cancelled_90d,
       count(*) FILTER (ordered_90d AND status = 'FULFILLED') AS fulfilled_90d,
       count(*) FILTER (ordered_90d AND status = 'RETURNED') AS returned_90d,
       count(*) FILTER (ordered_90d AND isodow(order_ts) IN (6, 7)) AS weekend_orders_90d,
       coalesce(sum(amount_usd) FILTER (ordered_90d AND status <> 'CANCELLED'), 0) AS gmv_usd_90d,
       -- invoices
       coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_30d), 0) AS net_sales_usd_30d,
       coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_90d), 0) AS net_sales_usd_90d,
       coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_180d), 0) AS net_sales_usd_180d,
       coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_365d), 0) AS net_sales_usd_365d,
       coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_prev_90d), 0) AS net_sales_usd_prev_90d,
       [coalesce(sum(amount_usd) FILTER (is_invoice AND sales_bucket = 0), 0),
        coalesce(sum(amount_usd) FILTER (is_invoice AND sales_bucket = 1), 0),
        coalesce(sum(amount_usd) FILTER (is_invoice AND sales_bucket = 2), 0),
        coalesce(sum(amount_usd) FILTER (is_invoice AND sales_bucket = 3), 0),
        coalesce(sum(amount_usd) FILTER (is_invoice AND sales_bucket = 4), 0),
        coalesce(sum(amount_usd) FILTER (is_invoice AND sales_bucket = 5), 0)]::DOUBLE[] AS sales_buckets_6m,
       count(*) FILTER (is_invoice AND ordered_90d) AS txn_count_90d,
       coalesce(sum(unpaid_usd) FILTER (is_invoice AND order_date <= as_of_date), 0) AS open_usd,
       coalesce(sum(unpaid_usd) FILTER (is_invoice AND order_date <= as_of_date AND due_date < as_of_date), 0)
           AS overdue_usd,
       max(dpd) FILTER (is_invoice AND due_365d) AS dpd_max_365d,
       sum(amount_usd) FILTER (is_invoice AND due_365d) AS due_usd_365d,
       sum(amount_usd) FILTER (is_invoice AND due_365d AND dpd >= 90) AS bad_debt_usd_365d,
       count(*) FILTER (is_invoice AND due_180d) AS due_180d,
       count(*) FILTER (is_invoice AND due_180d AND settled_date <= due_date) AS paid_on_time_180d
FROM txn_at
GROUP BY as_of_date, supplier_id;
"""

# Per supplier and buyer (null when none): non-cancelled orders and invoices in the windows of the
# buyer concentration features (and of active buyers / a buyer's supplier count).
SUPPLIER_BUYER = """
CREATE OR REPLACE TABLE supplier_buyer AS
SELECT as_of_date, supplier_id, buyer_id,
       sum(amount_usd) FILTER (ordered_90d AND status <> 'CANCELLED') AS gmv_usd_90d,
       sum(amount_usd) FILTER (is_invoice AND ordered_180d) AS net_sales_usd_180d
FROM txn_at
WHERE ordered_180d
GROUP BY as_of_date, supplier_id, buyer_id;
"""

SUPPLIER_CONCENTRATION = """
CREATE OR REPLACE TABLE supplier_concentration AS
WITH share AS (
    SELECT as_of_date, supplier_id, buyer_id, gmv_usd_90d,
           ratio(gmv_usd_90d, sum(gmv_usd_90d) OVER supplier) AS gmv_share_90d,
           ratio(net_sales_usd_180d, sum(net_sales_usd_180d) OVER supplier) AS sales_share_180d
    FROM supplier_buyer
    WINDOW supplier AS (PARTITION BY as_of_date, supplier_id)
)
SELECT as_of_date, supplier_id,
       count(gmv_usd_90d) AS active_buyers_90d,     -- buyers with a non-cancelled order in the window
       sum(gmv_share_90d * gmv_share_90d) AS buyer_hhi_90d,
       max(sales_share_180d) AS top_buyer_share_180d,
       sum(sales_share_180d * sales_share_180d) AS buyer_hhi_180d
FROM share
GROUP BY as_of_date, supplier_id;
"""

SUPPLIER_SHIPMENTS = """
CREATE OR REPLACE TABLE supplier_shipments AS
SELECT as_of_date, supplier_id,
       count(*) FILTER (due_90d) AS shipments_due_90d,
       count(*) FILTER (due_90d AND is_otif) AS otif_90d,
       count(*) FILTER (due_90d AND is_on_time) AS on_time_90d,
       count(*) FILTER (due_90d AND has_exception) AS exceptions_90d,
       sum(least(delivered_qty, quantity)) FILTER (due_90d) AS units_delivered_90d,
       sum(quantity) FILTER (due_90d) AS units_due_90d,
       count(lead_time_days) FILTER (delivered_90d) AS lead_times_90d,
       avg(lead_time_days) FILTER (delivered_90d) AS lead_time_mean_90d,
       quantile_cont(lead_time_days, 0.9) FILTER (delivered_90d) AS lead_time_p90_90d,
       stddev_samp(lead_time_days) FILTER (delivered_90d) AS lead_time_std_90d,
       avg(full_delivery_date - promised_date) FILTER (due_90d AND full_delivery_date > promised_date)
           AS avg_days_late_90d
FROM shipment_at
GROUP BY as_of_date, supplier_id;
"""

SUPPLIER_SCORECARD = """
SELECT o.supplier_id,
       o.as_of_date,
       o.orders_90d::BIGINT AS orders_90d,
       o.gmv_usd_90d::DOUBLE AS gmv_usd_90d,
       ratio(o.cancelled_90d, o.orders_90d) AS cancel_rate_90d,
       ratio(o.returned_90d, o.fulfilled_90d + o.returned_90d) AS return_rate_90d,
       coalesce(s.shipments_due_90d, 0)::BIGINT AS shipments_due_90d,
       ratio(s.otif_90d, s.shipments_due_90d) AS otif_rate_90d,
       ratio(s.on_time_90d, s.shipments_due_90d) AS on_time_rate_90d,
       ratio(s.units_delivered_90d, s.units_due_90d) AS unit_fill_rate_90d,
       ratio(s.exceptions_90d, s.shipments_due_90d) AS exception_rate_90d,
       s.lead_time_mean_90d::DOUBLE AS lead_time_mean_90d,
       s.lead_time_p90_90d::DOUBLE AS lead_time_p90_90d,
       CASE WHEN s.lead_times_90d >= 2 THEN ratio(s.lead_time_std_90d, s.lead_time_mean_90d) END
           AS lead_time_cv_90d,
       s.avg_days_late_90d::DOUBLE AS avg_days_late_90d,
       coalesce(c.active_buyers_90d, 0)::BIGINT AS active_buyers_90d,
       c.buyer_hhi_90d::DOUBLE AS buyer_hhi_90d
FROM supplier_orders o
LEFT JOIN supplier_shipments s USING (as_of_date, supplier_id)
LEFT JOIN supplier_concentration c USING (as_of_date, supplier_id)
WHERE o.orders_365d > 0
"""

SUPPLIER_CREDIT = """
WITH supplier_at AS (
    SELECT d.as_of_date, s.*
    FROM dates d
    JOIN supplier_state s ON s.valid_from <= d.as_of_date AND d.as_of_date < s.valid_to
),
fx_at AS (   -- the rate of D, or else the latest earlier one at most 7 days older, among rates visible at D
    SELECT d.as_of_date, r.currency, arg_max(r.usd_per_unit, r.rate_date) AS usd_per_unit
    FROM dates d
    JOIN fx_rate r ON r.rate_date BETWEEN d.as_of_date - 7 AND d.as_of_date AND r.visible_from <= d.as_of_date
    GROUP BY d.as_of_date, r.currency
)
SELECT o.supplier_id,
       o.as_of_date,
       o.net_sales_usd_30d::DOUBLE AS net_sales_usd_30d,
       o.net_sales_usd_90d::DOUBLE AS net_sales_usd_90d,
       o.net_sales_usd_180d::DOUBLE AS net_sales_usd_180d,
       o.net_sales_usd_365d::DOUBLE AS net_sales_usd_365d,
       ratio(o.net_sales_usd_90d - o.net_sales_usd_prev_90d, o.net_sales_usd_prev_90d) AS sales_growth_90d,
       ratio(list_stddev_pop(o.sales_buckets_6m), list_avg(o.sales_buckets_6m)) AS sales_cv_6m,
       o.txn_count_90d::BIGINT AS txn_count_90d,
       ratio(o.net_sales_usd_90d, o.txn_count_90d) AS avg_ticket_usd_90d,
       ratio(o.weekend_orders_90d, o.orders_90d) AS weekend_order_share_90d,
       (o.as_of_date - s.onboarded_date)::INTEGER AS tenure_days,
       s.tier::VARCHAR AS tier,
       s.country::VARCHAR AS country,
       s.industry::VARCHAR AS industry,
       (s.credit_limit * fx.usd_per_unit)::DOUBLE AS credit_limit_usd,
       c.top_buyer_share_180d::DOUBLE AS top_buyer_share_180d,
       c.buyer_hhi_180d::DOUBLE AS buyer_hhi_180d,
       o.open_usd::DOUBLE AS open_receivables_usd,
       o.overdue_usd::DOUBLE AS overdue_receivables_usd,
       ratio(o.overdue_usd, o.open_usd) AS overdue_share,
       ratio(o.open_usd, o.net_sales_usd_90d) * 90 AS dso_90d,
       ratio(o.open_usd - o.overdue_usd, o.net_sales_usd_90d) * 90 AS bpdso_90d,
       ratio(o.overdue_usd, o.net_sales_usd_90d) * 90 AS add_90d,   -- dso - bpdso, without the cancellation
       o.dpd_max_365d::INTEGER AS dpd_max_365d,
       ratio(coalesce(o.bad_debt_usd_365d, 0), o.due_usd_365d) AS bad_debt_rate_365d,
       ratio(o.paid_on_time_180d, o.due_180d) AS on_time_payment_rate_180d,
       ratio(sh.otif_90d, sh.shipments_due_90d) AS otif_rate_90d,
       ratio(o.returned_90d, o.fulfilled_90d + o.returned_90d) AS return_rate_90d
FROM supplier_orders o
LEFT JOIN supplier_shipments sh USING (as_of_date, supplier_id)
LEFT JOIN supplier_concentration c USING (as_of_date, supplier_id)
LEFT JOIN supplier_at s USING (as_of_date, supplier_id)
LEFT JOIN fx_at fx ON fx.as_of_date = o.as_of_date AND fx.currency = s.credit_limit_currency
WHERE o.orders_365d > 0
"""

BUYER_CREDIT = """
WITH buyer AS (
    SELECT as_of_date, buyer_id,
           count(*) FILTER (ordered_365d) AS orders_365d,
           coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_90d), 0) AS purchases_usd_90d,
           coalesce(sum(amount_usd) FILTER (is_invoice AND ordered_prev_90d), 0) AS purchases_usd_prev_90d,
           coalesce(sum(unpaid_usd) FILTER (is_invoice AND order_date <= as_of_date), 0) AS outstanding_usd,
           coalesce(sum(unpaid_usd) FILTER (is_invoice AND order_date <= as_of_date AND due_date < as_of_date), 0)
               AS overdue_usd,
           count(*) FILTER (is_invoice AND due_180d) AS invoices_due_180d,
           count(*) FILTER (is_invoice AND due_180d AND dpd > 0) AS invoices_late_180d,
           avg(dpd) FILTER (is_invoice AND due_180d AND dpd > 0) AS avg_days_late_180d,
           sum(paid_capped_usd) FILTER (is_invoice AND due_180d) AS paid_capped_usd_180d,
           sum(amount_usd) FILTER (is_invoice AND due_180d) AS due_usd_180d,
           coalesce(max(as_of_date - due_date)
                        FILTER (is_invoice AND settled_date IS NULL AND due_date < as_of_date), 0) AS dpd_now,
           max(dpd) FILTER (is_invoice AND due_365d) AS dpd_max_365d
    FROM txn_at
    GROUP BY as_of_date, buyer_id
),
suppliers AS (   -- distinct suppliers of invoices ordered in (D-180, D]
    SELECT as_of_date, buyer_id, count(net_sales_usd_180d) AS supplier_count_180d
    FROM supplier_buyer
    GROUP BY as_of_date, buyer_id
)
SELECT buyer_id,
       as_of_date,
       purchases_usd_90d::DOUBLE AS purchases_usd_90d,
       ratio(purchases_usd_90d - purchases_usd_prev_90d, purchases_usd_prev_90d) AS purchase_growth_90d,
       coalesce(supplier_count_180d, 0)::BIGINT AS supplier_count_180d,
       outstanding_usd::DOUBLE AS outstanding_usd,
       overdue_usd::DOUBLE AS overdue_usd,
       invoices_due_180d::BIGINT AS invoices_due_180d,
       ratio(invoices_late_180d, invoices_due_180d) AS late_payment_share_180d,
       avg_days_late_180d::DOUBLE AS avg_days_late_180d,
       ratio(paid_capped_usd_180d, due_usd_180d) AS payment_ratio_180d,
       dpd_now::INTEGER AS dpd_now,
       CASE WHEN dpd_now = 0 THEN 'CURRENT'
            WHEN dpd_now < 30 THEN '1-29'
            WHEN dpd_now < 60 THEN '30-59'
            WHEN dpd_now < 90 THEN '60-89'
            ELSE '90+' END AS dpd_bucket_now,
       dpd_max_365d::INTEGER AS dpd_max_365d
FROM buyer
LEFT JOIN suppliers USING (as_of_date, buyer_id)
WHERE orders_365d > 0
"""

LANE_PERFORMANCE = """
SELECT origin_country, destination_country, carrier, mode, week_start, as_of_date,
       count(*)::BIGINT AS shipments_delivered,
       ratio(count(*) FILTER (is_otif), count(*)) AS otif_rate,
       quantile_cont(transit_days, 0.5)::DOUBLE AS transit_days_p50,
       quantile_cont(transit_days, 0.9)::DOUBLE AS transit_days_p90,
       avg(transit_days)::DOUBLE AS transit_days_mean,
       CASE WHEN count(transit_days) >= 2 THEN ratio(stddev_samp(transit_days), avg(transit_days)) END
           AS transit_days_cv,
       avg(full_delivery_date - promised_date)::DOUBLE AS delay_days_mean,
       ratio(count(*) FILTER (has_exception), count(*)) AS exception_rate
FROM shipment_at
WHERE delivered_13w
GROUP BY origin_country, destination_country, carrier, mode, week_start, as_of_date
"""

# Labels of D, known at L = D + 180: a buyer defaults when an invoice (state at L) has due_date + 90 in
# (D, L] and is not settled (as known at L) by due_date + 90. Rows: buyers of buyer_credit_features at D
# with dpd_now < 90.
BUYER_DEFAULT_LABELS = """
WITH defaulted AS (
    SELECT DISTINCT l.as_of_date, f.buyer_id
    FROM label_dates l
    JOIN txn_fact f ON f.valid_from <= l.label_date AND l.label_date < f.valid_to
    WHERE f.is_invoice
      AND f.due_date + 90 > l.as_of_date AND f.due_date + 90 <= l.label_date
      AND (f.settled_date IS NULL OR f.settled_date > f.due_date + 90)
)
SELECT b.buyer_id,
       b.as_of_date,
       (d.buyer_id IS NOT NULL)::INTEGER AS default_180d,
       l.label_date
FROM result_buyer_credit_features b
JOIN label_dates l USING (as_of_date)
LEFT JOIN defaulted d USING (as_of_date, buyer_id)
WHERE b.dpd_now < 90
"""


# -------------------------------------------------------------------------------------------------
# Python driver
# -------------------------------------------------------------------------------------------------
def _load_silver(con: duckdb.DuckDBPyConnection, lakehouse_root: str) -> None:
    """silver_<table>: the silver Delta table's columns read here (empty when the table is missing)."""
    import deltalake
    from deltalake.exceptions import TableNotFoundError

    for table, columns in SILVER_COLUMNS.items():
        target = f"silver_{table}"
        con.execute(f"CREATE TABLE {target} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        path = os.path.join(lakehouse_root, "silver", table)
        try:
            dataset = deltalake.DeltaTable(path).to_pyarrow_dataset()
        except TableNotFoundError:
            continue
        source = f"delta_{table}"
        con.register(source, dataset)
        try:
            # Timestamps are UTC instants (the session time zone is UTC): cast to plain UTC timestamps.
            cols = ", ".join(f"CAST({c} AS {t})" for c, t in columns.items())
            con.execute(f"INSERT INTO {target} SELECT {cols} FROM {source}")
        finally:
            con.unregister(source)


def _date_batches(dates: list[dt.date], transactions: int) -> list[list[dt.date]]:
    size = max(1, ROWS_PER_BATCH // max(1, transactions))
    return [dates[i:i + size] for i in range(0, len(dates), size)] or [[]]


def compute_features(lakehouse_root: str, as_of_dates: Sequence[dt.date],
                     label_dates: Sequence[dt.date] = ()) -> dict[str, pa.Table]:
    """The gold tables for every D in as_of_dates (and the default labels of every D in label_dates
    whose L = D + 180 is not after the newest day in silver), computed from the silver Delta tables under
    `lakehouse_root`. Returns {table name: pyarrow.Table sorted by its key}."""
    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {THREADS}")
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        con.execute(MACROS)
        _load_silver(con, lakehouse_root)
        con.execute(VISIBLE_ROWS)
        con.execute(state_sql("txn_version", "txn_id", "txn_state"))
        con.execute(state_sql("shipment_version", "shipment_id", "shipment_state"))
        con.execute(state_sql("supplier_version", "supplier_id", "supplier_state"))
        con.execute(TXN_FACT)
        con.execute(SHIPMENT_FACT)

        # Labels exist only for D at least 180 days before the newest day of data (ingest date).
        newest = con.execute(
            "SELECT max(day) FROM ("
            + " UNION ALL ".join(f"SELECT max(_known_date) AS day FROM silver_{t}" for t in SILVER_COLUMNS)
            + ")"
        ).fetchone()[0]
        requested = sorted(set(as_of_dates))
        labelled = sorted(d for d in set(label_dates) if newest is not None and d + dt.timedelta(180) <= newest)
        con.execute("CREATE TABLE requested_dates AS SELECT unnest($1::DATE[]) AS as_of_date", [requested])
        con.execute(
            "CREATE TABLE label_dates AS SELECT as_of_date, as_of_date + 180 AS label_date "
            "FROM (SELECT unnest($1::DATE[]) AS as_of_date)", [labelled]
        )

        # Features for every requested date and every label date (whose rows come from buyer features at D).
        feature_dates = sorted(set(requested) | set(labelled))
        transactions = con.execute("SELECT count(DISTINCT txn_id) FROM txn_fact").fetchone()[0]
        outputs = {
            "supplier_scorecard": SUPPLIER_SCORECARD,
            "supplier_credit_features": SUPPLIER_CREDIT,
            "buyer_credit_features": BUYER_CREDIT,
            "lane_performance": LANE_PERFORMANCE,
        }
        for i, batch in enumerate(_date_batches(feature_dates, transactions)):
            con.execute("CREATE OR REPLACE TABLE dates AS SELECT unnest($1::DATE[]) AS as_of_date", [batch])
            for sql in (TXN_AT, SHIPMENT_AT, SUPPLIER_ORDERS, SUPPLIER_BUYER, SUPPLIER_CONCENTRATION,
                        SUPPLIER_SHIPMENTS):
                con.execute(sql)
            for name, sql in outputs.items():
                con.execute(f"CREATE TABLE result_{name} AS {sql}" if i == 0 else f"INSERT INTO result_{name} {sql}")
        con.execute(f"CREATE TABLE result_buyer_default_labels AS {BUYER_DEFAULT_LABELS}")

        result = {}
        for name in TABLES:
            only_requested = (
                "" if name == "buyer_default_labels"
                else "WHERE as_of_date IN (SELECT as_of_date FROM requested_dates)"
            )
            result[name] = con.sql(
                f"SELECT * FROM result_{name} {only_requested} ORDER BY {', '.join(KEYS[name])}"
            ).to_arrow_table()
        return result
    finally:
        con.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tradelake.crosscheck.duckdb_features",
        description="Compute the gold features from silver with DuckDB (the independent cross-check).",
    )
    parser.add_argument("--lakehouse", required=True, help="lakehouse root (holds silver/<table>)")
    parser.add_argument("--date", action="append", required=True, type=dt.date.fromisoformat,
                        help="as-of date YYYY-MM-DD (repeatable)")
    parser.add_argument("--label-date", action="append", default=[], type=dt.date.fromisoformat,
                        help="date D whose default labels (known at D + 180) to compute (repeatable)")
    parser.add_argument("--out", help="write each table to <out>/<table>.parquet")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    tables = compute_features(args.lakehouse, args.date, args.label_date)
    elapsed = time.perf_counter() - started
    for name, table in tables.items():
        print(f"{name:28s} {table.num_rows:>12,d} rows")
    print(f"{len(set(args.date))} as-of date(s), {len(set(args.label_date))} label date(s): {elapsed:.2f}s")
    if args.out:
        import pyarrow.parquet as pq

        os.makedirs(args.out, exist_ok=True)
        for name, table in tables.items():
            pq.write_table(table, os.path.join(args.out, f"{name}.parquet"))
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
