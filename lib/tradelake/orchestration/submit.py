"""A tradelake job as a spark-submit: the entry point (jobs/<job>.py), its arguments, the package shipped with
--py-files (`make dist`), the Delta jars, and the driver's environment. The Airflow DAGs build their
SparkSubmitOperators from this, and anything else that submits the jobs (tests, scripts) builds the same
command line with `Submission.command`.

Neither pyspark nor Airflow is imported here: the DAG files use this module while they are parsed.
"""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tradelake import config
from tradelake.config import Settings
from tradelake.jars import local_fs_jar

# The gold tables (tradelake.tables.GOLD), the DAG's Assets: repeated here because that module imports
# pyspark, which a DAG file must not (a test checks they agree).
GOLD_TABLES = ("supplier_scorecard", "lane_performance", "supplier_credit_features", "buyer_credit_features",
               "buyer_default_labels")
JOBS = ("ingest", "silver", "features", "validate", "publish", "run_all", "generate", "maintenance")


@dataclass(frozen=True)
class Submission:
    """One spark-submit of a tradelake job (the fields of a SparkSubmitOperator)."""
    job: str
    application: str
    application_args: list[str]
    py_files: str
    jars: str
    env_vars: dict[str, str]
    conf: dict[str, str] = field(default_factory=dict)
    driver_memory: str | None = None
    name: str = "tradelake"

    def command(self, master: str, spark_submit: str | None = None, deploy_mode: str | None = None,
                extra_conf: dict[str, str] | None = None, extra_jars: list[str] | None = None) -> list[str]:
        """The command line, as the SparkSubmitHook builds it for this submission (client mode: run it with
        `env`)."""
        cmd = [spark_submit or "spark-submit", "--master", master]
        for key, value in {**self.conf, **(extra_conf or {})}.items():
            cmd += ["--conf", f"{key}={value}"]
        cmd += ["--py-files", self.py_files, "--jars", ",".join([self.jars, *(extra_jars or [])])]
        if self.driver_memory:
            cmd += ["--driver-memory", self.driver_memory]
        cmd += ["--name", self.name]
        if deploy_mode:
            cmd += ["--deploy-mode", deploy_mode]
        return [*cmd, self.application, *self.application_args]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of spark-submit: the caller's (default: this process's) plus env_vars."""
        return {**(os.environ if base is None else base), **self.env_vars}


def resolve(settings: Settings, path: str) -> str:
    """A configured path: absolute, a URI, or relative to the project root (the folder holding conf/)."""
    return settings.resolve(path)


def delta_jars(settings: Settings) -> list[str]:
    """The Delta jars of the local cache, named as tradelake.jars names them (from the installed versions,
    without importing pyspark). Missing jars are reported when a task starts, not while a DAG is parsed."""
    spark_minor = ".".join(importlib.metadata.version("pyspark").split(".")[:2])
    delta = importlib.metadata.version("delta-spark")
    cache = Path(settings.jars_cache)
    return [str(cache / f"delta-spark_{spark_minor}_2.13-{delta}.jar"), str(cache / f"delta-storage-{delta}.jar")]


def local_fs_classpath(settings: Settings) -> dict[str, str]:
    jar = local_fs_jar(settings.jars_cache)
    return {"spark.driver.extraClassPath": str(jar)} if jar.is_file() else {}


def jars(settings: Settings) -> str:
    configured = settings.airflow.jars
    if configured:
        return ",".join(resolve(settings, j.strip()) for j in configured.split(",") if j.strip())
    return ",".join(delta_jars(settings))


def package(settings: Settings) -> str:
    """The package spark-submit ships with --py-files (built by `make dist`)."""
    return ",".join(resolve(settings, p.strip()) for p in settings.airflow.py_files.split(",") if p.strip())


def python(settings: Settings) -> str:
    """The Python of the Spark driver and executors: it needs the package's dependencies (pyproject.toml)."""
    return settings.airflow.python or sys.executable


def spark_submit_binary(settings: Settings) -> str:
    """spark-submit: configured, or the one installed beside this Python (pip's pyspark), or from PATH."""
    if settings.airflow.spark_binary:
        return settings.airflow.spark_binary
    beside = Path(sys.executable).parent / "spark-submit"
    return str(beside) if beside.exists() else (shutil.which("spark-submit") or "spark-submit")


def submission(settings: Settings, job: str, args: list[str], name: str | None = None) -> Submission:
    """Job `job` (jobs/<job>.py) with `args`, in the configuration environment of `settings`.

    The job reads its configuration where this process does: TRADELAKE_PROJECT_ROOT tells the package (a
    zip, wherever spark-submit puts it) where conf/ is and what relative paths are relative to. Variables
    TRADELAKE__* of this process reach the job too (spark-submit inherits the environment)."""
    if job not in JOBS:
        raise ValueError(f"unknown job {job!r}: one of {', '.join(JOBS)}")
    py = python(settings)
    env = {
        "PYSPARK_PYTHON": py,
        "PYSPARK_DRIVER_PYTHON": py,
        "TRADELAKE_PROJECT_ROOT": str(config.PROJECT_ROOT),
        "GX_ANALYTICS_ENABLED": "False",
        **settings.airflow.env_vars,
    }
    return Submission(
        job=job,
        application=f"{resolve(settings, settings.airflow.jobs_dir).rstrip('/')}/{job}.py",
        application_args=[*args, "--env", settings.env],
        py_files=package(settings),
        jars=jars(settings),
        env_vars=env,
        # Likewise the driver JVM's options: the zone every tradelake session has (tradelake.spark.FIXED_CONF),
        # and tradelake's local file system on its classpath when it was built (a local-mode job uses it).
        conf={"spark.driver.extraJavaOptions": "-Duser.timezone=UTC", **local_fs_classpath(settings),
              **settings.airflow.spark_conf},
        # Under spark-submit the driver's JVM starts before the job reads its configuration: the driver
        # memory has to be given to spark-submit.
        driver_memory=settings.spark.driver_memory,
        name=name or f"tradelake-{job}",
    )


def missing_local_files(sub: Submission) -> list[str]:
    """Shipped files (package, jars, application) that are local paths and do not exist."""
    paths = [*sub.py_files.split(","), *sub.jars.split(","), sub.application]
    return [p for p in paths if p and ("://" not in p or p.startswith("file:"))
            and not Path(p.removeprefix("file://").removeprefix("file:")).exists()]
