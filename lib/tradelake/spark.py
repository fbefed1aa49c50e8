"""The one way to get a SparkSession: Delta configured, UTC, settings from conf/."""
from __future__ import annotations

import fcntl
import logging
import os

from pyspark.sql import SparkSession

from tradelake.config import ConfigError, Settings
from tradelake.jars import LOCAL_FS_CONF, jar_paths, local_fs_jar

log = logging.getLogger(__name__)

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
        **catalog_conf(settings),
        **s.conf,
        **(extra or {}),
    }
    if _under_spark_submit():
        # spark-submit's own --master, --driver-memory and --jars win: the JVM is already running.
        for key in ("spark.master", "spark.driver.memory", "spark.app.name"):
            conf.pop(key, None)
    elif "spark.jars" not in conf:
        conf["spark.jars"] = ",".join(jar_paths(settings.jars_cache))
    local_fs = local_fs_jar(settings.jars_cache)
    if not _under_spark_submit() and conf.get("spark.master", "").startswith("local") and local_fs.is_file():
        # tradelake.jars: no fork per file created. On the driver's own classpath (Hadoop looks the class up
        # before --jars are loaded); a file system the caller configured wins.
        conf["spark.driver.extraClassPath"] = os.pathsep.join(
            p for p in (conf.get("spark.driver.extraClassPath"), str(local_fs)) if p)
        conf = {**LOCAL_FS_CONF, **conf}
    return conf


CATALOG_IMPLEMENTATIONS = ("hive", "in-memory")
# spark.conf keys that point Spark at a metastore of its own choosing (then no Derby is configured).
METASTORE_KEYS = ("spark.hadoop.hive.metastore.uris", "spark.hadoop.javax.jdo.option.ConnectionURL")


def catalog_conf(settings: Settings) -> dict[str, str]:
    """Where table names live (catalog.*): a Hive metastore, by default an embedded Derby database in
    settings.metastore_dir (<lakehouse>/ops/metastore), or Spark's in-memory catalog."""
    c = settings.catalog
    if c.implementation not in CATALOG_IMPLEMENTATIONS:
        raise ConfigError(f"catalog.implementation must be one of {', '.join(CATALOG_IMPLEMENTATIONS)}, "
                          f"got {c.implementation!r}")
    if c.implementation == "in-memory":
        return {"spark.sql.catalogImplementation": "in-memory"}
    conf = {"spark.sql.catalogImplementation": "hive"}
    if any(k in settings.spark.conf for k in METASTORE_KEYS):
        return conf
    if not settings.catalog.metastore_dir and _remote(settings.lakehouse_root):
        # A lakehouse in an object store has no local folder for Derby: without a metastore service
        # (or catalog.metastore_dir), names last as long as the application.
        return {"spark.sql.catalogImplementation": "in-memory"}
    meta = derby_dir(settings)
    return {
        **conf,
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={meta}/metastore_db;create=true",
        # Schemas' own folders (tables keep their lakehouse locations; nothing is written here).
        "spark.sql.warehouse.dir": f"{meta}/warehouse",
    }


def _remote(path: str) -> bool:
    return "://" in path and not path.startswith("file:")


def derby_dir(settings: Settings) -> str:
    """The embedded Derby metastore's local folder (catalog.metastore_dir, default <lakehouse>/ops/metastore)."""
    meta = settings.metastore_dir
    if _remote(meta):
        raise ConfigError(f"catalog.metastore_dir must be a local folder for the embedded Derby metastore, got {meta!r}; "
                          "or set spark.conf spark.hadoop.hive.metastore.uris to use a metastore service")
    return meta.removeprefix("file://").removeprefix("file:")


def _derby(conf: dict[str, str]) -> bool:
    return conf.get("spark.hadoop.javax.jdo.option.ConnectionURL", "").startswith("jdbc:derby:")


_metastore_locks: dict = {}  # metastore folder -> its open lock file, while this process holds it


def claim_metastore(settings: Settings) -> bool:
    """Take <metastore_dir>/tradelake.lock for this process (until it exits) if no other process holds it:
    the embedded Derby metastore can be open in one application at a time, so tradelake sessions take
    turns instead of failing inside a job. True if this process holds it."""
    folder = derby_dir(settings)
    if folder in _metastore_locks:
        return True
    os.makedirs(folder, exist_ok=True)
    fh = open(f"{folder}/tradelake.lock", "a+")
    try:
        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return False
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    _metastore_locks[folder] = fh
    return True


def metastore_holder(settings: Settings) -> str | None:
    """The pid written by the process holding the metastore lock (None if unknown)."""
    try:
        with open(f"{derby_dir(settings)}/tradelake.lock") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def keep_metastore_lock_across_exec() -> None:
    """Let a program this process execs (the SQL shell) keep holding the metastore lock."""
    for fh in _metastore_locks.values():
        os.set_inheritable(fh.fileno(), True)


def build_session(settings: Settings, extra: dict[str, str] | None = None) -> SparkSession:
    """Create (or return the running) SparkSession configured for tradelake."""
    if settings.spark.master.startswith("local"):
        # Local mode binds to loopback: no dependence on the machine's hostname resolving.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder
    conf = session_conf(settings, extra)
    if _derby(conf) and not claim_metastore(settings):
        # Another application has the embedded metastore (Derby lets one open it): this one keeps its
        # names in memory rather than fail when it touches the catalog (parallel jobs, a SQL shell open).
        log.warning("the metastore %s is in use by another application (pid %s): this session's table names "
                    "are not persistent", derby_dir(settings), metastore_holder(settings) or "?")
        conf = {k: v for k, v in conf.items() if k not in ("spark.hadoop.javax.jdo.option.ConnectionURL",
                                                            "spark.sql.warehouse.dir")}
        conf["spark.sql.catalogImplementation"] = "in-memory"
    if _under_spark_submit() and _submitted_local_with(LOCAL_FS_CONF["spark.hadoop.fs.file.impl"]):
        conf = {**LOCAL_FS_CONF, **conf}  # spark-submit put the local file system's jar on the driver's classpath
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    log.info("local file system: %s", conf.get(
        "spark.hadoop.fs.file.impl", "Hadoop's (tradelake.jars: its own when built and in local mode)"))
    if _derby(conf):
        # Derby's log goes next to its database, not into the working directory (Derby boots lazily, on
        # the first use of the catalog, after this).
        os.makedirs(derby_dir(settings), exist_ok=True)
        jvm = spark.sparkContext._jvm
        jvm.java.lang.System.setProperty("derby.stream.error.file", f"{derby_dir(settings)}/derby.log")
        # Expected warnings: every name the metastore looks up and does not find (e.g. Delta's
        # `delta`.`<path>`), and that a Delta table is stored in Spark's format rather than Hive's.
        for quiet in ("org.apache.hadoop.hive.metastore.ObjectStore", "org.apache.spark.sql.hive.HiveExternalCatalog",
                      "org.apache.hadoop.hive.ql.session.SessionState"):
            jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(quiet, jvm.org.apache.logging.log4j.Level.ERROR)
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


def _submitted_local_with(class_name: str) -> bool:
    """Whether spark-submit's driver JVM (running, its SparkContext not yet created) is in local mode and has
    the class on its own classpath (submit.submission puts the local file system's jar there)."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    if not SparkConf().get("spark.master", "").startswith("local"):
        return False  # executors elsewhere would not have the class
    jvm = SparkContext._jvm
    try:
        jvm.java.lang.Class.forName(class_name, False, jvm.java.lang.ClassLoader.getSystemClassLoader())
    except Exception:  # noqa: BLE001 - py4j wraps the ClassNotFoundException
        return False
    # spark-submit already opened Hadoop's local file system (resolving --jars and --py-files), and Hadoop
    # caches one per scheme: closed, the next one is opened with the session's settings.
    jvm.org.apache.hadoop.fs.FileSystem.closeAll()
    return True


def _under_spark_submit() -> bool:
    # spark-submit starts the JVM first and tells the Python driver through this variable.
    return "PYSPARK_GATEWAY_PORT" in os.environ
