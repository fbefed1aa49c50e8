"""The one way to get a SparkSession: Delta configured, UTC, settings from conf/."""
from __future__ import annotations

import os

from pyspark.sql import SparkSession

from tradelake.config import Settings
from tradelake.jars import jar_paths

# Settings every tradelake session has, whatever the environment.
FIXED_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    # JVM default zone too, so nothing falls back to the machine's local time.
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


def session_conf(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Every Spark setting a session gets, in order of precedence (later wins)."""
    s = settings.spark
    conf = {
        "spark.app.name": s.app_name,
        "spark.master": s.master,
        "spark.sql.shuffle.partitions": str(s.shuffle_partitions),
        "spark.driver.memory": s.driver_memory,
        "spark.ui.enabled": str(s.ui_enabled).lower(),
        **FIXED_CONF,
        **s.conf,
        **(extra or {}),
    }
    # Under spark-submit the jars are given with --jars (see README); otherwise from the local cache.
    if "spark.jars" not in conf and not _under_spark_submit():
        conf["spark.jars"] = ",".join(jar_paths(settings.jars_cache))
    return conf


def build_session(settings: Settings, extra: dict[str, str] | None = None) -> SparkSession:
    """Create (or return the running) SparkSession configured for tradelake."""
    if settings.spark.master.startswith("local"):
        # Local mode binds to loopback: no dependence on the machine's hostname resolving.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    for key, value in session_conf(settings, extra).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    return spark


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and tells the Python driver through this variable.
    return "PYSPARK_GATEWAY_PORT" in os.environ
