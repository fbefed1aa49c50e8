"""The features job: silver -> gold for as-of dates first..last (`tradelake run features`).

Two ways, same tables (tested):
- **daily step** (one date D whose previous day's totals are stored): only the facts that changed on D
  are rebuilt; their ledger rows for D are written; D's totals are the day before's plus the ledger rows
  that start or stop counting on D (ledger.advance). Cost follows the day's changes and the number of
  entities.
- **range** (a backfill, a first run, a re-run of an older date): everything known by the last date is
  rebuilt in one pass (compute.compute_range) and every date of the range is written.

A run writes its snapshots (and the labels of the dates 180 days earlier, buyer_default_labels) to the
staging tables; `tradelake run validate --layer gold` validates them there and `tradelake run publish`
copies them into gold, replacing only those dates' slices (Delta replaceWhere): gold is never replaced
by data that failed validation, and a re-run changes nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import ops, tables
from tradelake.config import Settings
from tradelake.gold import buyer_default_labels, compute, facts, lane_performance, ledger
from tradelake.gold.compute import COMPONENTS, EVENT_DATE, Gold, Silver

log = logging.getLogger(__name__)


@contextmanager
def _timed(what: str):
    t0 = time.monotonic()
    yield
    log.info("features: %s took %.1fs", what, time.monotonic() - t0)
LABEL_LAG = dt.timedelta(days=buyer_default_labels.HORIZON)


class SilverNotReady(RuntimeError):
    pass


def read_silver(spark: SparkSession, settings: Settings) -> Silver:
    def rd(name: str) -> DataFrame:
        return tables.read(spark, settings, tables.silver(name))

    return Silver(rd("transactions"), rd("payments"), rd("shipments"), rd("shipment_events"), rd("suppliers"),
                  rd("fx_rates"))


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def check_silver_ready(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> None:
    processed = ops.processed_dates(spark, settings, "silver")
    missing = [d for d in _days(first, last) if d not in processed]
    if missing:
        raise SilverNotReady(
            f"features for {first}..{last} need silver for every one of those days; not processed yet: "
            f"{', '.join(str(d) for d in missing[:5])}{' ...' if len(missing) > 5 else ''}. Run silver first."
        )


def stored_totals_dates(spark: SparkSession, settings: Settings) -> set[dt.date]:
    if not tables.exists(spark, settings, tables.FEATURE_TOTALS):
        return set()
    rows = tables.read(spark, settings, tables.FEATURE_TOTALS).select("as_of_date").distinct().collect()
    return {r[0] for r in rows}  # at most two dates


def run_features_range(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> str:
    """Gold for every as-of date in first..last; returns which way it was computed ("daily" or "range")."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    check_silver_ready(spark, settings, first, last)
    for t in tables.GOLD_TABLES + list(tables.STAGED.values()) + [tables.FEATURE_LEDGER, tables.FEATURE_TOTALS]:
        tables.ensure_table(spark, settings, t)
    silver = read_silver(spark, settings)
    stored = stored_totals_dates(spark, settings)
    if first == last and first - dt.timedelta(days=1) in stored:
        daily_step(spark, settings, silver, first)
        return "daily"
    backfill(spark, settings, silver, first, last, stored)
    return "range"


# -------------------------------------------------------------------------------------------------
# The range
# -------------------------------------------------------------------------------------------------
def backfill(spark: SparkSession, settings: Settings, silver: Silver, first: dt.date, last: dt.date,
             stored: set[dt.date]) -> None:
    earlier = _stored_buyer_features(spark, settings, first - LABEL_LAG, min(first, last - LABEL_LAG + dt.timedelta(days=1)))
    with _timed(f"range {first}..{last}"):
        gold, rows, totals = compute.compute_range(silver, first, last, earlier_buyer_features=earlier)
    with _timed("ledger"):
        write_ledger(rows, settings, last)
    writes = _gold_writes(gold, first, last)
    if not stored or last >= max(stored):
        keep = totals.between(last - dt.timedelta(days=1), last).wide(COMPONENTS)
        writes.append((keep, tables.FEATURE_TOTALS, None, "as_of_date"))
    with _timed("writes"):
        _write_all(writes, settings)
    mark_staged(spark, settings, first, last)


# -------------------------------------------------------------------------------------------------
# The daily step
# -------------------------------------------------------------------------------------------------
def _visible_on(df: DataFrame, event_date: Column, day: dt.date) -> DataFrame:
    """Rows that become visible on `day`. An event is at most a day after its arrival (FUTURE_TIMESTAMP),
    so such rows were known on day - 1 or day: the filter on _known_date lets file statistics prune."""
    return facts.with_visibility(
        df.where(F.col("_known_date") >= F.lit(day - dt.timedelta(days=1))), event_date
    ).where(F.col("_visible_from") == F.lit(day))


BROADCAST_IDS = 1_000_000


def _ids(ids: DataFrame) -> DataFrame:
    """The distinct ids of the day's changed facts, materialised."""
    return ids.distinct().localCheckpoint()


def _having(df: DataFrame, ids: DataFrame, key: str) -> DataFrame:
    """The rows of df whose `key` is one of `ids`. The ids are broadcast when there are not too many (a
    day's changes: thousands): one scan of df, where a sort-merge join would shuffle a whole silver
    table - a cost that grows with history (Spark cannot tell that a checkpointed frame is small)."""
    return df.join(F.broadcast(ids) if ids.count() <= BROADCAST_IDS else ids, key, "left_semi")


def daily_step(spark: SparkSession, settings: Settings, silver: Silver, day: dt.date) -> None:
    known = silver.visible_by(day)
    with _timed("changed facts"):
        # Facts with something new on `day`: only their states can start or end on it.
        txn_ids = _ids(_visible_on(known.transactions, EVENT_DATE["transactions"](), day).select("txn_id").unionByName(
            _visible_on(known.payments, EVENT_DATE["payments"](), day).select("txn_id")))
        shipment_ids = _ids(
            _visible_on(known.shipments, EVENT_DATE["shipments"](), day).select("shipment_id")
            .unionByName(_visible_on(known.shipment_events, EVENT_DATE["shipment_events"](), day).select("shipment_id"))
            .unionByName(_having(known.shipments, txn_ids, "txn_id").select("shipment_id")))
        shipments_rows = _having(known.shipments, shipment_ids, "shipment_id").localCheckpoint()
        all_txn_ids = _ids(txn_ids.unionByName(shipments_rows.select("txn_id")))
    with _timed("fact states"):
        invoices = facts.invoice_states(
            _having(known.transactions, all_txn_ids, "txn_id"),
            _having(known.payments, all_txn_ids, "txn_id"),
        ).localCheckpoint()
        shipments = facts.shipment_states(
            shipments_rows, _having(known.shipment_events, shipment_ids, "shipment_id"), invoices
        )
        changed = lambda states: states.where((F.col("known_from") == F.lit(day)) | (F.col("known_to") == F.lit(day)))  # noqa: E731
        new_rows = compute.ledger_of(changed(invoices), changed(shipments)).where(
            F.col("known_day") == F.lit(day)).localCheckpoint()
    with _timed("ledger rows"):
        _write_replacing(new_rows, tables.FEATURE_LEDGER, settings, _between("known_day", day, day), "known_day")
    with _timed("advance"):
        # Columnar cache, not a row checkpoint: ledger rows are wide and mostly null (Totals.checkpoint).
        touching = ledger.touching_before(tables.read(spark, settings, tables.FEATURE_LEDGER), COMPONENTS, day).unionByName(
            tables.conform(new_rows, tables.FEATURE_LEDGER)).persist(StorageLevel.MEMORY_AND_DISK)
        touching.count()
        previous = ledger.Totals.from_wide(
            tables.read(spark, settings, tables.FEATURE_TOTALS).where(F.col("as_of_date") == F.lit(day - dt.timedelta(days=1))),
            COMPONENTS,
        ).checkpoint()
        # Stored, then read back: the day's features plan over a scan of the stored totals. Cached instead,
        # every one of their DataFrames would carry the whole plan of the advance (every family's aggregation),
        # which Spark analyses again and matches against its cache each time: a step on a tiny lakehouse took
        # 37-82 s so, 23-30 s this way (three alternating runs each, one session). `day` is the newest stored
        # date (the day before is stored, and only the two latest are kept), so the day before stays: a re-run
        # of `day` starts from it.
        totals = ledger.advance(previous, touching, COMPONENTS, day)
        _write_replacing(totals.wide(COMPONENTS), tables.FEATURE_TOTALS, settings, _between("as_of_date", day, day),
                         "entity_id")
        totals = ledger.Totals.from_wide(
            tables.read(spark, settings, tables.FEATURE_TOTALS).where(F.col("as_of_date") == F.lit(day)), COMPONENTS)

    scorecard, credit, buyers = compute.features(totals, known, day, day)
    label_day = day - LABEL_LAG
    earlier = _stored_buyer_features(spark, settings, label_day, label_day + dt.timedelta(days=1))
    labels = buyer_default_labels.build(totals, earlier, label_day, label_day)
    lanes = lane_performance.build(totals)
    with _timed("writes"):
        _write_all(_gold_writes(Gold(scorecard, credit, buyers, lanes, labels), day, day), settings)
    previous.release()
    touching.unpersist()
    # The totals before the day before: removed as whole files, no rewrite.
    tables.ensure_table(spark, settings, tables.FEATURE_TOTALS).delete(
        F.col("as_of_date") < F.lit(day - dt.timedelta(days=1)))
    mark_staged(spark, settings, day, day)


# -------------------------------------------------------------------------------------------------
# Writing
# -------------------------------------------------------------------------------------------------
def _stored_buyer_features(spark: SparkSession, settings: Settings, first: dt.date, before: dt.date) -> DataFrame:
    """Stored buyer features of first..before-1 (for labels of dates before the range)."""
    return tables.read(spark, settings, tables.GOLD["buyer_credit_features"]).where(
        (F.col("as_of_date") >= F.lit(first)) & (F.col("as_of_date") < F.lit(before))
    )


def _between(column: str, first: dt.date, last: dt.date) -> str:
    return f"{column} >= DATE'{first.isoformat()}' AND {column} <= DATE'{last.isoformat()}'"


def _write_replacing(df: DataFrame, table: tables.TableDef, settings: Settings, where: str | None,
                     order_by: str) -> None:
    """Replace the rows matching the SQL condition `where` (all rows when None) with df (Delta checks
    that df holds nothing else), written in `order_by` order so that file statistics prune a date's reads."""
    writer = tables.conform(df, table).sortWithinPartitions(order_by).write.format("delta").mode("overwrite")
    if where is not None:
        writer = writer.option("replaceWhere", where)
    writer.save(table.path(settings))


LEDGER_ROWS_PER_FILE = 2_000_000
LEDGER_ROW_GROUP_BYTES = 1024 * 1024


def write_ledger(families: Mapping[str, DataFrame], settings: Settings, last: dt.date) -> None:
    """The ledger of everything known through `last` (one materialised narrow frame per family), in
    files of up to about 2M rows, each holding one family's rows sorted by event day (the small families
    share files, one after the other), with small Parquet row groups: a daily step asks for a few event
    days of each family (ledger.touching_before), and file and row-group statistics on family and
    event_day let it read little more than those. Laid out before the families are widened to the
    ledger's schema: a wide row (every component, mostly null) costs a kilobyte in a shuffle. Daily
    steps then add a small file each; the weekly maintenance re-clusters them (OPTIMIZE ZORDER BY event_day)."""
    counts = {f: df.count() for f, df in families.items()}  # materialised frames: cheap
    small = [f for f in families if counts[f] < LEDGER_ROWS_PER_FILE // 2]
    laid_out = [families[f].repartitionByRange(-(-counts[f] // LEDGER_ROWS_PER_FILE), "event_day")
                .sortWithinPartitions("event_day") for f in families if f not in small]
    if small:
        together = ledger.wide_rows([families[f].coalesce(1) for f in small], COMPONENTS)
        laid_out.append(together.coalesce(max(1, -(-sum(counts[f] for f in small) // LEDGER_ROWS_PER_FILE)))
                        .sortWithinPartitions("family", "event_day"))
    rows = ledger.wide_rows(laid_out, COMPONENTS)
    spark = rows.sparkSession
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    before = hadoop.get("parquet.block.size")
    hadoop.set("parquet.block.size", str(LEDGER_ROW_GROUP_BYTES))  # the Delta writer ignores it as an option
    try:
        (tables.conform(rows, tables.FEATURE_LEDGER).write.format("delta").mode("overwrite")
         .option("replaceWhere", f"known_day <= DATE'{last.isoformat()}'").save(tables.FEATURE_LEDGER.path(settings)))
    finally:
        if before is None:
            hadoop.unset("parquet.block.size")
        else:
            hadoop.set("parquet.block.size", before)


def gold_slice(name: str, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The as-of dates of table `name` that a run for first..last writes: the labels are those of the
    dates 180 days earlier (they need 180 days of hindsight)."""
    if name == "buyer_default_labels":
        return first - LABEL_LAG, last - LABEL_LAG
    return first, last


def _gold_writes(gold: Gold, first: dt.date, last: dt.date) -> list[tuple]:
    """Each gold table's snapshots of the run, written to its staging table (replacing all it held):
    `validate --layer gold` checks them there and `publish` copies them into gold."""
    return [(getattr(gold, t.name), tables.STAGED[t.name], None, "as_of_date") for t in tables.GOLD_TABLES]


STAGED_PROPERTY = "tradelake.staged"


def staged_range(first: dt.date, last: dt.date) -> str:
    return f"features {first.isoformat()}..{last.isoformat()}"


def mark_staged(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> None:
    """Record on each staging table which run it holds (a table property): publish checks it, so that
    it never replaces gold slices with dates staging does not hold."""
    for t in tables.STAGED.values():
        spark.sql(f"ALTER TABLE delta.`{t.path(settings)}` SET TBLPROPERTIES "
                  f"('{STAGED_PROPERTY}' = '{staged_range(first, last)}')")


def _write_all(writes: list[tuple], settings: Settings) -> None:
    """Independent writes to different tables, a few at a time: on small data a Delta write is mostly
    driver-side work (planning, statistics, the commit), which overlaps well."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        for f in [pool.submit(_write_replacing, df, table, settings, where, order) for df, table, where, order in writes]:
            f.result()
