"""`make bench` at a tiny scale: the report has its shape, and its row counts are the tables'."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STAGES = ("generate", "ingest", "silver", "features", "validate", "publish", "duckdb_features")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    main_lakehouse = root / "lakehouse"
    out = subprocess.run(
        [sys.executable, "-m", "tradelake.bench", "--scale", "tiny", "--env", "test", "--work", str(root / "work"),
         "--set", f"paths.lakehouse={main_lakehouse}"],
        capture_output=True, text=True, env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}, timeout=1800,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    report_path = main_lakehouse / "ops" / "bench" / "latest.json"
    return json.loads(report_path.read_text()), out.stdout, report_path


def test_report_is_written_with_a_timestamped_copy_and_printed(bench):
    report, stdout, path = bench
    copies = [p for p in path.parent.iterdir() if p.name != "latest.json"]
    assert len(copies) == 1 and copies[0].name.endswith("-tiny.json")
    assert json.loads(copies[0].read_text()) == report
    assert "incremental_late_vs_early_ratio" in stdout and "silver.transactions" in stdout


def test_report_shape(bench):
    report, _, _ = bench
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
    assert report["incremental_late_vs_early_ratio"] == pytest.approx(
        runs["daily_late"]["seconds"] / runs["daily_early"]["seconds"], abs=0.01)
    assert report["spark_vs_duckdb_feature_ratio"] == pytest.approx(
        report["stages"]["features"]["seconds"] / report["stages"]["duckdb_features"]["seconds"], rel=0.05)
    for name, t in report["tables"].items():
        assert {"rows", "files", "bytes", "median_file_bytes", "files_written"} <= set(t), name


def test_row_counts_match_the_tables(spark, bench):
    report, _, _ = bench
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
    day = lambda i: first + dt.timedelta(days=i)  # noqa: E731
    ramp = {day(i): 10 * i for i in range(31)} | {last: 100}
    assert pick_early_day(ramp, first, last, 3) == day(9)          # the first with >= 90
    assert pick_early_day(ramp | {day(5): 95}, first, last, 3) == day(5)
    assert pick_early_day({day(i): 5 for i in range(31)} | {day(7): 6, last: 1000}, first, last, 3) == day(7)
    assert pick_early_day({}, first, last, 3) == day(3)            # nothing to go by: the first candidate
    assert pick_early_day(ramp, first, dt.date(2026, 1, 6), 4) == day(4)  # a short period: day early_day
