"""Every Delta table of the lakehouse: where it lives, its schema, partitioning and meaning.

Bronze and silver schemas are derived from the contracts (tradelake.contracts); the quarantine and ops
tables are declared here. Tables live at <lakehouse>/<layer>/<table>/ and are created on first use with
their description and column comments.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from tradelake.config import Settings
from tradelake.contracts import SOURCE_ORDER, SOURCES, Source

STR = T.StringType()
DATE = T.DateType()
TS = T.TimestampType()
LONG = T.LongType()
BOOL = T.BooleanType()
USD = T.DecimalType(38, 8)  # amount (18,2) x rate (18,6) is exact at 8 decimals
SPARK_TYPES = {
    "string": STR,
    "int": T.IntegerType(),
    "decimal2": T.DecimalType(18, 2),
    "decimal6": T.DecimalType(18, 6),
    "date": DATE,
    "timestamp": TS,
}


def col(name: str, dtype: T.DataType, comment: str, nullable: bool = True) -> T.StructField:
    return T.StructField(name, dtype, nullable, metadata={"comment": comment})


@dataclass(frozen=True)
class TableDef:
    layer: str
    name: str
    schema: T.StructType
    description: str
    partition_by: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def qualified(self) -> str:
        return f"{self.layer}.{self.name}"

    def path(self, settings: Settings) -> str:
        return settings.table_path(self.layer, self.name)


# -------------------------------------------------------------------------------------------------
# Bronze: each source as read, every field a string
# -------------------------------------------------------------------------------------------------
BRONZE_META = [
    col("_extra_fields", T.MapType(STR, STR), "columns or keys not in the contract (schema drift), kept as read"),
    col("_corrupt_record", STR, "the raw text of a line that could not be parsed; null when it parsed"),
    col("_corrupt_reason", STR, "why the line could not be parsed when its whole file could not (no header row, "
        "duplicate header names); null otherwise"),
    col("_record_id", STR, "deterministic id of this raw record: hash of file, content and occurrence"),
    col("_source_file", STR, "landing file the record was read from"),
    col("_source_file_size", LONG, "size in bytes of that file when ingested (a changed file is an error)"),
    col("_source_file_modified", TS, "modification time of that file when ingested (a changed file is an error)"),
    col("_run_id", STR, "ingest run that wrote the record"),
    col("_ingested_at", TS, "when the record was written to bronze (UTC)"),
    col("_ingest_date", DATE, "the landing folder's ingest_date: the day the record arrived"),
]


def bronze_schema(src: Source) -> T.StructType:
    return T.StructType([col(f.name, STR, f"as read ({f.type} in the contract)") for f in src.fields] + BRONZE_META)


def bronze(source_name: str) -> TableDef:
    src = SOURCES[source_name]
    return TableDef(
        "bronze",
        src.name,
        bronze_schema(src),
        f"Raw {src.name} as landed, one row per record read. {src.description}",
        # Not partitioned: a partition per day makes thousands of tiny files over years of small
        # days. Writes are ordered by _ingest_date (bronze.ingest_source), so Delta's min/max file
        # statistics prune a day's reads as well as partitions would.
        properties={"delta.dataSkippingStatsColumns": "_ingest_date,_record_id,_source_file"},
    )


# -------------------------------------------------------------------------------------------------
# Silver: typed, validated, PII hashed, amounts in USD
# -------------------------------------------------------------------------------------------------
SILVER_META = [
    col("_record_id", STR, "bronze record this row was accepted from"),
    col("_record_hash", STR, "SHA-256 of the record's contract fields as read: exact duplicates share it"),
    col("_source_ingest_date", DATE, "the day the record arrived (bronze _ingest_date)"),
    col("_known_date", DATE, "the day the record was accepted: it is known from this day on (point-in-time reads)"),
    col("_source_file", STR, "landing file of the record"),
    col("_run_id", STR, "silver run that accepted the record"),
]


def silver_schema(src: Source) -> T.StructType:
    fields = []
    for f in src.fields:
        if f.pii:
            fields.append(col(f.silver_name, STR, f"HMAC-SHA-256 of the normalised {f.name} (PII)"))
        else:
            fields.append(col(f.name, SPARK_TYPES[f.type], f"{f.name} ({f.type})"))
    if src.fx:
        fields.append(col(src.fx.rate_column, T.DecimalType(18, 6), "USD per unit of the record's currency at its event date"))
        for a in src.fx.amounts:
            fields.append(col(f"{a}_usd", USD, f"{a} converted to USD at {src.fx.rate_column}"))
    if src.scd2:
        fields += [
            col("valid_from", TS, "SCD2: this version is in effect from (its updated_at)"),
            col("valid_to", TS, "SCD2: the next version's valid_from; null for the current version"),
            col("is_current", BOOL, "SCD2: true for the newest version"),
        ]
    return T.StructType(fields + SILVER_META)


def silver(source_name: str) -> TableDef:
    src = SOURCES[source_name]
    history = (
        " Kept as SCD type 2." if src.scd2
        else " Every version is kept (key + updated_at): read a date's state with tradelake.silver.versions.as_of."
        if src.version_column
        else ""
    )
    return TableDef("silver", src.name, silver_schema(src), f"{src.description}{history}")


# -------------------------------------------------------------------------------------------------
# Quarantine and ops
# -------------------------------------------------------------------------------------------------
QUARANTINE = TableDef(
    "quarantine",
    "records",
    T.StructType([
        col("source", STR, "source the record came from"),
        col("ingest_date", DATE, "the day the record arrived"),
        col("record_id", STR, "bronze _record_id: the full raw record is in bronze"),
        col("reason_code", STR, "first failing rule, in the order of the reason-code table"),
        col("reason_detail", STR, "which field or rule failed"),
        col("raw_record", STR, "the record as read (JSON of its fields, PII hashed; or the raw line, e-mails masked)"),
        col("source_file", STR, "landing file of the record"),
        col("run_id", STR, "silver run that quarantined the record"),
        col("quarantined_at", TS, "when it was quarantined (UTC)"),
        col("resolved_date", DATE, "orphans only: the day it was re-tried and left quarantine"),
        col("resolution", STR, "ACCEPTED (now in silver) or DUPLICATE (an identical record was accepted first)"),
        col("resolved_run_id", STR, "silver run that resolved it"),
    ]),
    "Records rejected by silver, one row per raw record, with the reason. ORPHANs are re-tried daily.",
)

ACCOUNTING = TableDef(
    "ops",
    "accounting",
    T.StructType([
        col("stage", STR, "ingest or silver"),
        col("source", STR, "source"),
        col("ingest_date", DATE, "the day of arrival being accounted for"),
        col("files", LONG, "landing files (ingest)"),
        col("records_read", LONG, "records read: bronze rows of the day"),
        col("accepted", LONG, "accepted into silver on the day they arrived"),
        col("quarantined", LONG, "sent to quarantine (including orphans later resolved)"),
        col("duplicates", LONG, "exact duplicates of an already accepted record"),
        col("orphans_retried", LONG, "earlier orphans re-tried on this day"),
        col("orphans_resolved", LONG, "earlier orphans that left quarantine on this day"),
        col("balanced", BOOL, "records_read = accepted + quarantined + duplicates"),
        col("run_id", STR, "run that recorded these figures"),
        col("recorded_at", TS, "when (UTC)"),
    ]),
    "Per run and source: read = accepted + quarantined + duplicates. A run that does not balance fails.",
)

DUPLICATES = TableDef(
    "ops",
    "duplicates",
    T.StructType([
        col("source", STR, "source"),
        col("ingest_date", DATE, "the day the duplicate arrived"),
        col("record_id", STR, "bronze _record_id of the duplicate"),
        col("duplicate_of", STR, "_record_id of the accepted record it repeats"),
        col("run_id", STR, "silver run"),
    ]),
    "Exact duplicates: counted, linked to the record they repeat, not loaded again.",
)

INGESTED_FILES = TableDef(
    "ops",
    "ingested_files",
    T.StructType([
        col("source", STR, "source"),
        col("ingest_date", DATE, "landing folder date"),
        col("source_file", STR, "file path"),
        col("file_size", LONG, "bytes"),
        col("records", LONG, "records read from it (bronze rows)"),
        col("malformed", LONG, "lines that could not be parsed"),
        col("extra_columns", T.ArrayType(STR), "columns not in the contract (schema drift), empty if none"),
        col("run_id", STR, "ingest run"),
    ]),
    "Landing files ingested into bronze, with schema drift reported per file.",
)

RUNS = TableDef(
    "ops",
    "runs",
    T.StructType([
        col("run_id", STR, "unique per job execution"),
        col("job", STR, "ingest, silver, ..."),
        col("first_date", DATE, "first ingest date processed"),
        col("last_date", DATE, "last ingest date processed (= first_date for a daily run)"),
        col("env", STR, "configuration environment"),
        col("status", STR, "SUCCEEDED or FAILED"),
        col("started_at", TS, "UTC"),
        col("finished_at", TS, "UTC"),
        col("seconds", T.DoubleType(), "wall time"),
        col("message", STR, "error or summary"),
    ]),
    "Append-only log of every job execution (the one table a re-run adds to).",
)


DQ_RESULTS = TableDef(
    "ops",
    "dq_results",
    T.StructType([
        col("run_id", STR, "validation run (one per `tradelake run validate` call)"),
        col("validated_at", TS, "when (UTC)"),
        col("layer", STR, "bronze, silver or gold"),
        col("table_name", STR, "<layer>.<table> validated (gold: its staged snapshot, before publishing)"),
        col("suite", STR, "expectation suite: <layer>.<table> (rows) or <layer>.<table>.daily (volume, freshness)"),
        col("first_date", DATE, "first date validated"),
        col("last_date", DATE, "last date validated"),
        col("table_version", LONG, "Delta version of the table that was validated"),
        col("expectation", STR, "Great Expectations expectation class"),
        col("column_name", STR, "column(s) it checks; null for table-level expectations"),
        col("kwargs", STR, "its other arguments (JSON)"),
        col("severity", STR, "fail (stops the pipeline before gold is published) or warn (recorded)"),
        col("why", STR, "the declaration it comes from"),
        col("success", BOOL, "the expectation held"),
        col("observed_value", STR, "observed value (JSON) for table or aggregate expectations; the error if it could not run"),
        col("element_count", LONG, "rows (or dates, for .daily suites) looked at"),
        col("unexpected_count", LONG, "rows that broke it"),
        col("unexpected_percent", T.DoubleType(), "their percentage of the non-null values"),
    ]),
    "Every expectation's outcome of every validation run: the data-quality history (appended per run).",
)

FEATURE_DRIFT = TableDef(
    "ops",
    "feature_drift",
    T.StructType([
        col("table_name", STR, "gold table"),
        col("feature", STR, "numeric feature"),
        col("as_of_date", DATE, "snapshot D"),
        col("reference_date", DATE, "the reference snapshot (default D - 90)"),
        col("psi", T.DoubleType(), "population stability index of D against the reference, 10 reference-quantile bins"),
        col("verdict", STR, "stable (< 0.10), watch (0.10-0.25), shift (> 0.25: a warning)"),
        col("rows_current", LONG, "non-null values at D"),
        col("rows_reference", LONG, "non-null values at the reference date"),
        col("run_id", STR, "validation run that computed it"),
    ]),
    "Drift of each numeric gold feature against the snapshot 90 days earlier (one row per table, feature, date).",
)


# -------------------------------------------------------------------------------------------------
# Gold: the feature snapshots (schemas and comments live with their formulas in tradelake.gold.*)
# -------------------------------------------------------------------------------------------------
def _gold_tables() -> tuple[list[TableDef], TableDef, TableDef]:
    from tradelake.gold import (
        buyer_credit,
        buyer_default_labels,
        compute,
        lane_performance,
        supplier_credit,
        supplier_scorecard,
    )

    features = [
        TableDef("gold", name, m.SCHEMA, m.DESCRIPTION)
        for name, m in (
            ("supplier_scorecard", supplier_scorecard),
            ("lane_performance", lane_performance),
            ("supplier_credit_features", supplier_credit),
            ("buyer_credit_features", buyer_credit),
            ("buyer_default_labels", buyer_default_labels),
        )
    ]
    ledger = TableDef(
        "gold", "_feature_ledger", compute.LEDGER_SCHEMA,
        "Internal: the changes fact states make to each entity's running totals, by event and knowledge day "
        "(tradelake.gold.ledger). Rows of a knowledge day never change once it has passed.",
        properties={"delta.dataSkippingStatsColumns": "family,event_day,known_day"},
    )
    totals = TableDef(
        "gold", "_feature_totals",
        T.StructType([col("family", STR, "component family"), col("entity_id", STR, "supplier or buyer"),
                      col("sub_key", STR, "sub-entity ('' for the entity itself)"),
                      col("as_of_date", DATE, "the day the totals hold for")]
                     + [f for f in compute.LEDGER_SCHEMA.fields if f.name not in ("family", "entity_id", "sub_key",
                                                                                  "event_day", "known_day")]),
        "Internal: running totals of the latest processed days, from which the next day's are advanced.",
        # Two dates at a time: a daily step adds its day and drops the oldest as whole files.
        partition_by=("as_of_date",),
    )
    return features, ledger, totals


GOLD_TABLES, FEATURE_LEDGER, FEATURE_TOTALS = _gold_tables()
GOLD = {t.name: t for t in GOLD_TABLES}
# The features job writes here; `validate --layer gold` checks it; `publish` copies it into gold.
STAGED = {t.name: TableDef("staging", t.name, t.schema, f"Staged, not yet published: {t.description}")
          for t in GOLD_TABLES}


def all_tables() -> list[TableDef]:
    return (
        [bronze(s) for s in SOURCE_ORDER]
        + [silver(s) for s in SOURCE_ORDER]
        + [QUARANTINE, ACCOUNTING, DUPLICATES, INGESTED_FILES, RUNS, DQ_RESULTS, FEATURE_DRIFT]
        + GOLD_TABLES + [FEATURE_LEDGER, FEATURE_TOTALS] + list(STAGED.values())
    )


# -------------------------------------------------------------------------------------------------
# Access
# -------------------------------------------------------------------------------------------------
_created: set[tuple[str, str]] = set()  # (Spark application id, path) of tables known to exist


def ensure_table(spark: SparkSession, settings: Settings, table: TableDef) -> DeltaTable:
    """The Delta table, created empty with its schema, comments and partitioning if missing."""
    path = table.path(settings)
    known = (spark.sparkContext.applicationId, path)
    if known in _created or DeltaTable.isDeltaTable(spark, path):
        _created.add(known)
        return DeltaTable.forPath(spark, path)
    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(table.schema)
        .comment(table.description)
    )
    if table.partition_by:
        builder = builder.partitionedBy(*table.partition_by)
    for k, v in table.properties.items():
        builder = builder.property(k, v)
    created = builder.execute()
    _created.add(known)
    return created


def exists(spark: SparkSession, settings: Settings, table: TableDef) -> bool:
    path = table.path(settings)
    return (spark.sparkContext.applicationId, path) in _created or DeltaTable.isDeltaTable(spark, path)


def read(spark: SparkSession, settings: Settings, table: TableDef) -> DataFrame:
    """The table as a DataFrame (created empty first if it does not exist yet)."""
    path = table.path(settings)
    if (spark.sparkContext.applicationId, path) not in _created:
        ensure_table(spark, settings, table)
    return spark.read.format("delta").load(path)


def read_version(spark: SparkSession, settings: Settings, table: TableDef, version: int) -> DataFrame:
    """The table as it was at a Delta version (time travel)."""
    return spark.read.format("delta").option("versionAsOf", version).load(table.path(settings))


def conform(df: DataFrame, table: TableDef) -> DataFrame:
    """Select and cast df's columns to exactly the table's schema (fails on a missing column). SQL text:
    one call into the JVM, where a column at a time costs three per field of a wide table."""
    return df.selectExpr(*[f"CAST(`{f.name}` AS {f.dataType.simpleString()}) AS `{f.name}`" for f in table.schema.fields])
