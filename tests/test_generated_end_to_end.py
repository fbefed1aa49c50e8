"""The real pipeline over generated data (the shared lakehouse of tests/generated_lake.py): what it
quarantines, accepts and counts as duplicates equals the generator's manifest exactly; a re-run changes no
table; no PII reaches silver in clear text."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from conftest import settings_for
from generated_lake import FIRST, LAST
from pyspark.sql import functions as F

from tradelake import runner, tables
from tradelake.contracts import SOURCE_ORDER, SOURCES
from tradelake.generate import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(generated_lake):
    """The shared generated lakehouse (tests/generated_lake.py: 420 days, every day through the pipeline)."""
    return generated_lake.settings, generated_lake.manifest, FIRST, LAST


def test_quarantine_per_source_and_reason_equals_manifest(spark, generated):
    s, manifest, _, _ = generated
    got = {
        (r["source"], r["reason_code"]): r["n"]
        for r in tables.read(spark, s, tables.QUARANTINE).groupBy("source", "reason_code").count()
        .withColumnRenamed("count", "n").collect()
    }
    expected = {(src, reason): n for src, t in manifest["totals"].items() for reason, n in t["quarantined"].items()}
    assert got == expected
    # every kind of injected defect shows up, for the test to mean something
    assert {reason for _, reason in expected} >= {"MALFORMED", "MISSING_REQUIRED", "INVALID_TYPE", "OUT_OF_DOMAIN",
                                                  "AMOUNT_MISMATCH", "FUTURE_TIMESTAMP", "FX_MISSING", "ORPHAN"}


def test_accounting_per_source_and_day_equals_manifest(spark, generated):
    s, manifest, _, _ = generated
    acc = tables.read(spark, s, tables.ACCOUNTING).where("stage = 'silver'").collect()
    assert all(r["balanced"] for r in acc)
    for r in acc:
        day = manifest["per_day"][r["source"]].get(r["ingest_date"].isoformat(),
                                                   {"records": 0, "accepted": 0, "duplicates": 0, "quarantined": {}})
        assert (r["records_read"], r["accepted"], r["duplicates"], r["quarantined"]) == (
            day["records"], day["accepted"], day["duplicates"], sum(day["quarantined"].values())), (r["source"], r["ingest_date"])
        resolved = manifest["orphans_resolved_per_day"].get(r["source"], {}).get(r["ingest_date"].isoformat(), 0)
        assert r["orphans_resolved"] == resolved, (r["source"], r["ingest_date"])


def test_silver_row_counts_equal_manifest(spark, generated):
    s, manifest, _, _ = generated
    for name in SOURCE_ORDER:
        t = manifest["totals"][name]
        assert tables.read(spark, s, tables.silver(name)).count() == t["accepted"] + t["orphans_resolved"], name


def test_schema_drift_is_kept_and_reported(spark, generated):
    s, manifest, _, _ = generated
    files = tables.read(spark, s, tables.INGESTED_FILES).where(F.size("extra_columns") > 0).collect()
    got = {(f["source"], f["ingest_date"].isoformat()) for f in files}
    # (a drifted source-day without records has no file to show it)
    assert got == {(src, d) for src, days in manifest["schema_drift"].items() for d in days
                   if manifest["per_day"][src].get(d, {}).get("records")}
    assert len(got) > 10
    assert all(f["extra_columns"] == [manifest["drift_column"]] for f in files)


def _snapshot(spark, s):
    """Every table's current version, to read back with time travel."""
    from delta.tables import DeltaTable

    return {t.qualified: DeltaTable.forPath(spark, t.path(s)).history(1).first()["version"]
            for t in tables.all_tables() if tables.exists(spark, s, t)}


def _comparable(df):
    """Set operations cannot take maps: compare them as sorted lists of entries."""
    return df.select(*[
        F.to_json(F.array_sort(F.map_entries(f.name))).alias(f.name) if f.dataType.typeName() == "map" else F.col(f.name)
        for f in df.schema.fields
    ])


def test_rerunning_a_date_changes_no_table(spark, generated):
    s, _, first, last = generated
    day = first + dt.timedelta(days=3)
    before = _snapshot(spark, s)
    runner.run_ingest(spark, s, day)
    runner.run_silver(spark, s, day)
    after = _snapshot(spark, s)
    assert after.keys() == before.keys()
    changed = []
    for t in tables.all_tables():
        if t is tables.RUNS or after.get(t.qualified) == before.get(t.qualified):
            continue  # the run log records every execution, by design; no commit, no change
        old = _comparable(spark.read.format("delta").option("versionAsOf", before[t.qualified]).load(t.path(s)))
        new = _comparable(spark.read.format("delta").load(t.path(s)))
        if old.exceptAll(new).count() or new.exceptAll(old).count():
            changed.append(t.qualified)
    assert changed == []
    # and the run was logged
    runs = tables.read(spark, s, tables.RUNS).where(F.col("first_date") == F.lit(day)).collect()
    assert {r["job"] for r in runs} == {"ingest", "silver"} and {r["status"] for r in runs} == {"SUCCEEDED"}


def test_no_pii_in_clear_text_anywhere_in_silver(spark, generated):
    s, _, _, _ = generated
    # Every PII value that arrived, as read in bronze (and lower-cased: a normalised form must not leak either).
    pii = None
    for name in SOURCE_ORDER:
        for f in SOURCES[name].pii_fields:
            vals = tables.read(spark, s, tables.bronze(name)).select(F.col(f.name).alias("v")).where("v IS NOT NULL AND v != ''")
            pii = vals if pii is None else pii.unionByName(vals)
    pii = pii.select(F.explode(F.array(F.col("v"), F.lower("v"), F.trim("v"))).alias("v")).distinct().localCheckpoint()
    assert pii.count() > 100  # the scan has something to find
    long_pii = pii.where(F.length("v") >= GRAM).select(F.col("v").alias("p")).localCheckpoint()
    for name in SOURCE_ORDER:
        df = tables.read(spark, s, tables.silver(name))
        strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        values = df.select(F.explode(F.array(*[F.col(c) for c in strings])).alias("v")).distinct()
        leaked = values.join(pii, "v").limit(5).collect()
        assert leaked == [], f"PII in clear text in silver.{name}: {leaked}"
        # and not inside longer strings either (e.g. a raw JSON blob)
        inside = _containing(values, long_pii).limit(5).collect()
        assert inside == [], f"PII inside a value of silver.{name}: {inside}"


GRAM = 6  # PII values this long or longer are searched for inside other strings


def _containing(values, needles):
    """(v, p) for each string v of `values` that contains a needle p (column `p`, GRAM characters or more): an
    equi-join on the needle's first GRAM characters against every GRAM-character substring of v, then the exact
    test - where a join on instr() alone is a nested loop over every pair (minutes on the generated lakehouse)."""
    grams = values.where(F.length("v") >= GRAM).select(
        "v", F.explode(F.expr(f"transform(sequence(1, length(v) - {GRAM - 1}), i -> substring(v, i, {GRAM}))")).alias("gram"))
    return (grams.join(needles.withColumn("gram", F.substring("p", 1, GRAM)), "gram")
            .where(F.instr("v", F.col("p")) > 0).select("v", "p").distinct())


def test_the_substring_search_finds_a_needle_anywhere(spark):
    values = spark.createDataFrame([("{\"e\": \"li.wei@x.example\"}",), ("li.wei@x.example",), ("ends with 123456",),
                                    ("li.we",), ("nothing here",)], "v string")
    needles = spark.createDataFrame([("li.wei@x.example",), ("123456",), ("absent-needle",)], "p string")
    got = sorted(tuple(r) for r in _containing(values, needles).collect())
    assert got == [("ends with 123456", "123456"), ("li.wei@x.example", "li.wei@x.example"),
                   ("{\"e\": \"li.wei@x.example\"}", "li.wei@x.example")]


def test_pii_is_hashed_consistently_across_sources(spark, generated):
    s, _, _, _ = generated
    txn = tables.read(spark, s, tables.silver("transactions")).select("buyer_email_hmac").distinct()
    assert txn.where(~F.col("buyer_email_hmac").rlike("^[0-9a-f]{64}$")).count() == 0


def test_reingesting_adds_nothing(spark, generated):
    s, _, first, last = generated
    counts = {n: tables.read(spark, s, tables.bronze(n)).count() for n in SOURCE_ORDER}
    results = runner.run_ingest(spark, s, first, last)
    assert all(r.files_new == 0 for r in results)
    assert counts == {n: tables.read(spark, s, tables.bronze(n)).count() for n in SOURCE_ORDER}


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic(spark, tmp_path):
    small = ["generator.days=3", "generator.transactions=300", "generator.suppliers=10", "generator.buyers=30"]
    a, b = settings_for(tmp_path / "a", *small), settings_for(tmp_path / "b", *small)
    generate(spark, a)
    generate(spark, b)
    da, db = _tree_digest(Path(a.landing_root)), _tree_digest(Path(b.landing_root))
    manifest_a = json.loads((Path(a.landing_root) / "_manifest.json").read_text())
    assert da == db and len(da) >= 12  # every file, the manifest included, byte for byte
    assert not [f for f in da if Path(f).name.startswith(".")]  # no .crc or other hidden files
    assert manifest_a["parameters"]["seed"] == a.generator.seed
    # another seed gives other data
    c = settings_for(tmp_path / "c", *small, "generator.seed=7")
    generate(spark, c)
    dc = _tree_digest(Path(c.landing_root))
    assert dc != da


def test_generated_defects_are_counted_and_silver_and_gold_pass(spark, generated):
    s, manifest, _, _ = generated
    dq = tables.read(spark, s, tables.DQ_RESULTS)
    # (bronze was validated once per half: the malformed lines of both runs)
    malformed = {r["table_name"]: r["n"] for r in dq.where(
        (F.col("layer") == "bronze") & (F.col("column_name") == "_corrupt_record"))
        .groupBy("table_name").agg(F.sum("unexpected_count").alias("n")).collect()}
    assert malformed == {f"bronze.{n}": t["quarantined"].get("MALFORMED", 0) for n, t in manifest["totals"].items()}
    assert sum(malformed.values()) > 0
    # silver and gold hold no defect: every fail-severity expectation held, and gold was published
    failed = dq.where((F.col("layer").isin("silver", "gold")) & (F.col("severity") == "fail") & ~F.col("success"))
    assert failed.count() == 0
    assert dq.where(F.col("layer") == "gold").count() > 0
    assert tables.read(spark, s, tables.GOLD["supplier_scorecard"]).count() > 0
