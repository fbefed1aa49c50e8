"""Operational tables: run log, per-source accounting (with the balance check), ingested files."""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import tables
from tradelake.config import Settings
from tradelake.contracts import SOURCE_ORDER

log = logging.getLogger(__name__)


class AccountingError(RuntimeError):
    """records read != accepted + quarantined + duplicates: something was lost or counted twice."""


def new_run_id(job: str, run_date: dt.date) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{job}-{run_date.isoformat()}-{stamp}-{uuid.uuid4().hex[:8]}"


@contextmanager
def run_logged(spark: SparkSession, settings: Settings, job: str, first: dt.date, last: dt.date | None = None):
    """Yields a run id; appends the run's outcome to ops.runs whether it succeeds or fails."""
    last = last or first
    run_id = new_run_id(job, first)
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    status, message = "SUCCEEDED", ""
    try:
        yield run_id
    except BaseException as e:
        status, message = "FAILED", f"{type(e).__name__}: {e}"[:2000]
        raise
    finally:
        row = [(run_id, job, first, last, settings.env, status, started, dt.datetime.now(dt.UTC),
                round(time.monotonic() - t0, 3), message)]
        try:
            tables.ensure_table(spark, settings, tables.RUNS)
            spark.createDataFrame(row, tables.RUNS.schema).write.format("delta").mode("append").save(
                tables.RUNS.path(settings)
            )
        except Exception:  # the log must never hide the job's own error
            log.exception("could not record run %s in ops.runs", run_id)


def merge_if_changed(spark: SparkSession, settings: Settings, table: tables.TableDef, rows: DataFrame,
                     keys: list[str], compare: list[str]) -> None:
    """Upsert by key, touching a row only when one of `compare` differs: re-recording the same figures
    leaves the table as it was."""
    cond = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    changed = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in compare)
    retry_on_conflict(lambda: (
        tables.ensure_table(spark, settings, table).alias("t")
        .merge(tables.conform(rows, table).alias("s"), cond)
        .whenMatchedUpdateAll(condition=changed)
        .whenNotMatchedInsertAll()
        .execute()
    ), f"merge into {table.qualified}")


def insert_new(spark: SparkSession, settings: Settings, table: tables.TableDef, rows: DataFrame,
               keys: list[str]) -> None:
    """Insert rows whose key is not in the table yet (idempotent append)."""
    cond = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    retry_on_conflict(lambda: tables.ensure_table(spark, settings, table).alias("t").merge(
        tables.conform(rows, table).alias("s"), cond).whenNotMatchedInsertAll().execute(),
        f"insert into {table.qualified}")


# Delta's optimistic concurrency: a MERGE fails when another job committed to the same table after it
# read it (the ingest tasks of different sources, which Airflow runs in parallel, all record into the
# ops tables), and so does the creation of a table another job is creating. These writes are
# idempotent: they are simply tried again, on the table as it now is.
CONFLICT_RETRIES = 8


def retry_on_conflict(write, what: str):
    from delta.exceptions import (
        ConcurrentAppendException,
        ConcurrentDeleteReadException,
        ConcurrentTransactionException,
        ConcurrentWriteException,
        DeltaConcurrentModificationException,
        MetadataChangedException,
        ProtocolChangedException,
    )

    conflicts = (ConcurrentAppendException, ConcurrentDeleteReadException, ConcurrentTransactionException,
                 ConcurrentWriteException, DeltaConcurrentModificationException, MetadataChangedException,
                 ProtocolChangedException)
    for attempt in range(1, CONFLICT_RETRIES + 1):
        try:
            return write()
        except conflicts as e:
            if attempt == CONFLICT_RETRIES:
                raise
            wait = random.uniform(0.5, 1.5) * attempt
            log.warning("%s: concurrent commit (%s); trying again in %.1fs", what, type(e).__name__, wait)
            time.sleep(wait)


ACCOUNTING_FIGURES = ["files", "records_read", "accepted", "quarantined", "duplicates",
                      "orphans_retried", "orphans_resolved", "balanced"]


# -------------------------------------------------------------------------------------------------
# Ingest
# -------------------------------------------------------------------------------------------------
def record_ingest(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date, run_id: str,
                  sources: tuple[str, ...] | list[str] = SOURCE_ORDER) -> DataFrame:
    """Report the range's bronze files (schema drift included) and their counts, from bronze itself, so
    the report is right even after a crash between the bronze append and this step. Only `sources`:
    ingest runs of other sources may be running at the same time."""
    from tradelake.bronze import file_report

    in_range = F.col("_ingest_date").between(F.lit(first), F.lit(last))
    files = reduce(DataFrame.unionByName, [
        tables.read(spark, settings, tables.bronze(name)).where(in_range).transform(file_report).select(
            F.lit(name).alias("source"),
            F.col("_ingest_date").alias("ingest_date"),
            F.col("_source_file").alias("source_file"),
            F.col("_source_file_size").alias("file_size"),
            "records",
            "malformed",
            "extra_columns",
            F.lit(run_id).alias("run_id"),
        )
        for name in sources
    ]).localCheckpoint()
    insert_new(spark, settings, tables.INGESTED_FILES, files, ["source", "ingest_date", "source_file"])
    per_day = (
        _source_days(spark, first, last, sources)
        .join(files.groupBy("source", "ingest_date").agg(F.count("*").alias("files"), F.sum("records").alias("records_read")),
              ["source", "ingest_date"], "left")
        .select(
            F.lit("ingest").alias("stage"),
            "source",
            "ingest_date",
            F.coalesce("files", F.lit(0)).cast("long").alias("files"),
            F.coalesce("records_read", F.lit(0)).cast("long").alias("records_read"),
            *[F.lit(None).cast("long").alias(c) for c in ["accepted", "quarantined", "duplicates", "orphans_retried", "orphans_resolved"]],
            F.lit(None).cast("boolean").alias("balanced"),
            F.lit(run_id).alias("run_id"),
            F.current_timestamp().alias("recorded_at"),
        )
    )
    merge_if_changed(spark, settings, tables.ACCOUNTING, per_day, ["stage", "source", "ingest_date"], ACCOUNTING_FIGURES)
    return files


def _source_days(spark: SparkSession, first: dt.date, last: dt.date, sources=SOURCE_ORDER) -> DataFrame:
    days = [(name, first + dt.timedelta(days=i)) for name in sources for i in range((last - first).days + 1)]
    return spark.createDataFrame(days, "source string, ingest_date date")


# -------------------------------------------------------------------------------------------------
# Silver
# -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceAccount:
    source: str
    ingest_date: dt.date
    records_read: int
    accepted: int
    quarantined: int
    duplicates: int
    orphans_retried: int
    orphans_resolved: int

    @property
    def balanced(self) -> bool:
        return self.records_read == self.accepted + self.quarantined + self.duplicates


def count_silver(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> list[SourceAccount]:
    """Per source and day, read back what the tables now hold (not what the job meant to write), in
    one job."""
    in_range = lambda c: F.col(c).between(F.lit(first), F.lit(last))  # noqa: E731
    parts = []
    for name in SOURCE_ORDER:
        b = tables.read(spark, settings, tables.bronze(name)).where(in_range("_ingest_date"))
        parts.append(b.select(F.lit(name).alias("source"), F.col("_ingest_date").alias("day"), F.lit("records_read").alias("what")))
        s = tables.read(spark, settings, tables.silver(name)).where(
            in_range("_known_date") & (F.col("_source_ingest_date") == F.col("_known_date"))
        )
        parts.append(s.select(F.lit(name).alias("source"), F.col("_known_date").alias("day"), F.lit("accepted").alias("what")))
    q = tables.read(spark, settings, tables.QUARANTINE)
    parts.append(q.where(in_range("ingest_date")).select("source", F.col("ingest_date").alias("day"), F.lit("quarantined").alias("what")))
    parts.append(q.where(in_range("resolved_date")).select("source", F.col("resolved_date").alias("day"), F.lit("orphans_resolved").alias("what")))
    # Orphans re-tried on each day: waiting (arrived within the retry window before it, not resolved
    # before it). The same selection as silver.pipeline.load_batch makes for the first day.
    days = spark.createDataFrame([(first + dt.timedelta(days=i),) for i in range((last - first).days + 1)], "day date")
    window = settings.silver.orphan_retry_days
    waiting = q.where(F.col("reason_code") == "ORPHAN").join(
        days,
        (F.col("ingest_date") < F.col("day"))
        & (F.col("ingest_date") >= F.date_sub(F.col("day"), window))
        & (F.col("resolved_date").isNull() | (F.col("resolved_date") >= F.col("day"))),
    )
    parts.append(waiting.select("source", "day", F.lit("orphans_retried").alias("what")))
    dup = tables.read(spark, settings, tables.DUPLICATES)
    parts.append(dup.where(in_range("ingest_date")).select("source", F.col("ingest_date").alias("day"), F.lit("duplicates").alias("what")))
    counts = {
        (r["source"], r["day"], r["what"]): r["n"]
        for r in reduce(DataFrame.unionByName, parts).groupBy("source", "day", "what").agg(F.count("*").alias("n")).collect()
    }
    return [
        SourceAccount(
            name, day,
            *[counts.get((name, day, w), 0) for w in
              ("records_read", "accepted", "quarantined", "duplicates", "orphans_retried", "orphans_resolved")],
        )
        for day in [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        for name in SOURCE_ORDER
    ]


def record_silver(spark: SparkSession, settings: Settings, run_id: str, accounts: list[SourceAccount]) -> None:
    now = dt.datetime.now(dt.UTC)
    rows = [
        ("silver", a.source, a.ingest_date, None, a.records_read, a.accepted, a.quarantined, a.duplicates,
         a.orphans_retried, a.orphans_resolved, a.balanced, run_id, now)
        for a in accounts
    ]
    merge_if_changed(spark, settings, tables.ACCOUNTING, spark.createDataFrame(rows, tables.ACCOUNTING.schema),
                     ["stage", "source", "ingest_date"], ACCOUNTING_FIGURES)
    bad = [a for a in accounts if not a.balanced]
    if bad:
        raise AccountingError(
            "silver does not balance: "
            + "; ".join(
                f"{a.source} {a.ingest_date}: read {a.records_read} != accepted {a.accepted} + quarantined "
                f"{a.quarantined} + duplicates {a.duplicates}"
                for a in bad
            )
        )


def processed_dates(spark: SparkSession, settings: Settings, stage: str) -> set[dt.date]:
    path = tables.ACCOUNTING.path(settings)
    if not DeltaTable.isDeltaTable(spark, path):
        return set()
    rows = spark.read.format("delta").load(path).where(F.col("stage") == stage).select("ingest_date").distinct().collect()
    return {r[0] for r in rows}  # one row per processed day: small
