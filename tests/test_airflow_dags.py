"""The Airflow DAGs (airflow_dags/, tradelake.orchestration): the folder imports cleanly and cheaply, the task
graph, retries, timeouts and templates are what the pipeline needs, the gold tables are Assets. Then one real
`airflow dags test tradelake_daily <date>` (Airflow's metadata DB migrated into a temporary AIRFLOW_HOME,
SQLite) runs every task through spark-submit on generated data and produces the gold tables - while the test
SIGKILLs `silver` inside its MERGE and `publish` inside its gold write, and Airflow retries them (see "Killing
a job mid-write" below). The weekly maintenance then runs on that lakehouse."""
from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import orchestration_support as osup
import pytest
from conftest import INTERPRETED

from tradelake.config import load_settings
from tradelake.contracts import SOURCE_ORDER
from tradelake.orchestration import dags, submit

DAG_FOLDER = osup.ROOT / "airflow_dags"
PIPELINE = ["ingest", "validate_bronze", "silver", "validate_silver", "features", "validate_gold", "publish"]


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "TRADELAKE_ENV": "test",
        **extra,
    }


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    """The DAG folder parsed by Airflow in this process (AIRFLOW_HOME set before Airflow is imported)."""
    mp = pytest.MonkeyPatch()
    for key, value in airflow_env(tmp_path_factory.mktemp("airflow-home")).items():
        mp.setenv(key, value)
    from airflow.dag_processing.dagbag import DagBag

    yield DagBag(dag_folder=str(DAG_FOLDER))
    mp.undo()


@pytest.fixture(scope="module")
def daily(dagbag):
    return dagbag.dags[dags.DAILY_DAG_ID]


@pytest.fixture(scope="module")
def maintenance_dag(dagbag):
    return dagbag.dags[dags.MAINTENANCE_DAG_ID]


# -------------------------------------------------------------------------------------------------
# Importing the DAG folder
# -------------------------------------------------------------------------------------------------
def test_the_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {dags.DAILY_DAG_ID, dags.MAINTENANCE_DAG_ID}
    assert not any(dagbag.captured_warnings.values()), dagbag.captured_warnings


def test_parsing_the_dags_imports_no_spark_and_is_quick(tmp_path):
    """What the DAG processor pays every time it parses the folder: no pyspark, Delta or Great
    Expectations, no Spark session; a few YAML files."""
    code = (
        "import runpy, sys, time\n"
        "import airflow.sdk, airflow.providers.apache.spark.operators.spark_submit\n"  # Airflow's own cost
        "t0 = time.monotonic()\n"
        f"for f in ('tradelake_daily.py', 'tradelake_maintenance.py'): runpy.run_path({str(DAG_FOLDER)!r} + '/' + f)\n"
        "heavy = sorted(m for m in ('pyspark', 'py4j', 'delta', 'great_expectations', 'duckdb', 'pandas') if m in sys.modules)\n"
        "print(heavy, round(time.monotonic() - t0, 3))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **airflow_env(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    heavy, seconds = out.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert heavy == "[]"
    assert float(seconds) < 5.0  # (well under a second alone; the suite runs two processes at once)


# -------------------------------------------------------------------------------------------------
# The daily DAG's structure
# -------------------------------------------------------------------------------------------------
def test_the_daily_task_graph(daily):
    from airflow.providers.apache.spark.operators.spark_submit import (
        SparkSubmitOperator,
    )

    assert set(daily.task_dict) == set(PIPELINE)
    assert all(isinstance(t, SparkSubmitOperator) for t in daily.tasks)
    # a chain: ingest (every source in one job) first, publish last
    assert daily.task_dict["ingest"].upstream_task_ids == set()
    for before, after in itertools.pairwise(PIPELINE):
        assert daily.task_dict[after].upstream_task_ids == {before}, after
    assert daily.task_dict["publish"].downstream_task_ids == set()
    # each task runs its job
    jobs = {t.task_id: (Path(t.application).name, t.application_args[:-2]) for t in daily.tasks}
    assert jobs["ingest"] == ("ingest.py", ["--date", "{{ ds }}"])
    assert jobs["validate_silver"] == ("validate.py", ["--layer", "silver", "--date", "{{ ds }}"])
    assert jobs["features"] == ("features.py", ["--date", "{{ ds }}"])
    assert jobs["publish"] == ("publish.py", ["--date", "{{ ds }}"])
    for t in daily.tasks:
        assert Path(t.application).is_file(), t.application
        assert t.application_args[-2:] == ["--env", "test"]


def test_one_run_at_a_time_retries_with_backoff_timeouts_owner_and_tags(daily):
    a = load_settings("test").airflow
    assert daily.max_active_runs == 1 and daily.catchup is True
    assert daily.dagrun_timeout == dt.timedelta(hours=a.dagrun_timeout_hours)
    assert {"tradelake", "lakehouse"} <= set(daily.tags)
    for t in daily.tasks:
        assert t.owner == a.owner == "data-platform"
        assert t.retries == a.retries >= 1
        assert t.retry_delay == dt.timedelta(minutes=a.retry_delay_minutes)
        assert t.retry_exponential_backoff == a.retry_backoff > 1
        assert t.max_retry_delay == dt.timedelta(minutes=a.max_retry_delay_minutes)
        assert t.execution_timeout == dt.timedelta(minutes=a.task_timeout_minutes)
    # order matters for silver (verdicts depend on earlier days) and features (the daily step)
    assert {t.task_id for t in daily.tasks if t.depends_on_past} == {"silver", "features"}


def test_dates_come_from_the_data_interval(daily):
    """Every date a task is given is {{ ds }}; the schedule is a data-interval timetable, so a scheduled
    (or backfilled) run's ds is the start of its interval - the day it processes - and the run starts only
    once that day is over. Nothing refers to the time the task happens to run."""
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    for t in daily.tasks:
        args = t.application_args
        assert args[args.index("--date") + 1] == "{{ ds }}", t.task_id
        rendered_fields = json.dumps([getattr(t, f) for f in t.template_fields], default=str)
        for clock in ("now", "today", "utcnow", "macros.datetime", "time.time"):
            assert clock not in rendered_fields, (t.task_id, clock)
    assert isinstance(daily.timetable, CronDataIntervalTimetable)
    timetable = coerce_to_core_timetable(daily.timetable)
    first = timetable.next_dagrun_info(last_automated_data_interval=None,
                                       restriction=TimeRestriction(earliest=daily.start_date, latest=None, catchup=True))
    second = timetable.next_dagrun_info(last_automated_data_interval=first.data_interval,
                                        restriction=TimeRestriction(earliest=daily.start_date, latest=None, catchup=True))
    start = load_settings("test").airflow.start_date
    assert first.logical_date == first.data_interval.start  # hence ds = the interval's first day
    assert first.data_interval.start.date() == start and second.data_interval.start.date() == start + dt.timedelta(days=1)
    assert first.run_after == first.data_interval.end > first.data_interval.start  # after the day, not during it
    # rendered as Airflow renders a task's templates
    t = daily.task_dict["silver"]
    ds = first.logical_date.strftime("%Y-%m-%d")
    assert t.render_template(t.application_args, {"ds": ds}) == ["--date", start.isoformat(), "--env", "test"]


def test_tasks_ship_the_package_and_jars_on_the_configured_connection(daily, tmp_path):
    s = load_settings("test")
    for t in daily.tasks:
        assert t._conn_id == s.airflow.spark_conn_id == "tradelake_spark"
        assert t.py_files == str(osup.ROOT / "dist" / "tradelake.zip")
        assert t.jars.split(",") == submit.delta_jars(s)
        assert t.env_vars["PYSPARK_PYTHON"] == t.env_vars["PYSPARK_DRIVER_PYTHON"] == sys.executable
        assert t.env_vars["TRADELAKE_PROJECT_ROOT"] == str(osup.ROOT)
        assert t._driver_memory == s.spark.driver_memory
        assert t.conf == {**osup.SUBMIT_CONF, **submit.local_fs_classpath(s)}  # conf/test.yaml
    # the connection, and everything else, comes from the configuration
    other = dags.build_daily_dag(load_settings("test", overrides=["airflow.spark_conn_id=spark_yarn",
                                                                  "airflow.retries=5", "airflow.py_files=/opt/tl.zip"]))
    assert {t._conn_id for t in other.tasks} == {"spark_yarn"}
    assert {t.retries for t in other.tasks} == {5}
    assert {t.py_files for t in other.tasks} == {"/opt/tl.zip"}
    # a task refuses to submit a package that is not there (before it looks for its connection)
    task = other.task_dict["silver"]
    with pytest.raises(FileNotFoundError, match="make dist"):
        task.execute(context={})


def test_the_submissions_are_what_the_tests_run(daily):
    """The kill and cluster tests run spark-submit with tradelake.orchestration.submit: the DAG's tasks are
    built from the same submissions."""
    s = load_settings("test")
    for t in daily.tasks:
        job = Path(t.application).stem
        sub = submit.submission(s, job, t.application_args[:-2], name=t.name)
        assert (t.application, t.application_args, t.py_files, t.jars, t.env_vars, t._driver_memory) == (
            sub.application, sub.application_args, sub.py_files, sub.jars, sub.env_vars, sub.driver_memory)


def test_gold_tables_are_published_as_assets(daily):
    from airflow.sdk import Asset

    from tradelake import tables

    publish = daily.task_dict["publish"]
    assert all(isinstance(a, Asset) for a in publish.outlets)
    s = load_settings("test")
    assert {(a.name, a.uri) for a in publish.outlets} == {
        (f"tradelake.gold.{name}", f"file://{s.table_path('gold', name)}") for name in tables.GOLD}
    assert [t.task_id for t in daily.tasks if t.outlets] == ["publish"]


def test_the_lists_a_dag_file_keeps_agree_with_the_package():
    from tradelake import jars, tables

    assert submit.GOLD_TABLES == tuple(tables.GOLD)
    s = load_settings("test")
    assert submit.delta_jars(s) == jars.jar_paths(s.jars_cache)
    # the driver JVM's options spark-submit gets are those every tradelake session has
    from tradelake.spark import FIXED_CONF

    default = submit.submission(load_settings("local"), "silver", ["--date", "2026-01-05"])
    local_fs = jars.local_fs_jar(s.jars_cache)  # on the driver's classpath, for a local master (tradelake.spark)
    assert default.conf == {"spark.driver.extraJavaOptions": FIXED_CONF["spark.driver.extraJavaOptions"],
                            **({"spark.driver.extraClassPath": str(local_fs)} if local_fs.is_file() else {})}


def test_the_maintenance_dag(maintenance_dag):
    d = maintenance_dag
    assert set(d.task_dict) == {"optimize", "vacuum", "report", "prune_gx"}
    assert d.task_dict["vacuum"].upstream_task_ids == {"optimize"}
    assert d.task_dict["report"].upstream_task_ids == {"vacuum"}
    assert d.task_dict["prune_gx"].upstream_task_ids == set()
    assert d.max_active_runs == 1 and d.catchup is False
    assert d.timetable.expression == "0 5 * * 0"  # weekly
    for t in d.tasks:
        assert Path(t.application).name == "maintenance.py"
        args = t.application_args
        assert args[args.index("--date") + 1] == "{{ ds }}"
        assert t.retries >= 1 and t.execution_timeout is not None


def test_prune_gx_keeps_the_configured_days_of_validation_results(tmp_path):
    from tradelake.config import ConfigError
    from tradelake.orchestration import maintenance

    s = load_settings("test", overrides=[f"paths.lakehouse={tmp_path}/lakehouse", "maintenance.gx_results_keep_days=30"])
    day = dt.date(2026, 3, 1)
    results = Path(s.gx_dir) / "gx" / "uncommitted" / "validations"
    pages = Path(s.data_docs_dir) / "validations"
    ages = {40: "gold/supplier_scorecard", 31: "gold/supplier_scorecard/daily", 30: "silver/payments", 0: "silver/payments"}
    for age, suite in ages.items():
        when = dt.datetime.combine(day - dt.timedelta(days=age), dt.time(23, 59), dt.UTC)
        stamp = when.strftime("%Y%m%dT%H%M%S.%fZ")
        for base, ext in ((results, "json"), (pages, "html")):
            run = base / suite / f"validate-{age}" / stamp
            run.mkdir(parents=True)
            (run / f"tradelake_spark-{suite.replace('/', '.')}.{ext}").write_text("{}")
    (results / ".ge_store_backend_id").write_text("store-id")
    pruned = maintenance.prune_gx(s, day)
    # validated before day - 30 (2026-01-30 00:00 UTC): gone, with their Data Docs pages and empty folders
    assert (pruned.results_removed, pruned.results_kept, pruned.pages_removed) == (2, 2, 2)
    left = sorted(str(p.relative_to(results)) for p in results.rglob("*.json"))
    assert [x.split("/")[2] for x in left] == ["validate-0", "validate-30"]
    assert not (results / "gold" / "supplier_scorecard" / "validate-40").exists()
    assert not (results / "gold").exists() and (results / ".ge_store_backend_id").exists()
    assert sorted(p.parent.parent.name for p in pages.rglob("*.html")) == ["validate-0", "validate-30"]
    assert maintenance.prune_gx(s, day).results_removed == 0  # again: nothing more to do
    with pytest.raises(ConfigError, match="never keeps less than 168"):
        maintenance.retention_hours(load_settings("test", overrides=["maintenance.vacuum_retention_hours=24"]))


# -------------------------------------------------------------------------------------------------
# airflow dags test: the daily pipeline, every task a real spark-submit, two of them killed mid-write
# -------------------------------------------------------------------------------------------------
# Killing a job mid-write and retrying it. The run is Airflow's, with `retries: 1` and a retry delay of a
# second: the test SIGKILLs the spark-submit of `silver` inside its MERGE into silver.transactions, and of
# `publish` inside its write of gold.supplier_credit_features (the JVM and its Python driver at once, as a
# lost node or the OOM killer would); Airflow then retries each task - the same spark-submit command - and the
# run must end with every table complete: no row lost or duplicated, every Delta version readable.
#
# How the kill is made to land inside the write: every task runs with a Delta LogStore (compiled here from
# the Java source below; --jars and spark.delta.logStore.file.impl, through the `airflow` configuration)
# that, for each table named in TRADELAKE_HOLD_COMMIT, prints a line and sleeps just before it writes the
# table's first commit after its creation (_delta_log/<version>.json) - once: a marker file makes the retry
# go through. By then the write has done everything else: its new data files are on disk (the test checks
# they are there and that no commit references them). The test waits for that line in Airflow's log and
# kills. This is the moment atomicity is about, and it is hit every time: polling the table folder or the
# log for "the write started" would race with writes of a few hundred rows that take well under a second.
# Everything else is as it would be: the tables the job wrote before are committed, those after untouched.
HOLD_LOGSTORE = "tradelake.testing.HoldCommitLogStore"
HOLD_MARKER = "TRADELAKE_HOLD_COMMIT: holding commit"
KILLED = {"silver": "silver/transactions", "publish": "gold/supplier_credit_features"}
JAVA = """
package tradelake.testing;

import java.io.File;
import java.io.IOException;
import java.util.Iterator;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import io.delta.storage.HDFSLogStore;

/** Delta's HDFSLogStore, except that the first commit after its creation of each table whose path ends with
 *  one of $TRADELAKE_HOLD_COMMIT (comma-separated) waits 10 minutes before it is written - once: a marker
 *  file in $TRADELAKE_HOLD_DIR lets later attempts through. The test kills the job while it waits. */
public class HoldCommitLogStore extends HDFSLogStore {
    public HoldCommitLogStore(Configuration conf) { super(conf); }

    @Override
    public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration hadoopConf) throws IOException {
        String tables = System.getenv("TRADELAKE_HOLD_COMMIT");
        String dir = System.getenv("TRADELAKE_HOLD_DIR");
        String name = path.getName();
        if (tables != null && dir != null && name.matches("\\\\d{20}\\\\.json") && !name.equals("00000000000000000000.json")) {
            String table = path.getParent().getParent().toUri().getPath();
            for (String t : tables.split(",")) {
                if (!t.isEmpty() && table.endsWith(t)
                        && new File(dir, t.replaceAll("[^A-Za-z0-9]", "_") + ".held").createNewFile()) {
                    System.err.println("TRADELAKE_HOLD_COMMIT: holding commit " + path);
                    System.err.flush();
                    try { Thread.sleep(600_000L); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
                }
            }
        }
        super.write(path, actions, overwrite, hadoopConf);
    }
}
"""


def hold_commit_jar(tmp_path_factory) -> Path:
    """The LogStore above, compiled against the installed pyspark's Hadoop and the cached delta-storage jar."""
    import pyspark

    out = osup.shared(tmp_path_factory, "hold-commit")
    jar = out / "hold-commit.jar"
    if jar.exists():
        return jar
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    assert javac and jar_tool, "this test compiles a small Java class: it needs a JDK (javac, jar), as scripts/setup.sh asks"
    src = out / "src" / "HoldCommitLogStore.java"
    src.parent.mkdir(exist_ok=True)
    src.write_text(JAVA)
    classpath = os.pathsep.join([str(Path(pyspark.__file__).parent / "jars" / "*"), *submit.delta_jars(load_settings("test"))])
    subprocess.run([javac, "--release", "17", "-cp", classpath, "-d", str(out / "classes"), str(src)], check=True,
                   capture_output=True, timeout=300)
    subprocess.run([jar_tool, "cf", str(jar), "-C", str(out / "classes"), "."], check=True, capture_output=True, timeout=120)
    return jar


def _parquet_files(table_dir: Path) -> set[str]:
    return {p.name for p in table_dir.glob("*.parquet")}


def _committed_files(table_dir: Path) -> set[str]:
    import deltalake

    return {Path(u).name for u in deltalake.DeltaTable(str(table_dir)).file_uris()}


def _version(table_dir: Path) -> int:
    import deltalake

    return deltalake.DeltaTable(str(table_dir)).version()


def _rows(table_dir: Path) -> int:
    import deltalake

    return deltalake.DeltaTable(str(table_dir)).to_pyarrow_dataset().count_rows()


def _spark_submits(parent) -> list:
    """spark-submit JVMs below `parent` (processes come and go while we look: those are skipped)."""
    import psutil

    found = []
    for p in parent.children(recursive=True):
        try:
            if "org.apache.spark.deploy.SparkSubmit" in p.cmdline() and p.name().startswith("java"):
                found.append(p)
        except psutil.Error:
            pass
    return found


def _killer(airflow: subprocess.Popen, log: Path, lakehouse: Path, seen: dict) -> None:
    """Watch Airflow's log; at each hold line, note what is on disk and SIGKILL that spark-submit (its JVM and
    everything below it: the Python driver and its workers) - never Airflow itself. An error is kept in
    seen["error"] (and the Airflow run stopped) for the test to report."""
    import psutil

    try:
        for task, table in KILLED.items():
            marker = f"{HOLD_MARKER} file:{lakehouse}/{table}/_delta_log/"
            while marker not in osup.tail(log, 10**8):
                if airflow.poll() is not None:
                    return
                time.sleep(0.5)
            table_dir = lakehouse / table
            state = {"uncommitted": _parquet_files(table_dir) - _committed_files(table_dir),
                     "version": _version(table_dir), "rows": _rows(table_dir)}
            if task == "silver":
                state["fx_rates_rows"] = _rows(lakehouse / "silver" / "fx_rates")
            if task == "publish":
                state["gold"] = {n: (_version(lakehouse / "gold" / n), _rows(lakehouse / "gold" / n))
                                 for n in submit.GOLD_TABLES}
            submits = _spark_submits(psutil.Process(airflow.pid))
            assert len(submits) == 1, f"{task}: spark-submit JVMs running: {submits}"
            victims = [submits[0], *submits[0].children(recursive=True)]
            for p in victims:
                try:
                    p.send_signal(signal.SIGKILL)
                except psutil.NoSuchProcess:
                    pass
            _, alive = psutil.wait_procs(victims, timeout=30)
            state["survivors"] = [p.pid for p in alive]
            seen[task] = state
    except BaseException as e:  # noqa: BLE001 - reported by the test
        seen["error"] = repr(e)
        osup.stop_group(airflow)


@pytest.fixture(scope="module")
def daily_run(spark, orchestration_landing, tmp_path_factory):
    landing = orchestration_landing
    zip_path = osup.package_zip(tmp_path_factory)
    hold_jar = hold_commit_jar(tmp_path_factory)
    root = tmp_path_factory.mktemp("airflow-e2e")
    home, lakehouse = root / "airflow_home", root / "lakehouse"
    (root / "held").mkdir()
    test_conf = load_settings("test").airflow.spark_conf
    env = {
        **os.environ,
        **airflow_env(
            home,
            TRADELAKE__PATHS__LAKEHOUSE=str(lakehouse),
            TRADELAKE__PATHS__LANDING=str(landing),
            TRADELAKE__AIRFLOW__PY_FILES=str(zip_path),
            TRADELAKE__AIRFLOW__RETRIES="1",
            TRADELAKE__QUALITY__BUILD_DATA_DOCS="true",  # the maintenance test prunes their pages
            TRADELAKE__AIRFLOW__RETRY_DELAY_MINUTES="0.02",
            TRADELAKE__AIRFLOW__JARS=",".join([*submit.delta_jars(load_settings("test")), str(hold_jar)]),
            # interpreted, as the tests' own session (tests/conftest.py): the cluster test and the jobs test
            # spark-submit with code generation
            TRADELAKE__AIRFLOW__SPARK_CONF=json.dumps({**test_conf, **INTERPRETED, "spark.delta.logStore.file.impl": HOLD_LOGSTORE}),
            TRADELAKE_HOLD_COMMIT=",".join(KILLED.values()),
            TRADELAKE_HOLD_DIR=str(root / "held"),
            AIRFLOW_CONN_TRADELAKE_SPARK=json.dumps({"conn_type": "spark", "host": "local[2]"}),
            SPARK_LOCAL_IP="127.0.0.1",
            PYTHONUNBUFFERED="1",  # Airflow's log reaches the file (and the killer) as it is written
            PATH=f"{osup.VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        ),
    }
    airflow = str(osup.VENV_BIN / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    log = root / "dags-test.log"
    killed: dict = {}
    t0 = time.monotonic()
    proc = osup.start([airflow, "dags", "test", dags.DAILY_DAG_ID, osup.DAY.isoformat()], env, log)
    killer = threading.Thread(target=_killer, args=(proc, log, lakehouse, killed), daemon=True)
    killer.start()
    try:
        proc.wait(timeout=3600)
    finally:
        if proc.poll() is None:
            osup.stop_group(proc)
    killer.join(timeout=60)
    return SimpleNamespace(returncode=proc.returncode, log=log, home=home, seconds=time.monotonic() - t0,
                           settings=osup.lake_settings(root, landing), landing=landing, zip_path=zip_path,
                           killed=killed, lakehouse=lakehouse)


def _task_states(home: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(home / "airflow.db") as db:
        return {task: (state, tries) for task, state, tries in db.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ?", (dags.DAILY_DAG_ID,))}


def _errors(log: Path, limit: int = 40) -> str:
    """The error lines of Airflow's log (a task that failed for another reason than the kill says why here)."""
    lines = [ln for ln in osup.tail(log, 10**8).splitlines()
             if any(k in ln for k in (" ERROR ", "Error:", "Exception:", "Cannot execute"))]
    return "errors in the Airflow log:\n" + "\n".join(ln[:400] for ln in lines[:limit])


def _readable_history(spark, path: str) -> list[int]:
    """Every version of the table, listed and read back with time travel."""
    from delta.tables import DeltaTable

    versions = sorted(r["version"] for r in DeltaTable.forPath(spark, path).history().select("version").collect())
    for v in versions:
        spark.read.format("delta").option("versionAsOf", v).load(path).count()
    return versions


@pytest.mark.slow
def test_airflow_dags_test_runs_the_daily_pipeline_and_produces_gold(spark, daily_run, tmp_path_factory):
    from pyspark.sql import functions as F

    from tradelake import tables

    assert "error" not in daily_run.killed, daily_run.killed["error"]
    assert daily_run.returncode == 0, osup.tail(daily_run.log, 6000)
    print(f"airflow dags test: {daily_run.seconds:.0f}s")
    # every task succeeded; the two killed ones on Airflow's retry
    assert _task_states(daily_run.home) == {t: ("success", 2 if t in KILLED else 1) for t in PIPELINE}, \
        _errors(daily_run.log)
    s = daily_run.settings
    # every job ran once for the run's day (a killed attempt logs nothing)
    runs = tables.read(spark, s, tables.RUNS).collect()
    assert sorted((r["job"], r["first_date"], r["status"]) for r in runs) == sorted(
        [(j, osup.DAY, "SUCCEEDED") for j in ["ingest", "validate-bronze", "silver", "validate-silver", "features",
                                               "validate-gold", "publish"]])
    ingest = tables.read(spark, s, tables.ACCOUNTING).where("stage = 'ingest'")
    expected = osup.manifest(daily_run.landing)["per_day"]
    assert {(r["source"], r["records_read"]) for r in ingest.collect()} == {
        (src, days.get(osup.DAY.isoformat(), {"records": 0})["records"]) for src, days in expected.items()}
    # the gold tables: published for the day, exactly what was staged and validated
    for name, gold in tables.GOLD.items():
        published = tables.read(spark, s, gold)
        osup.assert_same_rows(published, tables.read(spark, s, tables.STAGED[name]), f"gold.{name}")
        if name != "buyer_default_labels":  # (labels are those of the day 180 days before)
            assert published.where(F.col("as_of_date") != F.lit(osup.DAY)).count() == 0
    assert tables.read(spark, s, tables.GOLD["supplier_scorecard"]).count() > 0
    assert tables.read(spark, s, tables.GOLD["buyer_credit_features"]).count() > 0
    assert tables.read(spark, s, tables.DQ_RESULTS).where("severity = 'fail' AND NOT success").count() == 0
    # and Airflow recorded an event for each gold Asset
    with sqlite3.connect(daily_run.home / "airflow.db") as db:
        events = [r[0] for r in db.execute("SELECT a.name FROM asset_event e JOIN asset a ON a.id = e.asset_id")]
    assert sorted(events) == sorted(f"tradelake.gold.{n}" for n in tables.GOLD)
    # local-mode gold of this day, for the cluster test to compare with
    osup.record_local_reference(tmp_path_factory, daily_run.settings)


@pytest.mark.slow
def test_silver_killed_inside_its_merge_then_retried_by_airflow(spark, daily_run):
    from pyspark.sql import functions as F

    from tradelake import tables

    assert daily_run.returncode == 0, "the daily run failed"
    k = daily_run.killed["silver"]
    # killed inside the MERGE: its data files on disk, uncommitted; the sources before it committed
    assert k["uncommitted"], "no data file of the MERGE was on disk when it was killed"
    assert (k["version"], k["rows"]) == (0, 0) and k["fx_rates_rows"] > 0
    assert k["survivors"] == []
    # after the retry: every source complete, exactly the generator's expectation for the day
    s, day = daily_run.settings, osup.DAY
    per_day = osup.manifest(daily_run.landing)["per_day"]
    for name in SOURCE_ORDER:
        expected = per_day[name].get(day.isoformat(), {"accepted": 0, "quarantined": {}})
        silver = tables.read(spark, s, tables.silver(name))
        assert silver.where(F.col("_known_date") == F.lit(day)).count() == expected["accepted"], name
        assert silver.count() == silver.select("_record_hash").distinct().count(), f"{name}: a row twice"
        assert silver.count() == silver.select("_record_id").distinct().count(), f"{name}: a record twice"
        quarantined = tables.read(spark, s, tables.QUARANTINE).where(F.col("source") == name)
        assert quarantined.count() == sum(expected["quarantined"].values()), name
    accounting = tables.read(spark, s, tables.ACCOUNTING).where("stage = 'silver'").collect()
    assert len(accounting) == len(SOURCE_ORDER) and all(r["balanced"] for r in accounting)
    # the killed attempt's files are not part of the table (VACUUM deletes them after the retention)
    target = daily_run.lakehouse / KILLED["silver"]
    assert k["uncommitted"] <= _parquet_files(target) and not (k["uncommitted"] & _committed_files(target))
    # every version of every table silver writes is readable
    for t in [tables.silver(n) for n in SOURCE_ORDER] + [tables.QUARANTINE, tables.DUPLICATES, tables.ACCOUNTING]:
        assert _readable_history(spark, t.path(s))[0] == 0, t.qualified


@pytest.mark.slow
def test_publish_killed_inside_the_gold_write_then_retried_by_airflow(spark, daily_run):
    from tradelake import tables

    assert daily_run.returncode == 0, "the daily run failed"
    k = daily_run.killed["publish"]
    s = daily_run.settings
    staged = {n: tables.read(spark, s, t) for n, t in tables.STAGED.items()}
    # killed inside the third table's write: the first two published, the third not (its files uncommitted)
    assert k["uncommitted"] and k["survivors"] == []
    assert k["gold"]["supplier_scorecard"] == (1, staged["supplier_scorecard"].count())
    assert k["gold"]["supplier_credit_features"] == (0, 0) and k["gold"]["buyer_credit_features"] == (0, 0)
    assert staged["supplier_credit_features"].count() > 0
    # after the retry: every gold table holds exactly what was validated, each row once, every version readable
    for name, gold in tables.GOLD.items():
        published = tables.read(spark, s, gold)
        osup.assert_same_rows(published, staged[name], f"gold.{name}")
        key = (["origin_country", "destination_country", "carrier", "mode", "week_start"] if name == "lane_performance"
               else ["buyer_id"] if "buyer" in name else ["supplier_id"]) + ["as_of_date"]
        assert published.groupBy(*key).count().where("count > 1").count() == 0, name
        assert _readable_history(spark, gold.path(s))[0] == 0, name
    target = daily_run.lakehouse / KILLED["publish"]
    assert not (k["uncommitted"] & _committed_files(target))


# -------------------------------------------------------------------------------------------------
# The weekly maintenance, on what the daily run built
# -------------------------------------------------------------------------------------------------
def _old_run(results_dir: Path, days_ago_of: dt.date, days: int) -> Path:
    """A copy of a validation result with a run time `days` before the date (GX's folder layout)."""
    run_dir = next(p for p in results_dir.rglob("*") if p.is_dir() and osup_run_time(p.name))
    when = dt.datetime.combine(days_ago_of - dt.timedelta(days=days), dt.time(12), dt.UTC)
    old = run_dir.parent.parent / "validate-old" / when.strftime("%Y%m%dT%H%M%S.000000Z")
    shutil.copytree(run_dir, old)
    return old


def osup_run_time(name: str) -> bool:
    from tradelake.orchestration.maintenance import RUN_TIME

    return bool(RUN_TIME.match(name))


@pytest.mark.slow
def test_maintenance_optimizes_vacuums_reports_and_prunes(spark, daily_run, tmp_path, monkeypatch):
    import deltalake
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from tradelake import tables
    from tradelake.config import ConfigError
    from tradelake.orchestration import maintenance

    assert daily_run.returncode == 0, "the daily run failed"
    s = daily_run.settings
    day = osup.DAY + dt.timedelta(days=7)
    some = [tables.bronze("transactions"), tables.silver("transactions"), tables.silver("suppliers"), tables.QUARANTINE,
            tables.GOLD["supplier_scorecard"], tables.FEATURE_LEDGER, tables.FEATURE_TOTALS,
            tables.STAGED["supplier_scorecard"]]
    contents = {t.qualified: tables.read(spark, s, t).count() for t in some}

    def staged_versions():
        return {n: DeltaTable.forPath(spark, t.path(s)).history(1).first()["version"] for n, t in tables.STAGED.items()}

    validated = staged_versions()
    # one day leaves every table in one file, and one file is only compacted: give the ledger three (the same
    # rows, rearranged) so that its Z-order runs
    ledger_path = tables.FEATURE_LEDGER.path(s)
    (spark.read.format("delta").load(ledger_path).repartition(3).write.format("delta").mode("overwrite")
     .option("dataChange", "false").save(ledger_path))
    assert DeltaTable.forPath(spark, ledger_path).detail().first()["numFiles"] == 3
    optimized = {r["table"]: r for r in maintenance.run("optimize", s, day, spark)}
    assert set(optimized) == {t.qualified for t in maintenance.maintained_tables(spark, s, False)}
    assert not any(q.startswith("staging.") for q in optimized) and len(optimized) > 20
    assert optimized["gold._feature_ledger"] == {"table": "gold._feature_ledger", "zorder_by": ["event_day"],
                                                 "files_removed": 3, "files_added": 1}
    assert maintenance.zorder_columns(s, tables.silver("transactions")) == ["_known_date"]
    assert optimized["silver.transactions"]["zorder_by"] == []  # one file: compacted only
    assert optimized["ops.runs"]["zorder_by"] == []
    assert optimized["gold._feature_totals"]["zorder_by"] == []  # partitioned by as_of_date: compacted only
    last = DeltaTable.forPath(spark, ledger_path).history(1).first()
    assert last["operation"] == "OPTIMIZE" and "event_day" in last["operationParameters"]["zOrderBy"]

    # VACUUM must have something to delete for "nothing lost" to mean anything: the killed attempts' files
    # (written, never committed), made 8 days old - beyond the 168 hours it keeps. The files OPTIMIZE has just
    # replaced are as unreferenced, but recent: they stay (time travel to the last 7 days still works).
    stale = [daily_run.lakehouse / table / f for task, table in KILLED.items() for f in daily_run.killed[task]["uncommitted"]]
    assert stale and all(p.exists() for p in stale)
    eight_days_ago = time.time() - 8 * 86400
    for p in stale:
        os.utime(p, (eight_days_ago, eight_days_ago))
    replaced = _parquet_files(Path(ledger_path)) - _committed_files(Path(ledger_path))
    assert len(replaced) >= 3  # the 3 compacted (and the files the rearranging overwrite replaced)
    vacuumed = maintenance.run("vacuum", s, day, spark)
    assert {r["retention_hours"] for r in vacuumed} == {168} and len(vacuumed) == len(optimized) + len(tables.STAGED)
    assert [p for p in stale if p.exists()] == []
    assert replaced <= _parquet_files(Path(ledger_path))
    # every file of every table's current version is still there; publish still finds staging at the version
    # that was validated; nothing was lost
    for t in maintenance.maintained_tables(spark, s, True):
        missing = [u for u in deltalake.DeltaTable(t.path(s)).file_uris() if not Path(u.removeprefix("file://")).exists()]
        assert missing == [], t.qualified
    assert staged_versions() == validated
    assert contents == {t.qualified: tables.read(spark, s, t).count() for t in some}
    # a retention other than Delta's default becomes the tables' property (VACUUM's RETAIN alone is ignored);
    # less than 168 hours is refused
    one = tables.silver("payments")
    monkeypatch.setattr(maintenance, "maintained_tables", lambda *args, **kwargs: [one])
    longer = s.replace(maintenance=dataclasses.replace(s.maintenance, vacuum_retention_hours=240))
    maintenance.vacuum(spark, longer)
    properties = DeltaTable.forPath(spark, one.path(s)).detail().first()["properties"]
    assert properties["delta.deletedFileRetentionDuration"] == "interval 240 hours"
    with pytest.raises(ConfigError, match="never keeps less than 168"):
        maintenance.vacuum(spark, s.replace(maintenance=dataclasses.replace(s.maintenance, vacuum_retention_hours=24)))
    monkeypatch.undo()

    maintenance.run("report", s, day, spark)
    maintenance.run("report", s, day, spark)  # again: its rows are replaced, not added
    sizes = spark.read.format("delta").load(f"{s.lakehouse_root}/ops/table_sizes")
    assert sizes.count() == len(vacuumed) + 2 and sizes.where(F.col("report_date") != F.lit(day)).count() == 0
    row = sizes.where("table_name = 'silver.transactions'").first()
    assert row["num_files"] >= 1 and row["size_bytes"] > 0
    assert sizes.where("table_name = 'ops.gx'").first()["num_files"] > 0

    # prune-gx, through spark-submit and jobs/maintenance.py as the DAG runs it: a result 40 days old goes
    # (with its Data Docs page), the day's stay
    validations = Path(s.gx_dir) / "gx" / "uncommitted" / "validations"
    pages = Path(s.data_docs_dir) / "validations"
    kept = sum(1 for p in validations.rglob("*.json"))
    old_result, old_page = _old_run(validations, day, 40), _old_run(pages, day, 40)
    sub = osup.job_submission(s, daily_run.zip_path, "maintenance", ["prune-gx", "--date", day.isoformat()])
    osup.run_submission(sub, "local[1]", tmp_path / "prune.log")
    assert not old_result.exists() and not old_page.exists() and not old_result.parent.exists()
    assert sum(1 for p in validations.rglob("*.json")) == kept > 0
    assert "results_removed=1" in osup.tail(tmp_path / "prune.log", 20000)
