"""The catalog: every declared table under its name, so that analysts write `SELECT * FROM gold.supplier_scorecard`.

Each table of tradelake.tables is registered as `<layer>.<table>` (schemas bronze, silver, quarantine,
ops, gold, staging), an external Delta table at its lakehouse location: the catalog holds names and
locations only, the data, schema and comments stay in the Delta log. Table and column comments are the
declarations' (tables.py, and the feature modules for gold): they were written when the table was
created, and `register` puts them back if they differ.

Where names live is configured in catalog.* (tradelake.spark.catalog_conf): a Hive metastore (by
default an embedded Derby database in <lakehouse>/ops/metastore, so the names persist across Spark
applications) or Spark's in-memory catalog (the test suite).

`register` is idempotent: a table already registered at its location with its declared comments is
left as it is (no Delta commit, no catalog write); a table registered elsewhere (another lakehouse)
is re-pointed; a name whose table is gone is dropped (the data is never touched: the tables are
external). It runs after every `tradelake run` (catalog.register) and as `tradelake catalog`, which can
rebuild a lost metastore from the declarations alone.

`spark_sql_command` is the Spark SQL shell on the same catalog (`make sql`).
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from tradelake import tables as declared
from tradelake.config import Settings
from tradelake.spark import keep_metastore_lock_across_exec

log = logging.getLogger(__name__)

SCHEMAS = {
    "bronze": "Raw records as landed: every field a string, plus lineage and schema drift (tradelake.bronze)",
    "silver": "Typed, validated records: PII hashed, amounts in USD, versions kept (tradelake.silver)",
    "quarantine": "Records rejected by silver, with their reason",
    "ops": "Run log, accounting, duplicates, ingested files, data-quality results and feature drift",
    "gold": "Daily point-in-time feature snapshots: supply-chain performance and credit risk (features.md)",
    "staging": "The features job's latest snapshots, waiting for validation before they are published to gold",
}

# What register did to a table.
REGISTERED, MOVED, COMMENTED, UNCHANGED, DROPPED, ABSENT = (
    "registered", "re-pointed", "comments updated", "unchanged", "dropped", "not created yet")


@dataclass(frozen=True)
class Entry:
    name: str
    location: str
    action: str


def sql_string(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _norm(location: str) -> str:
    loc = re.sub(r"^file:(//)?", "", location.strip())
    return loc.rstrip("/")


def registered_locations(spark: SparkSession, schema: str) -> dict[str, str]:
    """name -> location of the tables registered in an existing schema (read from the catalog only: no
    table is opened)."""
    out = {}
    for r in spark.sql(f"SHOW TABLE EXTENDED IN {schema} LIKE '*'").collect():
        if r["isTemporary"]:
            continue
        m = re.search(r"^Location: (.*)$", r["information"], re.MULTILINE)
        out[f"{schema}.{r['tableName']}"] = m.group(1) if m else ""
    return out


def comment_changes(spark: SparkSession, table: declared.TableDef, path: str) -> list[str]:
    """The statements that would give the registered table its declared comments (none when it has them).
    Reads the Delta table's metadata only (DESCRIBE and the schema; DESCRIBE DETAIL would list its files)."""
    described = spark.sql(f"DESCRIBE TABLE EXTENDED {table.qualified}").collect()
    detailed = [i for i, r in enumerate(described) if r["col_name"].strip() == "# Detailed Table Information"]
    description = next((r["data_type"] for r in described[detailed[0]:] if r["col_name"] == "Comment"), "") if detailed else ""
    actual = {f.name: f.metadata.get("comment") for f in spark.read.format("delta").load(path).schema.fields}
    out = []
    if (description or "") != table.description:
        out.append(f"COMMENT ON TABLE {table.qualified} IS {sql_string(table.description)}")
    for f in table.schema.fields:
        want = f.metadata.get("comment")
        if want and f.name in actual and actual[f.name] != want:
            out.append(f"ALTER TABLE {table.qualified} ALTER COLUMN `{f.name}` COMMENT {sql_string(want)}")
    return out


def register(spark: SparkSession, settings: Settings, tables: list[declared.TableDef] | None = None) -> list[Entry]:
    """Register every declared table that exists in the lakehouse under <layer>.<table>, with its declared
    comments; drop names whose table is gone. Idempotent. Returns what was done to each table."""
    tables = tables if tables is not None else declared.all_tables()
    schemas = {d.name for d in spark.catalog.listDatabases()}
    where: dict[str, str] = {}
    for schema in sorted({t.layer for t in tables} & schemas):
        where.update(registered_locations(spark, schema))
    entries = []
    for t in tables:
        path = t.path(settings)
        current = where.get(t.qualified)
        if not DeltaTable.isDeltaTable(spark, path):
            if current is not None:
                spark.sql(f"DROP TABLE IF EXISTS {t.qualified}")  # external: the name goes, no data is touched
                entries.append(Entry(t.qualified, current, DROPPED))
            else:
                entries.append(Entry(t.qualified, path, ABSENT))
            continue
        action = UNCHANGED
        if current is not None and _norm(current) != _norm(path):
            spark.sql(f"DROP TABLE IF EXISTS {t.qualified}")
            current, action = None, MOVED
        if current is None:
            if t.layer not in schemas:
                spark.sql(f"CREATE SCHEMA IF NOT EXISTS {t.layer} COMMENT {sql_string(SCHEMAS[t.layer])}")
                schemas.add(t.layer)
            spark.sql(f"CREATE TABLE IF NOT EXISTS {t.qualified} USING delta LOCATION {sql_string(path)}")
            action = REGISTERED if action == UNCHANGED else action
        changes = comment_changes(spark, t, path)
        for statement in changes:
            spark.sql(statement)
        if changes and action == UNCHANGED:
            action = COMMENTED
        entries.append(Entry(t.qualified, path, action))
    changed = [e for e in entries if e.action not in (UNCHANGED, ABSENT)]
    log.info("catalog: %d tables registered, %d changed (%s)", sum(e.action not in (ABSENT, DROPPED) for e in entries),
             len(changed), ", ".join(f"{e.name} {e.action}" for e in changed[:8]) + (" ..." if len(changed) > 8 else ""))
    return entries


def register_after_run(spark: SparkSession, settings: Settings) -> None:
    """The pipeline's step (after every `tradelake run`, when catalog.register): register what exists.
    A failure is logged, never raised over the job's own outcome: the data is right either way, and
    `tradelake catalog` repairs the names."""
    if not settings.catalog.register:
        return
    if not names_persist(spark, settings) and settings.catalog.implementation == "hive":
        log.info("catalog: the metastore is in use by another application; the names are registered by the "
                 "next run or `tradelake catalog`")
        return
    try:
        register(spark, settings)
    except Exception:
        log.exception("could not register the tables in the catalog; run `tradelake catalog` to retry")


def names_persist(spark: SparkSession, settings: Settings) -> bool:
    """Whether this session's catalog outlives it: a Hive metastore (not the in-memory catalog, which a
    session also gets when another application has the embedded metastore open)."""
    return spark.conf.get("spark.sql.catalogImplementation") == "hive"


def describe(entries: list[Entry]) -> str:
    width = max((len(e.name) for e in entries), default=0)
    return "\n".join(f"{e.name.ljust(width)}  {e.action:<16}  {e.location}" for e in entries)


# -------------------------------------------------------------------------------------------------
# The Spark SQL shell
# -------------------------------------------------------------------------------------------------
SHELL_INIT = Path(__file__).with_name("shell_init.sql")


def spark_sql_command(settings: Settings, args: list[str] | tuple[str, ...] = ()) -> list[str]:
    """`spark-sql` on the lakehouse's catalog, with every setting a tradelake session has (Delta, UTC, the
    metastore), starting in the gold schema. args are passed on (e.g. ["-e", "SELECT ..."])."""
    from pyspark.find_spark_home import _find_spark_home

    from tradelake.spark import derby_dir, session_conf

    conf = session_conf(settings)
    if conf.get("spark.sql.catalogImplementation") != "hive":
        raise RuntimeError("the Spark SQL shell needs a Hive metastore: catalog.implementation is "
                           f"{settings.catalog.implementation!r} (or the lakehouse has no local metastore folder)")
    if conf.get("spark.hadoop.javax.jdo.option.ConnectionURL", "").startswith("jdbc:derby:"):
        log_file = f"-Dderby.stream.error.file={derby_dir(settings)}/derby.log"
        conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {log_file}".strip()
    conf.setdefault("spark.log.level", settings.spark.log_level)
    cmd = [os.path.join(_find_spark_home(), "bin", "spark-sql")]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    # spark-sql turns on the java.time API for dates after reading its --conf, and Delta's min/max of a DATE
    # from file statistics fails under it: the init file turns it off again (see the file).
    return [*cmd, "--database", "gold", "-i", str(SHELL_INIT), *args]


def stop_jvm(spark: SparkSession) -> None:
    """Stop the session and the JVM this Python process started, so that another application (the SQL
    shell) can open the embedded metastore, which allows one at a time."""
    gateway = spark.sparkContext._gateway
    proc = getattr(gateway, "proc", None)
    spark.stop()
    if proc is not None:  # None under spark-submit, which owns its JVM
        gateway.shutdown()
        proc.stdin.close()  # the JVM exits when its standard input closes
        proc.wait(timeout=120)
    keep_metastore_lock_across_exec()
