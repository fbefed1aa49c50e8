"""Hand-built landing files for tests: valid records by default, any field overridable."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from tradelake.config import Settings
from tradelake.contracts import SOURCES


def folder(settings: Settings, source: str, day: dt.date) -> Path:
    p = Path(settings.landing_root) / source / f"ingest_date={day.isoformat()}"
    p.mkdir(parents=True, exist_ok=True)
    return p


def write(settings: Settings, source: str, day: dt.date, records: list[dict | str], name: str = "part-0",
          extra_columns: tuple[str, ...] = ()) -> Path:
    """Write records (dicts, or raw lines given as str) as the source's format. Keys not in the
    contract must be listed in extra_columns for CSV (they become header columns)."""
    src = SOURCES[source]
    if src.format == "csv":
        columns = src.field_names + list(extra_columns)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in records:
            if isinstance(r, str):
                buf.write(r + "\n")
            else:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
        path = folder(settings, source, day) / f"{name}.csv"
    else:
        lines = [r if isinstance(r, str) else json.dumps({k: v for k, v in r.items() if v is not None}) for r in records]
        buf = io.StringIO("\n".join(lines) + "\n")
        path = folder(settings, source, day) / f"{name}.jsonl"
    path.write_text(buf.getvalue())
    return path


# Valid records (sources.md), each overridable -------------------------------------------------------
def fx(rate_date="2026-03-02", currency="EUR", usd_per_unit="1.100000", **kw):
    return {"rate_date": rate_date, "currency": currency, "usd_per_unit": usd_per_unit, **kw}


def supplier(supplier_id="S1", **kw):
    return {
        "supplier_id": supplier_id, "legal_name": "Acme Textiles, Ltd.", "country": "CN", "industry": "Textiles",
        "tier": "A", "onboarded_date": "2025-06-01", "credit_limit": "50000.00", "credit_limit_currency": "EUR",
        "contact_email": "Li.Wei@acme-textiles.example.com", "contact_phone": "+86 755 1234 5678",
        "updated_at": "2026-03-02T09:00:00+08:00", **kw,
    }


def txn(txn_id="T1", supplier_id="S1", **kw):
    return {
        "txn_id": txn_id, "supplier_id": supplier_id, "buyer_id": "B1", "order_ts": "2026-03-02T10:00:00+01:00",
        "category": "Apparel", "quantity": "10", "unit_price": "2.50", "currency": "EUR", "amount": "25.00",
        "status": "PLACED", "payment_terms_days": "30", "due_date": "2026-04-01",
        "buyer_email": "Buyer.One@shop.example.org", "updated_at": "2026-03-02T10:00:00+01:00", **kw,
    }


def payment(payment_id="P1", txn_id="T1", **kw):
    return {
        "payment_id": payment_id, "txn_id": txn_id, "type": "PAYMENT", "amount": 25.00, "currency": "EUR",
        "paid_ts": "2026-03-02T15:00:00Z", "method": "BANK_TRANSFER", "payer_account": "ACCT-00000042", **kw,
    }


def shipment(shipment_id="SH1", txn_id="T1", **kw):
    return {
        "shipment_id": shipment_id, "txn_id": txn_id, "supplier_id": "S1", "carrier": "Maersk", "mode": "SEA",
        "origin_country": "CN", "destination_country": "DE", "quantity": "10", "promised_date": "2026-04-05",
        "created_ts": "2026-03-02T12:00:00+08:00", "updated_at": "2026-03-02T12:00:00+08:00", **kw,
    }


def event(event_id="E1", shipment_id="SH1", **kw):
    return {
        "event_id": event_id, "shipment_id": shipment_id, "event_type": "PICKED_UP",
        "event_ts": "2026-03-02T14:00:00+08:00", "location": "CN", **kw,
    }
