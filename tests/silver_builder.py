"""Hand-built silver rows for gold tests: the silver tables' exact schemas (tradelake.tables), with the
lineage columns filled in. Every row is known (`_known_date`) on its event date unless `known` says
otherwise. Amounts are given in their currency with the rate that silver would have applied."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession

from tradelake import tables
from tradelake.gold.compute import Silver


def ts(text: str) -> dt.datetime:
    """'2026-06-30' or '2026-06-30T10:00' (UTC) -> naive UTC datetime (the session time zone is UTC)."""
    return dt.datetime.fromisoformat(text if "T" in text else text + "T12:00")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _money(x) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def _meta(row: dict, known: str | None, event: dt.date) -> dict:
    content = repr(sorted((k, str(v)) for k, v in row.items()))
    known_date = day(known) if known else event
    return {
        **row,
        "_record_id": hashlib.sha256(("id" + content).encode()).hexdigest()[:16],
        "_record_hash": hashlib.sha256(content.encode()).hexdigest(),
        "_source_ingest_date": known_date,
        "_known_date": known_date,
        "_source_file": "hand-built",
        "_run_id": "test",
    }


def txn(txn_id: str, order: str, amount, *, supplier: str = "S1", buyer: str = "B1", status: str = "PLACED",
        updated: str | None = None, due: str | None = None, currency: str = "USD", rate="1", known: str | None = None,
        quantity: int = 1) -> dict:
    updated_at = ts(updated or order)
    order_ts = ts(order)
    r = Decimal(str(rate)).quantize(Decimal("0.000001"))
    return _meta({
        "txn_id": txn_id, "supplier_id": supplier, "buyer_id": buyer, "order_ts": order_ts, "category": "Parts",
        "quantity": quantity, "unit_price": _money(amount), "currency": currency, "amount": _money(amount),
        "status": status, "payment_terms_days": 30,
        "due_date": day(due) if due else order_ts.date() + dt.timedelta(days=30),
        "buyer_email_hmac": "h", "updated_at": updated_at, "fx_rate_usd": r, "amount_usd": _money(amount) * r,
    }, known, updated_at.date())


def payment(payment_id: str, txn_id: str, amount, paid: str, *, type: str = "PAYMENT", currency: str = "USD",
            rate="1", known: str | None = None) -> dict:
    r = Decimal(str(rate)).quantize(Decimal("0.000001"))
    paid_ts = ts(paid)
    return _meta({
        "payment_id": payment_id, "txn_id": txn_id, "type": type, "amount": _money(amount), "currency": currency,
        "paid_ts": paid_ts, "method": "BANK_TRANSFER", "payer_account_hmac": "h", "fx_rate_usd": r,
        "amount_usd": _money(amount) * r,
    }, known, paid_ts.date())


def shipment(shipment_id: str, txn_id: str, quantity: int, promised: str, *, supplier: str = "S1",
             created: str = "2026-01-01", updated: str | None = None, carrier: str = "Maersk", mode: str = "SEA",
             origin: str = "CN", destination: str = "DE", known: str | None = None) -> dict:
    updated_at = ts(updated or created)
    return _meta({
        "shipment_id": shipment_id, "txn_id": txn_id, "supplier_id": supplier, "carrier": carrier, "mode": mode,
        "origin_country": origin, "destination_country": destination, "quantity": quantity,
        "promised_date": day(promised), "created_ts": ts(created), "updated_at": updated_at,
    }, known, updated_at.date())


def event(event_id: str, shipment_id: str, event_type: str, at: str, qty: int | None = None, *,
          known: str | None = None) -> dict:
    event_ts = ts(at)
    return _meta({
        "event_id": event_id, "shipment_id": shipment_id, "event_type": event_type, "event_ts": event_ts,
        "location": "DE", "quantity_delivered": qty,
    }, known, event_ts.date())


def supplier(supplier_id: str, updated: str, *, tier: str = "A", country: str = "CN", industry: str = "Textiles",
             onboarded: str = "2025-01-01", credit_limit=None, currency: str | None = None,
             known: str | None = None) -> dict:
    updated_at = ts(updated)
    return _meta({
        "supplier_id": supplier_id, "legal_name": supplier_id + " Ltd", "country": country, "industry": industry,
        "tier": tier, "onboarded_date": day(onboarded),
        "credit_limit": None if credit_limit is None else _money(credit_limit), "credit_limit_currency": currency,
        "contact_email_hmac": "h", "contact_phone_hmac": "h", "updated_at": updated_at,
        "fx_rate_usd": None, "credit_limit_usd": None, "valid_from": updated_at, "valid_to": None, "is_current": True,
    }, known, updated_at.date())


def fx(rate_date: str, currency: str, rate, *, known: str | None = None) -> dict:
    return _meta({"rate_date": day(rate_date), "currency": currency,
                  "usd_per_unit": Decimal(str(rate)).quantize(Decimal("0.000001"))}, known, day(rate_date))


def silver(spark: SparkSession, *, transactions=(), payments=(), shipments=(), shipment_events=(), suppliers=(),
           fx_rates=()) -> Silver:
    def frame(name: str, rows) -> DataFrame:
        schema = tables.silver(name).schema
        return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in rows], schema)

    return Silver(frame("transactions", transactions), frame("payments", payments), frame("shipments", shipments),
                  frame("shipment_events", shipment_events), frame("suppliers", suppliers), frame("fx_rates", fx_rates))
