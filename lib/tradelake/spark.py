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
    # The gold plans union wide frames whose filters the optimizer would combine into constraint sets
    # that grow exponentially (an OutOfMemoryError while planning); the inferred filters they give
    # are not needed here.
    "spark.sql.constraintPropagation.enabled": "false",
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
    if _under_spark_submit():
        # spark-submit's own --master, --driver-memory and --jars win: the JVM is already running.
        for key in ("spark.master", "spark.driver.memory", "spark.app.name"):
            conf.pop(key, None)
    elif "spark.jars" not in conf:
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
    _check_delta(spark)
    return spark


def _check_delta(spark: SparkSession) -> None:
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(
            "io.delta.sql.DeltaSparkSessionExtension", True, spark.sparkContext._jvm.Thread.currentThread().getContextClassLoader()
        )
    except Exception as e:  # py4j wraps the ClassNotFoundException
        raise RuntimeError(
            "Delta Lake classes are not on Spark's classpath. With spark-submit, pass the jars: "
            'spark-submit --jars "$(tradelake jars)" ... (see README).'
        ) from e


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and tells the Python driver through this variable.
    return "PYSPARK_GATEWAY_PORT" in os.environ
