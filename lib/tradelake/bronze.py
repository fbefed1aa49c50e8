"""Landing zone -> bronze: each source-day stored as read.

Every field is kept as a string, an unparseable line is kept with its raw text in `_corrupt_record`,
and columns not in the contract are kept in `_extra_fields` (schema drift is reported, never fatal).

Idempotence is per file: a file already in bronze for its ingest_date is not read again, so re-running
a day adds nothing. A landing file whose size or modification time changed after it was ingested is an error
(landing files are immutable by contract). Bronze appends are atomic Delta commits, so a crash leaves either all of a
run's new files in bronze or none of them.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections import defaultdict
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake import fs, tables
from tradelake.config import Settings
from tradelake.contracts import Source

log = logging.getLogger(__name__)
CORRUPT = "_corrupt_record"
CORRUPT_REASON = "_corrupt_reason"
_SEP = "\u001f"


class LandingFileChanged(RuntimeError):
    pass


@dataclass(frozen=True)
class IngestResult:
    source: str
    first: dt.date
    last: dt.date
    files_found: int
    files_new: int
    records_new: int


def landing_dir(settings: Settings, source: str, ingest_date: dt.date) -> str:
    return f"{settings.landing_root.rstrip('/')}/{source}/ingest_date={ingest_date.isoformat()}"


# -------------------------------------------------------------------------------------------------
# Reading (edges)
# -------------------------------------------------------------------------------------------------
def read_landing_files(spark: SparkSession, src: Source, paths: list[str]) -> DataFrame:
    """Landing files of one source as bronze-shaped rows (contract fields as strings + raw columns)."""
    if src.format == "csv":
        by_header: dict[str, list[str]] = defaultdict(list)
        for p in paths:
            by_header[fs.read_first_line(spark, p)].append(p)
        frames = []
        for header_line, ps in sorted(by_header.items()):
            header = [h.strip() for h in next(csv.reader(io.StringIO(header_line)), [])]
            problem = header_problem(src, header)
            if problem is None:
                frames.append(_read_csv(spark, src, header, ps))
            else:
                log.warning("%s: %s in %s: every line of those files is MALFORMED", src.name, problem, ps)
                frames.append(_unreadable_files(spark, src, ps, problem))
    elif src.format == "jsonl":
        frames = [_read_jsonl(spark, src, paths)]
    else:
        raise ValueError(f"{src.name}: unknown format {src.format}")
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


def header_problem(src: Source, header: list[str]) -> str | None:
    """Why a CSV file's first line cannot be its header, or None. A header names at least one field of the
    contract (else the file has no header row: its first line is a record), and no column twice."""
    if not set(header) & set(src.field_names):
        return "no header row: the first line names no field of the contract"
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        return f"duplicate column names in the header: {', '.join(twice)}"
    return None


def _meta_columns() -> list[Column]:
    return [F.col("_metadata.file_path").alias("_source_file"), F.col("_metadata.file_size").alias("_source_file_size"),
            F.col("_metadata.file_modification_time").alias("_source_file_modified")]


def _unreadable_files(spark: SparkSession, src: Source, paths: list[str], problem: str) -> DataFrame:
    """Files whose header cannot be read: every non-blank line, the first included, a record that could not be
    parsed, with the file's problem as its reason."""
    lines = spark.read.text(paths).select("value", *_meta_columns()).where(F.trim("value") != "")
    return lines.select(
        *[F.lit(None).cast("string").alias(f.name) for f in src.fields],
        F.lit(None).cast(T.MapType(T.StringType(), T.StringType())).alias("_extra_fields"),
        F.regexp_replace("value", "^\uFEFF", "").alias(CORRUPT),
        F.lit(problem).alias(CORRUPT_REASON),
        "_source_file", "_source_file_size", "_source_file_modified",
    )


def _read_csv(spark: SparkSession, src: Source, header: list[str], paths: list[str]) -> DataFrame:
    # The schema is this file's own header, so Spark's header check agrees with it.
    schema = T.StructType([T.StructField(h, T.StringType()) for h in header] + [T.StructField(CORRUPT, T.StringType())])

    def column(name: str) -> Column:
        return F.col("`" + name.replace("`", "``") + "`")

    def parsed(files: list[str], rfc4180: bool) -> DataFrame:
        # RFC 4180: a quote inside a quoted field is doubled, and a quoted field may hold line breaks (which
        # arrive as \n); CRLF or LF line ends; a byte-order mark before the header is skipped with it.
        return (spark.read.schema(schema).option("header", True).option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", CORRUPT).option("escape", '"')
                .option("multiLine", rfc4180).csv(files).select("*", *_meta_columns()))

    df = parsed(paths, rfc4180=True)
    # A quote that never closes makes the rest of its file one unparseable record under RFC 4180: such a
    # file (an unparseable record spanning lines) is read line by line instead, so that it costs one line.
    # (The condition reads a field beside the corrupt record, in a way the optimizer keeps: Spark refuses a query
    # of raw CSV that reads that column alone.)
    spans_lines = F.col(CORRUPT).rlike("[\r\n]") & (F.coalesce(F.length(column(header[0])), F.lit(0)) > -1)
    broken = [r[0] for r in df.where(spans_lines).select("_source_file").distinct().collect()]
    if broken:
        log.warning("%s: unbalanced quotes in %s: read line by line", src.name, broken)
        df = df.where(~F.col("_source_file").isin(broken)).unionByName(parsed(broken, rfc4180=False))

    fields = [
        (column(f.name) if f.name in header else F.lit(None).cast("string")).alias(f.name) for f in src.fields
    ]
    extra = [h for h in header if h not in set(src.field_names)]
    extras = (
        F.create_map(*[x for h in extra for x in (F.lit(h), column(h))])
        if extra
        else F.lit(None).cast(T.MapType(T.StringType(), T.StringType()))
    )
    return df.select(*fields, extras.alias("_extra_fields"), F.col(CORRUPT), F.lit(None).cast("string").alias(CORRUPT_REASON),
                     "_source_file", "_source_file_size", "_source_file_modified")


def _read_jsonl(spark: SparkSession, src: Source, paths: list[str]) -> DataFrame:
    # Parsed as VARIANT: numbers keep their exact decimal value (from_json into a string goes through a
    # double and turns 12345678.90 into 1.23456789E7), and unknown keys are kept.
    lines = spark.read.text(paths).select("value", *_meta_columns())
    # Blank lines separate nothing in JSON Lines and carry no record; a byte-order mark is not part of the first
    # (line ends: LF, CRLF or CR, as Spark's text reader splits them).
    lines = lines.withColumn("value", F.regexp_replace("value", "^\uFEFF", "")).where(F.trim("value") != "")
    obj = F.expr("try_variant_get(try_parse_json(value), '$', 'map<string,string>')")
    df = lines.select("value", "_source_file", "_source_file_size", "_source_file_modified", obj.alias("m"))
    known = F.array(*[F.lit(n) for n in src.field_names])
    extras = F.map_filter("m", lambda k, v: ~F.array_contains(known, k))
    # Invalid JSON, and valid JSON that is not an object (a bare array or string), cannot be a record.
    corrupt = F.when(F.col("m").isNull(), F.col("value"))
    return df.select(
        *[F.col("m")[f.name].alias(f.name) for f in src.fields],
        F.when(F.size(extras) > 0, extras).alias("_extra_fields"),
        corrupt.alias(CORRUPT),
        F.lit(None).cast("string").alias(CORRUPT_REASON),
        "_source_file",
        "_source_file_size",
        "_source_file_modified",
    )


# -------------------------------------------------------------------------------------------------
# Pure transforms
# -------------------------------------------------------------------------------------------------
def raw_content(src: Source) -> Column:
    """The record's whole content as read: its raw line if unparseable, else its fields and extras."""
    fields = F.to_json(F.struct(*[F.col(n) for n in src.field_names], F.col("_extra_fields")))
    return F.coalesce(F.col(CORRUPT), fields)


def with_record_id(src: Source):
    """Deterministic record ids: the same file always gives the same ids, whatever the partitioning
    and wherever the landing zone is mounted (only <source>/ingest_date=D/<file> is hashed).

    Identical lines in one file are told apart by their occurrence number (they are interchangeable,
    so which one gets which number does not matter)."""

    def transform(df: DataFrame) -> DataFrame:
        content = F.sha2(raw_content(src), 256)
        relative = F.regexp_extract("_source_file", r"([^/]+/ingest_date=[^/]+/[^/]+)$", 1)
        w = Window.partitionBy("_source_file", "_content").orderBy("_content")
        return (
            df.withColumn("_content", content)
            .withColumn("_occurrence", F.row_number().over(w))
            .withColumn(
                "_record_id",
                F.sha2(F.concat_ws(_SEP, relative, "_content", F.col("_occurrence").cast("string")), 256),
            )
            .drop("_content", "_occurrence")
        )

    return transform


INGEST_DATE_IN_PATH = r"/ingest_date=([0-9]{4}-[0-9]{2}-[0-9]{2})/"


def with_ingest_metadata(run_id: str):
    """Run id, time, and the ingest date of the landing folder the record was read from."""

    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            "*",
            F.lit(run_id).alias("_run_id"),
            F.current_timestamp().alias("_ingested_at"),
            F.to_date(F.regexp_extract("_source_file", INGEST_DATE_IN_PATH, 1)).alias("_ingest_date"),
        )

    return transform


def file_report(df: DataFrame) -> DataFrame:
    """Per landing file: records, malformed lines and extra (drifted) columns."""
    return df.groupBy("_ingest_date", "_source_file", "_source_file_size").agg(
        F.count(F.lit(1)).alias("records"),
        F.sum(F.col(CORRUPT).isNotNull().cast("long")).alias("malformed"),
        F.array_sort(F.array_distinct(F.flatten(F.collect_list(F.coalesce(F.map_keys("_extra_fields"), F.array().cast("array<string>")))))).alias("extra_columns"),
    )


# -------------------------------------------------------------------------------------------------
# The job step
# -------------------------------------------------------------------------------------------------
def ingest_source(
    spark: SparkSession, settings: Settings, src: Source, first: dt.date, last: dt.date, run_id: str
) -> IngestResult:
    """Append the landing files of a range of days not yet in bronze, in one Delta commit."""
    table = tables.bronze(src.name)
    tables.ensure_table(spark, settings, table)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    found = [f for d in days for f in fs.list_files(spark, landing_dir(settings, src.name, d))]
    bronze = tables.read(spark, settings, table)
    modified = (F.unix_millis("_source_file_modified") if "_source_file_modified" in bronze.columns
                else F.lit(None).cast("long"))  # (a bronze table written before the column was declared)
    already = {
        r["_source_file"]: (r["_source_file_size"], r["modified_ms"])
        for r in bronze
        .where(F.col("_ingest_date").between(F.lit(first), F.lit(last)))
        .select("_source_file", "_source_file_size", modified.alias("modified_ms"))
        .distinct()
        .collect()  # one row per landing file of the range: small by construction
    }
    changed = [f.path for f in found if f.path in already and not _unchanged(already[f.path], f)]
    if changed:
        raise LandingFileChanged(
            f"{src.name}: landing files changed after they were ingested: {changed}. "
            "Landing files are immutable; deliver corrections as new files."
        )
    new = [f.path for f in found if f.path not in already]
    records = 0
    if new:
        rows = (
            read_landing_files(spark, src, new)
            .transform(with_record_id(src))
            .transform(with_ingest_metadata(run_id))
            .transform(lambda d: tables.conform(d, table))
        )
        # About one file per 256 MiB of landing data, each holding a contiguous run of days (see tables.bronze).
        new_bytes = sum(f.size for f in found if f.path not in already)
        n_files = max(1, -(-new_bytes // (256 << 20)))
        # mergeSchema: a bronze table written before a column was declared gets it (rows keep their columns:
        # conform); older rows hold null there.
        rows.repartitionByRange(n_files, "_ingest_date").sortWithinPartitions("_ingest_date").write.format(
            "delta").mode("append").option("mergeSchema", "true").save(table.path(settings))
        records = _last_commit_rows(spark, table.path(settings))
    log.info("bronze %s %s..%s: %d files found, %d new, %d records", src.name, first, last, len(found), len(new), records)
    return IngestResult(src.name, first, last, len(found), len(new), records)


def _unchanged(recorded: tuple[int, int | None], found: fs.FileInfo) -> bool:
    """Size and modification time as ingested: a file rewritten with as many bytes is caught too. Rows
    ingested before bronze kept the time have none: their size alone."""
    size, modified_ms = recorded
    return size == found.size and modified_ms in (None, found.modified_ms)


def _last_commit_rows(spark: SparkSession, path: str) -> int:
    from delta.tables import DeltaTable

    metrics = DeltaTable.forPath(spark, path).history(1).select("operationMetrics").first()[0] or {}
    return int(metrics.get("numOutputRows", 0))
