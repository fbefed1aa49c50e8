"""Data quality with Great Expectations (tradelake.quality): suites derived from the declarations, raw
defects caught with the right counts, a clean day passing everything, volume drops flagged, gold gated
before publishing, drift measured, Data Docs readable in a browser."""
from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import subprocess
from pathlib import Path

import landing_builder as lb
import pytest
from chispa import assert_approx_df_equality
from conftest import settings_for
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from tradelake import runner, tables
from tradelake.contracts import SOURCES, TXN_STATUSES
from tradelake.generate import generate
from tradelake.gold.publish import NotValidated
from tradelake.quality import drift, rules
from tradelake.quality.job import DataQualityError

D = dt.date(2026, 3, 2)


def _results(spark, s, run_id: str, table: str) -> dict:
    """{(expectation, column): row} of one validation run and table."""
    rows = tables.read(spark, s, tables.DQ_RESULTS).where((F.col("run_id") == run_id) & (F.col("table_name") == table))
    return {(r["expectation"], r["column_name"]): r for r in rows.collect()}


# -------------------------------------------------------------------------------------------------
# Suites come from the declarations
# -------------------------------------------------------------------------------------------------
def test_suites_are_derived_from_contracts_and_feature_ranges(tmp_path):
    s = settings_for(tmp_path)
    silver = {x.name: x for x in rules.suites("silver", s)}
    txn = silver["silver.transactions"].rules
    assert rules.Rule("ExpectColumnValuesToBeInSet", {"column": "status", "value_set": list(TXN_STATUSES)},
                      "fail", "allowed values") in txn
    assert any(r.expectation == "ExpectCompoundColumnsToBeUnique" and r.kwargs["column_list"] == ["txn_id", "updated_at"]
               for r in txn)
    required = {f.silver_name for f in SOURCES["transactions"].fields if f.required} - {"txn_id", "updated_at"}
    assert required <= {r.column for r in txn if r.expectation == "ExpectColumnValuesToNotBeNull"}
    assert any(r.column == "_parent_known" for r in txn)  # referential integrity to suppliers
    gold = {x.name: x for x in rules.suites("gold", s)}
    between = {r.column: r.kwargs for r in gold["gold.supplier_scorecard"].rules if r.expectation == "ExpectColumnValuesToBeBetween"}
    assert between["otif_rate_90d"] == {"column": "otif_rate_90d", "min_value": 0.0, "max_value": 1.0}
    assert between["gmv_usd_90d"] == {"column": "gmv_usd_90d", "min_value": 0.0}
    volume = [r for r in gold["gold.supplier_scorecard.daily"].rules if r.column == "volume_ratio"]
    assert volume and volume[0].severity == "warn"
    # every table of every layer has its suites
    assert {x.table.qualified for layer in rules.LAYERS for x in rules.suites(layer, s)} == {
        *(f"bronze.{n}" for n in SOURCES), *(f"silver.{n}" for n in SOURCES), *(f"gold.{t.name}" for t in tables.GOLD_TABLES)}


# -------------------------------------------------------------------------------------------------
# Hand-built raw defects: the bronze warnings count exactly them
# -------------------------------------------------------------------------------------------------
@pytest.mark.slow  # a lakehouse of its own through ingest, silver and validation
def test_raw_defects_fail_their_bronze_expectations_with_the_right_counts(spark, lake):
    good = [lb.txn(f"T{i}") for i in range(5)]
    bad = [lb.txn("T-S1", status="SHIPPED"), lb.txn("T-S2", status="LOST"), lb.txn("T-Q", quantity="three"),
           lb.txn("T-B", buyer_id=None)]
    lb.write(lake, "transactions", D, good + bad + ['T-MAL,"S1,broken quote'])
    runner.run_ingest(spark, lake, D, sources=["transactions"])
    outcome = runner.run_validate(spark, lake, "bronze", D, D)
    got = _results(spark, lake, outcome.run_id, "bronze.transactions")
    unexpected = {k: r["unexpected_count"] for k, r in got.items() if not r["success"]}
    assert unexpected == {
        ("ExpectColumnValuesToBeInSet", "status"): 2,
        ("ExpectColumnValuesToMatchRegex", "quantity"): 1,
        ("ExpectColumnValuesToNotBeNull", "buyer_id"): 1,
        ("ExpectColumnValuesToBeNull", "_corrupt_record"): 1,
    }
    assert got[("ExpectColumnValuesToBeInSet", "status")]["element_count"] == 9  # the parsed lines
    assert all(r["severity"] == "warn" for k, r in got.items() if not r["success"])
    assert outcome.failures == []  # raw defects are quarantined by silver: bronze only warns


# -------------------------------------------------------------------------------------------------
# Generated data
# -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean(spark, tmp_path_factory):
    """Generated data without defects; the last day's shipment events cut to a tenth (a volume drop)."""
    s = settings_for(tmp_path_factory.mktemp("dq_clean"), "generator.schema_drift_rate=0", "quality.build_data_docs=true",
                     *[f"generator.defect_rates.{k}=0" for k in ("MALFORMED", "MISSING_REQUIRED", "INVALID_TYPE",
                                                                 "OUT_OF_DOMAIN", "AMOUNT_MISMATCH", "FUTURE_TIMESTAMP",
                                                                 "FX_MISSING", "DUPLICATE", "LATE_PARENT")])
    generate(spark, s)
    first = s.generator.start_date
    last = first + dt.timedelta(days=s.generator.days - 1)
    events = sorted((Path(s.landing_root) / "shipment_events" / f"ingest_date={last.isoformat()}").glob("*.jsonl"))
    lines = [line for f in events for line in f.read_text().splitlines()]
    for f in events:
        f.unlink()
    events[0].write_text("\n".join(lines[: len(lines) // 10]) + "\n")
    runner.run_all(spark, s, first, last, jobs=("ingest", "silver"))
    return s, first, last


@pytest.mark.slow  # generated days through the pipeline
def test_a_clean_day_passes_everything(spark, clean):
    s, _, last = clean
    day = last - dt.timedelta(days=1)
    for layer in ("bronze", "silver"):
        outcome = runner.run_validate(spark, s, layer, day, day)
        assert [(r["suite"], r["expectation"], r["column_name"]) for r in outcome.rows if not r["success"]] == []
        checked = [r for r in outcome.rows if r["column_name"] == "volume_ratio" and r["element_count"]]
        assert checked, "the volume of the day was compared with its history"


@pytest.mark.slow  # generated days through the pipeline
def test_a_volume_drop_is_flagged(spark, clean):
    s, _, last = clean
    outcome = runner.run_validate(spark, s, "bronze", last, last)
    flagged = [(r["table_name"], r["column_name"], r["unexpected_count"]) for r in outcome.warnings]
    assert flagged == [("bronze.shipment_events", "volume_ratio", 1)]
    assert outcome.failures == []


@pytest.mark.slow  # generated days through the pipeline
def test_publish_copies_only_what_passed_validation(spark, clean):
    s, _, last = clean
    day = last - dt.timedelta(days=1)
    runner.run_gold(spark, s, day, day)
    gold = tables.GOLD["supplier_scorecard"]
    before = tables.read(spark, s, gold).where(F.col("as_of_date") == F.lit(day)).toPandas()

    # Recomputed and validated; then a rate goes out of [0, 1] in staging, after the validation: publish copies
    # the version that passed (versionAsOf), not the one staging holds now.
    runner.run_features(spark, s, day, day)
    runner.run_validate(spark, s, "gold", day, day)
    DeltaTable.forPath(spark, tables.STAGED["supplier_scorecard"].path(s)).update(
        F.col("supplier_id") == F.lit(before["supplier_id"].min()), {"otif_rate_90d": F.lit(1.5)})
    runner.run_publish(spark, s, day, day)
    published = tables.read(spark, s, gold).where(F.col("as_of_date") == F.lit(day)).toPandas()
    assert published["otif_rate_90d"].max() <= 1.0 and len(published) == len(before)
    published_version = DeltaTable.forPath(spark, gold.path(s)).history(1).first()["version"]

    # Validated now, the staged rate fails: nothing is published.
    with pytest.raises(DataQualityError, match="otif_rate_90d"):
        runner.run_validate(spark, s, "gold", day, day)
    failed = tables.read(spark, s, tables.DQ_RESULTS).where(
        (F.col("layer") == "gold") & ~F.col("success") & (F.col("severity") == "fail")).collect()
    assert [(r["table_name"], r["column_name"], r["unexpected_count"]) for r in failed] == [
        ("staging.supplier_scorecard", "otif_rate_90d", 1)]
    with pytest.raises(NotValidated, match="failed validation"):
        runner.run_publish(spark, s, day, day)
    with pytest.raises(NotValidated, match="not the features of"):  # staging holds another date's run
        runner.run_publish(spark, s, day - dt.timedelta(days=1), day - dt.timedelta(days=1))

    assert DeltaTable.forPath(spark, gold.path(s)).history(1).first()["version"] == published_version
    after = tables.read(spark, s, gold).where(F.col("as_of_date") == F.lit(day)).toPandas()
    assert after.sort_values("supplier_id").reset_index(drop=True).equals(before.sort_values("supplier_id").reset_index(drop=True))
    assert after["otif_rate_90d"].max() <= 1.0


@pytest.mark.slow  # generated days through the pipeline
def test_data_docs_list_the_suites_in_headless_chromium(spark, clean, tmp_path):
    s, _, _ = clean
    index = Path(s.data_docs_dir) / "index.html"
    assert index.exists(), "validation builds the Data Docs"
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("TRADELAKE_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (CI installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}/profile",
         "--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120, check=True).stdout
    for suite in ("bronze.transactions", "silver.transactions", "silver.shipment_events.daily"):
        assert suite in dom, f"{suite} not listed in the Data Docs index"


# -------------------------------------------------------------------------------------------------
# Drift: PSI by hand
# -------------------------------------------------------------------------------------------------
def test_psi_against_hand_computed_values(spark):
    ref_day, day = dt.date(2026, 1, 1), dt.date(2026, 4, 1)  # 90 days apart
    reference = spark.createDataFrame([(ref_day, float(v), float(v)) for v in range(1, 101)], "as_of_date date, same double, moved double")
    # same: the reference again; moved: every value above the reference's 90th percentile
    current = spark.createDataFrame([(day, float(v), 1000.0 + v) for v in range(1, 101)], "as_of_date date, same double, moved double")
    got = drift.psi(current, reference, ["same", "moved"], 90, 10)
    floor, p = 1e-4, 0.1
    moved = 9 * (floor - p) * math.log(floor / p) + (1 - p) * math.log(1 / p)
    expected = spark.createDataFrame(
        [("moved", day, ref_day, moved, 100, 100, "shift"), ("same", day, ref_day, 0.0, 100, 100, "stable")],
        "feature string, as_of_date date, reference_date date, psi double, rows_current long, rows_reference long, verdict string")
    assert_approx_df_equality(got.select(*expected.columns).orderBy("feature"), expected, 1e-9, ignore_nullable=True)
