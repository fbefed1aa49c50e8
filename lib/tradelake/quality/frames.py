"""The DataFrames a validation looks at, for the dates first..last of a layer.

rows   the table's rows of those dates (bronze: arrived on them; silver: accepted on them; gold: the staged
       snapshots of them), with derived columns some rules need (silver: whether the parent exists)
daily  one row per date: its row count against the median count of the previous days (volume) and the
       age of its newest event (freshness)
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import tables
from tradelake.config import Settings
from tradelake.contracts import Source
from tradelake.quality.rules import DAILY_DATE, FRESHNESS_LAG, PARENT_KNOWN, VOLUME_RATIO, freshness_field

DATE_COLUMN = {"bronze": "_ingest_date", "silver": "_known_date", "gold": "as_of_date"}


def _in(column: str, first: dt.date, last: dt.date) -> Column:
    return F.col(column).between(F.lit(first), F.lit(last))


def bronze_rows(spark: SparkSession, settings: Settings, src: Source, first: dt.date, last: dt.date) -> DataFrame:
    return tables.read(spark, settings, tables.bronze(src.name)).where(_in("_ingest_date", first, last))


def silver_rows(spark: SparkSession, settings: Settings, src: Source, first: dt.date, last: dt.date) -> DataFrame:
    rows = tables.read(spark, settings, tables.silver(src.name)).where(_in("_known_date", first, last))
    if src.parent is None:
        return rows
    p = src.parent
    parents = (tables.read(spark, settings, tables.silver(p.source)).where(F.col("_known_date") <= F.lit(last))
               .select(F.col(p.key).alias("__parent_key")).distinct().withColumn(PARENT_KNOWN, F.lit(True)))
    return (rows.join(parents, rows[p.column] == parents["__parent_key"], "left")
            .drop("__parent_key").withColumn(PARENT_KNOWN, F.coalesce(F.col(PARENT_KNOWN), F.lit(False))))


def event_date(layer: str, src: Source) -> Column:
    """The date of the field that says how recent a record is (bronze: parsed from its text)."""
    name = freshness_field(src)
    if layer == "bronze":
        return F.try_to_date(F.substring(F.trim(F.col(name)), 1, 10), "yyyy-MM-dd")
    return F.to_date(F.col(name))


def daily(history: DataFrame, date_column: str, first: dt.date, last: dt.date, window_days: int,
          newest_event: Column | None = None, weekdays_only: bool = False) -> DataFrame:
    """(date, rows, median_rows_before, volume_ratio, newest_event_date, freshness_lag_days) per date of
    first..last. `history` holds at least the rows of first - window_days .. last. The median is over the
    previous `window_days` days that had rows (weekdays only for weekday-only sources), when there are at
    least half as many of them; the ratio and lag are null where there is nothing to compare (too little
    history; a weekend of a weekday-only source). The newest event date ignores events dated after the
    next day (FUTURE_TIMESTAMP defects, judged elsewhere)."""
    spark = history.sparkSession
    aggs = [F.count(F.lit(1)).alias("rows")]
    if newest_event is not None:
        aggs.append(F.max(F.when(newest_event <= F.date_add(F.col(date_column), 1), newest_event)).alias("newest_event_date"))
    counts = (history.where(_in(date_column, first - dt.timedelta(days=window_days), last))
              .groupBy(F.col(date_column).alias(DAILY_DATE)).agg(*aggs))
    n = (last - first).days + 1
    days = spark.range(n).select(F.date_add(F.lit(first), F.col("id").cast("int")).alias(DAILY_DATE))
    weekday = lambda c: ~F.dayofweek(c).isin(1, 7)  # noqa: E731  (1 = Sunday, 7 = Saturday)
    before = counts.select(F.col(DAILY_DATE).alias("h_date"), F.col("rows").alias("h_rows"))
    if weekdays_only:
        before = before.where(weekday(F.col("h_date")))
    baseline = (days.join(before, (F.col("h_date") < F.col(DAILY_DATE))
                          & (F.col("h_date") >= F.date_sub(F.col(DAILY_DATE), window_days)))
                .groupBy(DAILY_DATE)
                .agg(F.median("h_rows").alias("median_rows_before"), F.count(F.lit(1)).alias("history_days"))
                .where(F.col("history_days") >= max(1, window_days // (4 if weekdays_only else 2))))
    out = (days.join(counts, DAILY_DATE, "left").join(baseline, DAILY_DATE, "left")
           .withColumn("rows", F.coalesce(F.col("rows"), F.lit(0))))
    ratio = F.col("rows") / F.col("median_rows_before")
    if weekdays_only:
        ratio = F.when(weekday(F.col(DAILY_DATE)), ratio)
    out = out.withColumn(VOLUME_RATIO, ratio)
    if newest_event is not None:
        out = out.withColumn(FRESHNESS_LAG, F.datediff(F.col(DAILY_DATE), F.col("newest_event_date")))
    return out.orderBy(DAILY_DATE)


def bronze_daily(spark: SparkSession, settings: Settings, src: Source, first: dt.date, last: dt.date) -> DataFrame:
    return daily(tables.read(spark, settings, tables.bronze(src.name)), "_ingest_date", first, last,
                 settings.quality.volume_window_days, event_date("bronze", src), src.weekdays_only)


def silver_daily(spark: SparkSession, settings: Settings, src: Source, first: dt.date, last: dt.date) -> DataFrame:
    return daily(tables.read(spark, settings, tables.silver(src.name)), "_known_date", first, last,
                 settings.quality.volume_window_days, event_date("silver", src), src.weekdays_only)
