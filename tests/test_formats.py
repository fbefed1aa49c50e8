"""Landing files as the world writes them (sources.md; issue 18): CSV per RFC 4180 - quoted fields holding
commas, doubled quotes and line breaks, CRLF line ends, a UTF-8 byte-order mark, non-ASCII text - and JSON
Lines with CRLF, a byte-order mark and blank lines. One hand-written file per source, every record valid:
all of them are accepted, nothing is quarantined, and the text values arrive exactly (a line break inside
a quoted CSV value arrives as \\n). A quote that never closes costs its own line, not the rest of its file
(test_reason_codes: the supplier line with a broken quote sits between valid-but-bad records, each of
which still gets its own reason). A CSV file without a header row, or with a column named twice, is an error
of that file: every line of it, the first included, is quarantined MALFORMED with a detail naming the
problem, and the run goes on."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import landing_builder as lb
import pytest
from conftest import settings_for
from pyspark.sql import functions as F

from tradelake import runner, tables
from tradelake.contracts import SOURCES

D = dt.date(2026, 3, 2)
D2 = D + dt.timedelta(days=1)  # the day of the files whose header cannot be read
BOM = "\ufeff"

# (source, key, field) -> the exact text that must arrive in silver
TEXT = {
    ("suppliers", "S1", "legal_name"): 'Zhejiang "Ming" Trading, Ltd.',
    ("suppliers", "S2", "legal_name"): "Two-line name\nsecond line, with a comma",
    ("suppliers", "S2", "industry"): "Möbel & Söhne",
    ("suppliers", "S3", "legal_name"): "東京貿易株式会社",
    ("suppliers", "S3", "industry"): 'Quotes "inside" an unquoted-looking value',
    ("transactions", "T1", "category"): 'Apparel, "premium"',
    ("transactions", "T2", "category"): "Café équipement",
    ("shipments", "SH1", "carrier"): 'Hapag-Lloyd "Express", AG',
    ("shipments", "SH2", "carrier"): "Ζeta Λogistics\r\nline two",
}


def _csv(source: str, records: list[dict]) -> bytes:
    """RFC 4180 as Python's csv module writes it (quotes only where needed, doubled inside), with CRLF line
    ends, after a UTF-8 byte-order mark."""
    names = SOURCES[source].field_names
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(names)
    for r in records:
        w.writerow(["" if r.get(c) is None else r[c] for c in names])
    return (BOM + buf.getvalue()).encode("utf-8")


def _jsonl(records: list[dict]) -> bytes:
    """JSON Lines with CRLF line ends, a byte-order mark, blank lines (also before the first and after the last
    record) and non-ASCII text written as is."""
    lines = [json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False) for r in records]
    return (BOM + "\r\n" + "\r\n\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _text(source: str, key: str, field: str, default: str) -> str:
    return TEXT.get((source, key, field), default)


def build_landing(settings) -> None:
    files = {
        "fx_rates": _csv("fx_rates", [lb.fx("2026-03-02", "EUR", "1.100000"), lb.fx("2026-03-02", "USD", "1")]),
        "suppliers": _csv("suppliers", [
            lb.supplier(k, legal_name=_text("suppliers", k, "legal_name", "Acme"),
                        industry=_text("suppliers", k, "industry", "Textiles"))
            for k in ("S1", "S2", "S3")]),
        "transactions": _csv("transactions", [
            lb.txn(k, category=_text("transactions", k, "category", "Apparel")) for k in ("T1", "T2")]),
        "payments": _jsonl([lb.payment("P1", txn_id="T1", method="BANK_TRANSFER"),
                            lb.payment("P2", txn_id="T2")]),
        "shipments": _csv("shipments", [
            lb.shipment(k, txn_id=t, carrier=_text("shipments", k, "carrier", "Maersk"))
            for k, t in (("SH1", "T1"), ("SH2", "T2"))]),
        "shipment_events": _jsonl([lb.event("E1", shipment_id="SH1"), lb.event("E2", shipment_id="SH2")]),
    }
    for source, data in files.items():
        ext = "csv" if SOURCES[source].format == "csv" else "jsonl"
        (lb.folder(settings, source, D) / f"provider-b.{ext}").write_bytes(data)
    # D2: no header row (the first line is a record), and a header naming a column twice.
    headerless = _csv("fx_rates", [lb.fx("2026-03-03", "EUR", "1.1"), lb.fx("2026-03-03", "USD", "1")])
    (lb.folder(settings, "fx_rates", D2) / "no-header.csv").write_bytes(headerless.split(b"\r\n", 1)[1])
    doubled = _csv("suppliers", [lb.supplier("S9")]).replace(b",country,", b",country,country,", 1)
    (lb.folder(settings, "suppliers", D2) / "doubled.csv").write_bytes(doubled)


HEADER_PROBLEMS = {  # (source, raw line) -> detail
    ("fx_rates", "2026-03-03,EUR,1.1"): "no header row: the first line names no field of the contract",
    ("fx_rates", "2026-03-03,USD,1"): "no header row: the first line names no field of the contract",
    ("suppliers", ",".join(SOURCES["suppliers"].field_names).replace(",country,", ",country,country,", 1)):
        "duplicate column names in the header: country",
}


@pytest.fixture(scope="module")
def lakehouse(spark, tmp_path_factory):
    settings = settings_for(tmp_path_factory.mktemp("formats"))
    build_landing(settings)
    runner.run_ingest(spark, settings, D, D2)
    runner.run_silver(spark, settings, D, D2)
    return settings


def test_every_record_is_accepted_and_nothing_quarantined(spark, lakehouse):
    q = tables.read(spark, lakehouse, tables.QUARANTINE).where(F.col("ingest_date") == F.lit(D))
    assert q.count() == 0, q.select("source", "reason_code", "reason_detail", "raw_record").collect()
    expected = {"fx_rates": 2, "suppliers": 3, "transactions": 2, "payments": 2, "shipments": 2, "shipment_events": 2}
    assert {s: tables.read(spark, lakehouse, tables.silver(s)).where(F.col("_known_date") == F.lit(D)).count()
            for s in expected} == expected
    assert tables.read(spark, lakehouse, tables.DUPLICATES).count() == 0


def test_text_values_arrive_exactly(spark, lakehouse):
    keys = {"suppliers": "supplier_id", "transactions": "txn_id", "shipments": "shipment_id"}
    for (source, key, field), text in TEXT.items():
        row = tables.read(spark, lakehouse, tables.silver(source)).where(F.col(keys[source]) == key).select(field).first()
        # RFC 4180 lets a quoted value hold CRLF; Spark's parser hands line breaks inside quotes over as \n
        assert row is not None and row[0] == text.replace("\r\n", "\n"), (source, key, field, row)


def test_json_lines_keep_exact_values_and_no_byte_order_mark(spark, lakehouse):
    payments = tables.read(spark, lakehouse, tables.silver("payments"))
    assert sorted(r[0] for r in payments.select("payment_id").collect()) == ["P1", "P2"]  # the BOM'd first line too
    bronze = tables.read(spark, lakehouse, tables.bronze("payments"))
    assert bronze.where(F.col("_corrupt_record").isNotNull()).count() == 0
    assert bronze.count() == 2  # blank lines are not records


def test_a_file_without_a_readable_header_is_malformed_line_by_line(spark, lakehouse):
    q = tables.read(spark, lakehouse, tables.QUARANTINE).where(F.col("ingest_date") == F.lit(D2))
    got = {(r["source"], r["raw_record"]): (r["reason_code"], r["reason_detail"]) for r in q.collect()}
    # the supplier record under the doubled header is a line too (its e-mail masked in the raw text)
    supplier_lines = [k for k in got if k[0] == "suppliers"]
    assert len(supplier_lines) == 2 and len(got) == 4, got
    for key, detail in HEADER_PROBLEMS.items():
        assert got[key] == ("MALFORMED", detail), key
    assert {v for k, v in got.items() if k[0] == "suppliers"} == {("MALFORMED", HEADER_PROBLEMS[
        next(k for k in HEADER_PROBLEMS if k[0] == "suppliers")])}
    # nothing of them reached silver, and the accounting of the day balances with every line counted
    for source in ("fx_rates", "suppliers"):
        assert tables.read(spark, lakehouse, tables.silver(source)).where(F.col("_known_date") == F.lit(D2)).count() == 0
    acc = {r["source"]: r for r in tables.read(spark, lakehouse, tables.ACCOUNTING)
           .where((F.col("stage") == "silver") & (F.col("ingest_date") == F.lit(D2))).collect()}
    assert (acc["fx_rates"]["records_read"], acc["fx_rates"]["quarantined"], acc["fx_rates"]["balanced"]) == (2, 2, True)
    assert (acc["suppliers"]["records_read"], acc["suppliers"]["quarantined"], acc["suppliers"]["balanced"]) == (2, 2, True)
