"""Guards and entry points: processing order, immutable landing files, the CLI, spark-submit."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import landing_builder as lb
import pytest
from conftest import settings_for

from tradelake import runner, tables
from tradelake.bronze import LandingFileChanged
from tradelake.silver.pipeline import ProcessingOrderError

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
D1, D2 = dt.date(2026, 3, 2), dt.date(2026, 3, 3)


@pytest.mark.slow  # ingest and silver runs on a lakehouse of their own
def test_days_must_be_processed_in_order(spark, tmp_path):
    s = settings_for(tmp_path)
    for d in (D1, D2):
        lb.write(s, "fx_rates", d, [lb.fx(d.isoformat(), "USD", "1")])
    runner.run_ingest(spark, s, D1, D2)
    runner.run_silver(spark, s, D2)
    with pytest.raises(ProcessingOrderError, match="silver for 2026-03-02 cannot run: 2026-03-03 is already processed"):
        runner.run_silver(spark, s, D1)
    runner.run_silver(spark, s, D2)  # re-running a processed day is fine
    failed = tables.read(spark, s, tables.RUNS).where("status = 'FAILED'").collect()
    assert [r["job"] for r in failed] == ["silver"] and "ProcessingOrderError" in failed[0]["message"]


@pytest.mark.slow  # ingest and silver runs on a lakehouse of their own
def test_a_landing_file_changed_after_ingest_is_an_error(spark, tmp_path):
    s = settings_for(tmp_path)
    path = lb.write(s, "fx_rates", D1, [lb.fx("2026-03-02", "USD", "1")])
    original, as_ingested = path.read_bytes(), path.stat()
    runner.run_ingest(spark, s, D1)
    # rewritten with as many bytes (one digit of the rate), a second later: caught by its modification time
    text = path.read_text()
    path.write_text(text.replace("USD,1", "USD,2"))
    assert len(path.read_text()) == len(text) and path.read_text() != text
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(LandingFileChanged, match="landing files changed after they were ingested"):
        runner.run_ingest(spark, s, D1)
    with open(path, "a") as fh:  # and grown
        fh.write("2026-03-02,EUR,1.1\n")
    with pytest.raises(LandingFileChanged, match="landing files changed after they were ingested"):
        runner.run_ingest(spark, s, D1)
    # a new file for the same day is fine (the changed one put back as it was ingested)
    path.write_bytes(original)
    os.utime(path, ns=(as_ingested.st_atime_ns, as_ingested.st_mtime_ns))
    lb.write(s, "fx_rates", D1, [lb.fx("2026-03-02", "EUR", "1.1")], name="part-1")
    assert [r.files_new for r in runner.run_ingest(spark, s, D1, sources=["fx_rates"])] == [1]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "tradelake"), *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_cli_reports_configuration_errors():
    r = _cli("config", "--env", "cluster", env={"TRADELAKE__SPARK__MASTER": ""})
    assert r.returncode == 2 and "required value 'spark.master' is not set" in r.stderr
    r = _cli("config", "--set", "spark.shuffle_partitions=lots")
    assert r.returncode == 2 and "'spark.shuffle_partitions' must be an integer" in r.stderr
    r = _cli("config", "--env", "test")
    assert r.returncode == 0 and '"master": "local[2]"' in r.stdout


@pytest.mark.slow
def test_spark_submit_runs_the_jobs(tmp_path):
    s = settings_for(tmp_path)
    lb.write(s, "fx_rates", D1, [lb.fx("2026-03-02", "USD", "1"), lb.fx("2026-03-02", "EUR", "1.1")])
    lb.write(s, "suppliers", D1, [lb.supplier("S1")])
    jars, local_fs = _cli("jars").stdout.strip(), _cli("jars", "--local-fs").stdout.strip()
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    sets = ["--env", "test", "--set", f"paths.lakehouse={s.lakehouse_root}", "--set", f"paths.landing={s.landing_root}"]
    # as the README and `make submit` do it: ingest with tradelake's local file system, silver without
    for job, driver_classpath in (("ingest", ["--driver-class-path", local_fs] if local_fs else []), ("silver", [])):
        r = subprocess.run([str(VENV_BIN / "spark-submit"), "--jars", jars, *driver_classpath,
                            str(ROOT / "jobs" / f"{job}.py"), "--date", D1.isoformat(), *sets],
                           capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        assert ("local file system: tradelake.hadoop.NioLocalFileSystem" in r.stdout + r.stderr) == bool(driver_classpath), job
    import deltalake  # read the result without Spark

    suppliers = deltalake.DeltaTable(f"{s.lakehouse_root}/silver/suppliers").to_pyarrow_table()
    assert suppliers.column("supplier_id").to_pylist() == ["S1"]


def test_a_run_that_does_not_balance_fails_loudly(spark, tmp_path):
    from tradelake import ops

    s = settings_for(tmp_path)
    lost_one = ops.SourceAccount("payments", D1, records_read=10, accepted=7, quarantined=2, duplicates=0,
                                 orphans_retried=0, orphans_resolved=0)
    fine = ops.SourceAccount("shipments", D1, 5, 4, 1, 0, 0, 0)
    with pytest.raises(ops.AccountingError, match=r"payments 2026-03-02: read 10 != accepted 7 \+ quarantined 2 \+ duplicates 0"):
        ops.record_silver(spark, s, "run-x", [lost_one, fine])
    recorded = {r["source"]: r["balanced"] for r in tables.read(spark, s, tables.ACCOUNTING).collect()}
    assert recorded == {"payments": False, "shipments": True}  # the failure is on record too
