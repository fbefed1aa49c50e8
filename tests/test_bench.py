"""`make bench` at a tiny scale: the report has its shape, its row counts are the tables', and its times and
ratios agree with what the pipeline's own run log (ops.runs) and this test's clock measured."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import INTERPRETED

pytestmark = pytest.mark.slow

STAGES = ("generate", "ingest", "silver", "features", "validate", "publish", "duckdb_features")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    main_lakehouse = root / "lakehouse"
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "tradelake.bench", "--scale", "tiny", "--env", "test", "--work", str(root / "work"),
         "--set", f"paths.lakehouse={main_lakehouse}",
         # the report's consistency is checked here, not its speed: interpreted, as the tests' own session
         *(f"--set=spark.conf.{k}={v}" for k, v in INTERPRETED.items())],
        capture_output=True, text=True, env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}, timeout=1800,
    )
    wall = time.monotonic() - t0
    assert out.returncode == 0, out.stderr[-4000:]
    report_path = main_lakehouse / "ops" / "bench" / "latest.json"
    return json.loads(report_path.read_text()), out.stdout, report_path, wall


def test_report_is_written_with_a_timestamped_copy_and_printed(bench):
    report, stdout, path, _ = bench
    copies = [p for p in path.parent.iterdir() if p.name != "latest.json"]
    assert len(copies) == 1 and copies[0].name.endswith("-tiny.json")
    assert json.loads(copies[0].read_text()) == report
    assert "incremental_late_vs_early_ratio" in stdout and "silver.transactions" in stdout


def test_report_shape(bench):
    report, _, _, _ = bench
    assert report["scale"] == "tiny"
    assert set(STAGES) <= set(report["stages"])
    for name in STAGES:
        s = report["stages"][name]
        assert s["seconds"] > 0, name
        assert {"rows_in", "rows_out", "rows_per_second", "shuffle_read_bytes", "shuffle_write_bytes",
                "peak_rss_mb"} <= set(s)
    assert report["generated"]["reused"] is False
    assert report["peak_rss_mb"] >= max(s["peak_rss_mb"] for s in report["stages"].values()) > 100
    assert report["shuffle"]["write_bytes"] > 0
    assert sum(s["shuffle_write_bytes"] for s in report["stages"].values()) <= report["shuffle"]["write_bytes"]
    assert report["stages"]["silver"]["shuffle_write_bytes"] > 0
    runs = report["features_runs"]
    assert [runs[k]["how"] for k in ("backfill_first", "daily_early", "backfill_rest", "daily_late")] == [
        "range", "daily", "range", "daily"]
    for name, t in report["tables"].items():
        assert {"rows", "files", "bytes", "median_file_bytes", "files_written"} <= set(t), name


def test_row_counts_match_the_tables(spark, bench):
    report, _, _, _ = bench
    lakehouse = Path(report["lakehouse"])
    assert len(report["tables"]) >= 25
    for name, t in report["tables"].items():
        layer, table = name.split(".", 1)
        df = spark.read.format("delta").load(str(lakehouse / layer / table))
        assert df.count() == t["rows"], name
        assert len(df.inputFiles()) == t["files"], name
    manifest = json.loads((Path(report["generated"]["landing"]) / "_manifest.json").read_text())
    for source, counts in report["sources"].items():
        assert counts["landing_records"] == manifest["totals"][source]["records"], source
        assert counts["silver_rows"] == report["tables"][f"silver.{source}"]["rows"] > 0, source
    stages = report["stages"]
    assert stages["ingest"]["rows_in"] == sum(c["landing_records"] for c in report["sources"].values())
    assert stages["ingest"]["rows_out"] == sum(c["bronze_rows"] for c in report["sources"].values())
    assert stages["features"]["rows_out"] == sum(
        t["rows"] for n, t in report["tables"].items() if n.startswith("gold.") and not n.startswith("gold._"))
    assert stages["duckdb_features"]["rows_out"] == sum(report["duckdb_feature_rows"].values())
    # The daily steps' new data: the fact rows that became visible on their day.
    from pyspark.sql import functions as F
    events = {"transactions": "updated_at", "payments": "paid_ts", "shipments": "updated_at",
              "shipment_events": "event_ts"}
    for run in ("daily_early", "daily_late"):
        day = report["features_runs"][run]["from"]
        visible = sum(spark.read.format("delta").load(str(lakehouse / "silver" / src))
                      .where(F.greatest("_known_date", F.to_date(col)) == F.lit(day)).count()
                      for src, col in events.items())
        assert report["features_runs"][run]["new_rows"] == visible > 0, run
    # Both engines computed the same snapshots: every date's feature rows, table by table.
    for table, rows in report["duckdb_feature_rows"].items():
        if table != "buyer_default_labels":
            assert rows == report["tables"][f"gold.{table}"]["rows"], table


def test_the_early_step_is_on_a_day_with_about_the_last_days_new_data():
    import datetime as dt

    from tradelake.bench import pick_early_day

    first, last = dt.date(2026, 1, 1), dt.date(2026, 1, 31)  # candidates: day 3 .. day 10 (a third)
    day = lambda i: first + dt.timedelta(days=i)
    ramp = {day(i): 10 * i for i in range(31)} | {last: 100}
    assert pick_early_day(ramp, first, last, 3) == day(9)          # the first with >= 90
    assert pick_early_day(ramp | {day(5): 95}, first, last, 3) == day(5)
    assert pick_early_day({day(i): 5 for i in range(31)} | {day(7): 6, last: 1000}, first, last, 3) == day(7)
    assert pick_early_day({}, first, last, 3) == day(3)            # nothing to go by: the first candidate
    assert pick_early_day(ramp, first, dt.date(2026, 1, 6), 4) == day(4)  # a short period: day early_day


# The stages the bench times, and the jobs of the run log (ops.runs) each one runs.
STAGE_JOBS = {"ingest": {"ingest"}, "silver": {"silver"}, "features": {"features"}, "publish": {"publish"},
              "validate": {"validate-bronze", "validate-silver", "validate-gold"}}


def test_times_and_ratios_agree_with_the_run_log_and_the_clock(spark, bench):
    """Each stage's seconds against the wall seconds its jobs logged in ops.runs themselves (the bench adds
    only the run log's own write and a few calls around each job); the daily steps and their ratio against
    the features runs logged on their dates; every stage within the report's wall time, and that within the
    wall time of the process as this test measured it."""
    report, _, _, wall = bench
    runs = spark.read.format("delta").load(f"{report['lakehouse']}/ops/runs").collect()
    assert {r["status"] for r in runs} == {"SUCCEEDED"}
    for stage, jobs in STAGE_JOBS.items():
        logged = [r["seconds"] for r in runs if r["job"] in jobs]
        measured = report["stages"][stage]["seconds"]
        assert logged and sum(logged) - 0.01 <= measured <= sum(logged) * 1.1 + 2.0 * len(logged), (stage, measured, logged)
    features = {(r["first_date"].isoformat(), r["last_date"].isoformat()): r["seconds"] for r in runs
                if r["job"] == "features"}
    logged = {name: features[(run["from"], run["to"])] for name, run in report["features_runs"].items()}
    for name, run in report["features_runs"].items():
        assert logged[name] - 0.05 <= run["seconds"] <= logged[name] + 2.0, (name, run["seconds"], logged[name])
    assert report["incremental_late_vs_early_ratio"] == pytest.approx(
        logged["daily_late"] / logged["daily_early"], rel=0.25)
    stages = report["stages"]
    assert sum(s["seconds"] for s in stages.values()) <= report["wall_seconds"] + 0.1 <= wall
    # DuckDB's time is its own (no run log): its ratio must at least be Spark's features over it
    assert report["spark_vs_duckdb_feature_ratio"] == pytest.approx(
        sum(features.values()) / stages["duckdb_features"]["seconds"], rel=0.25)
