"""Shared by the orchestration tests (Airflow DAGs, the standalone cluster, kill and retry): one tiny generated
landing zone and one package zip per test session, lakehouses of their own, spark-submit commands built the
way the DAG builds them (tradelake.orchestration.submit), and comparisons of tables."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import settings_for

from tradelake.config import Settings
from tradelake.orchestration import submit

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# Two days, a few hundred transactions: every source has records on the first day.
TINY = ["generator.days=2", "generator.transactions=400", "generator.suppliers=12", "generator.buyers=40"]
DAY = dt.date(2026, 1, 1)  # generator.start_date
# What every spark-submit of the tests has (the `test` configuration's airflow.spark_conf; the cluster test's
# `cluster` configuration gets it added): no UI, short-lived JVMs with the JIT's first tier only.
SUBMIT_CONF = {"spark.ui.enabled": "false",
               "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m -XX:+UseSerialGC"}


def shared(tmp_path_factory, name: str) -> Path:
    """A folder shared by every test of the session (tmp_path_factory's base), created once."""
    path = tmp_path_factory.getbasetemp() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def tiny_landing(spark, tmp_path_factory) -> Path:
    """The generated landing zone (generated once per session; generate() reuses it when it exists)."""
    from tradelake.generate import generate

    root = shared(tmp_path_factory, "orchestration-landing")
    s = settings_for(root, *TINY)
    if not (Path(s.landing_root) / "_manifest.json").exists():
        generate(spark, s)
    return Path(s.landing_root)


def manifest(landing: Path) -> dict:
    return json.loads((landing / "_manifest.json").read_text())


def package_zip(tmp_path_factory) -> Path:
    """dist/tradelake.zip as `make dist` builds it, once per session."""
    from tradelake.orchestration.dist import ZIP_NAME, build_zip

    out = shared(tmp_path_factory, "orchestration-dist")
    return out / ZIP_NAME if (out / ZIP_NAME).exists() else build_zip(out)


def lake_settings(root: Path, landing: Path, *overrides: str) -> Settings:
    """Test settings: a lakehouse under root, reading the shared landing zone."""
    return settings_for(root, f"paths.landing={landing}", *overrides)


def record_local_reference(tmp_path_factory, settings: Settings) -> None:
    """Say where a local-mode run of DAY on the tiny landing zone left its gold (the Airflow test's run)."""
    (shared(tmp_path_factory, "orchestration-reference") / "lakehouse").write_text(settings.lakehouse_root)


def local_reference(spark, tmp_path_factory, landing: Path) -> Settings:
    """A lakehouse with the gold of a local-mode run of DAY on the tiny landing zone: the Airflow test's, when it
    ran in this session; otherwise one run in this process."""
    from tradelake import runner

    recorded = shared(tmp_path_factory, "orchestration-reference") / "lakehouse"
    if recorded.exists():
        return settings_for(Path("/unused"), f"paths.lakehouse={recorded.read_text()}", f"paths.landing={landing}")
    s = lake_settings(shared(tmp_path_factory, "orchestration-local-run"), landing)
    runner.run_all(spark, s, DAY, DAY)
    record_local_reference(tmp_path_factory, s)
    return s


def job_submission(settings: Settings, zip_path: Path, job: str, args: list[str], *sets: str) -> submit.Submission:
    """The submission the DAG makes of a job (tradelake.orchestration.submit), shipping zip_path, with the
    test settings' lakehouse and landing zone (and `sets`) as --set flags (the DAG's jobs read them from conf/)."""
    s = settings.replace(airflow=dataclasses.replace(settings.airflow, py_files=str(zip_path)))
    sub = submit.submission(s, job, args)
    flags = [x for item in [f"paths.lakehouse={settings.lakehouse_root}", f"paths.landing={settings.landing_root}", *sets]
             for x in ("--set", item)]
    return dataclasses.replace(sub, application_args=[*sub.application_args, *flags])


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    """A process in a session (process group) of its own, output to log."""
    fh = open(log, "ab")
    return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, wait: float = 30) -> None:
    """Signal the process's whole group (spark-submit's JVM, the Python driver, Python workers) and wait."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=wait)


def group_alive(pgid: int) -> list[int]:
    import psutil

    alive = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.info["pid"]) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p.info["pid"])
        except (ProcessLookupError, psutil.Error):
            pass
    return alive


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended ({proc.returncode}) first\n{tail(log)}")
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s\n{tail(log)}")


def tail(log: Path | None, n: int = 4000) -> str:
    return log.read_text(errors="replace")[-n:] if log and log.exists() else ""


def start_submission(sub: submit.Submission, master: str, log: Path, extra_env: dict | None = None,
                     extra_conf: dict | None = None, extra_jars: list[str] | None = None) -> subprocess.Popen:
    """spark-submit of `sub` (the command the DAG's task runs) in a process group of its own."""
    env = sub.env({**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", **(extra_env or {})})
    cmd = sub.command(master, spark_submit=str(VENV_BIN / "spark-submit"), extra_conf={**SUBMIT_CONF, **(extra_conf or {})},
                      extra_jars=extra_jars)
    return start(cmd, env, log)


def run_submission(sub: submit.Submission, master: str, log: Path, timeout: float = 1200, **kwargs) -> float:
    """Run `sub` to its end (it must succeed); returns its wall seconds."""
    t0 = time.monotonic()
    proc = start_submission(sub, master, log, **kwargs)
    try:
        rc = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            stop_group(proc)
    assert rc == 0, f"spark-submit {sub.job} {' '.join(sub.application_args)} failed ({rc}):\n{tail(log)}"
    return time.monotonic() - t0


# -------------------------------------------------------------------------------------------------
# Comparing tables
# -------------------------------------------------------------------------------------------------
def assert_same_rows(left, right, what: str, rel_tol: float = 1e-9) -> None:
    """left and right hold the same rows: every column equal, doubles within rel_tol (a sum of doubles may
    differ in its last bits when Spark adds them up in another order, e.g. over other partitions)."""
    from functools import reduce

    from pyspark.sql import functions as F

    assert left.columns == right.columns, what
    doubles = [f.name for f in left.schema.fields if f.dataType.typeName() in ("double", "float")]
    keys = [c for c in left.columns if c not in doubles]
    n_left, n_right = left.count(), right.count()
    assert n_left == n_right, f"{what}: {n_left} rows != {n_right}"
    by_key = lambda df: df.groupBy(*keys).count()
    assert by_key(left).exceptAll(by_key(right)).count() == 0 and by_key(right).exceptAll(by_key(left)).count() == 0, \
        f"{what}: the rows (all but their doubles) differ"
    if not doubles:
        return
    joined = left.withColumn("__l", F.lit(1)).alias("l").join(
        right.withColumn("__r", F.lit(1)).alias("r"), [F.col(f"l.{k}").eqNullSafe(F.col(f"r.{k}")) for k in keys], "full_outer")
    close = [F.col(f"l.{d}").eqNullSafe(F.col(f"r.{d}"))
             | (F.abs(F.col(f"l.{d}") - F.col(f"r.{d}")) <= F.greatest(F.lit(1.0), F.abs(F.col(f"l.{d}"))) * rel_tol)
             for d in doubles]
    bad = joined.where(F.col("__l").isNull() | F.col("__r").isNull() | ~reduce(lambda a, b: a & b, close))
    rows = bad.limit(3).collect()
    assert not rows, f"{what}: values differ, e.g. {rows}"
