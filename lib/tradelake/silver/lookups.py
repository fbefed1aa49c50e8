"""Checks that look beyond the record: FX_MISSING, ORPHAN, uniqueness (OUT_OF_DOMAIN) and duplicates.

Silver judges a *range* of ingest dates in one pass, giving every record the verdict day-by-day
processing would have given it. Two dates per record make that possible:

  _judge_date  the day the record is first judged: its ingest date, or the first day of the range for
               an orphan still waiting from before the range
  __accept_on  the day it can be accepted: its judge date, or the day its parent became known if that
               is later (an orphan re-tried daily is accepted on that day); null when that is not within
               the range and the orphan retry window

FX is judged with the rates known on the judge date and converted with the rates known on the day of
acceptance. Records competing for the same key or the same content are ranked by (accept date, ingest
date, record id): the order in which day-by-day runs would have seen them. Every transform takes the
reference data as an argument and returns a DataFrame -> DataFrame function.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from tradelake.contracts import Source, Unique
from tradelake.silver.validate import CHECK_PREFIX, failed_before, typed

FX_FALLBACK_DAYS = 7
SEP = "\u001f"


def rank_order() -> list[Column]:
    return [F.col("__accept_on").asc_nulls_last(), F.col("_ingest_date").asc(), F.col("_record_id").asc()]


# -------------------------------------------------------------------------------------------------
# FX
# -------------------------------------------------------------------------------------------------
def fx_calendar(fx_rates: DataFrame) -> DataFrame:
    """(currency, fx_date) -> the rates usable for fx_date, each with the day it became known.

    A rate serves its own date and the 7 days after it (sources.md: the rate of the event date, or else
    the latest earlier rate at most 7 days older). Input: silver fx_rates (currency, rate_date,
    usd_per_unit, _known_date)."""
    return (
        fx_rates.select(
            "currency",
            F.explode(F.sequence("rate_date", F.date_add("rate_date", FX_FALLBACK_DAYS))).alias("fx_date"),
            F.struct(
                F.col("rate_date"), F.col("_known_date").alias("known_date"), F.col("usd_per_unit").alias("rate")
            ).alias("c"),
        )
        .groupBy("currency", "fx_date")
        .agg(F.collect_list("c").alias("candidates"))
    )


def fx_usable_on(candidates: Column, day: Column) -> Column:
    return F.exists(candidates, lambda c: c["known_date"] <= day)


def fx_rate_on(candidates: Column, day: Column) -> Column:
    """The newest usable rate among those known by `day` (structs compare by rate_date first)."""
    return F.array_max(F.filter(candidates, lambda c: c["known_date"] <= day))["rate"]


def with_fx(src: Source, calendar: DataFrame):
    """Adds `__fx_candidates`; FX_MISSING where the record has a currency but no rate was usable on its
    judge date."""

    def transform(df: DataFrame) -> DataFrame:
        cal = F.broadcast(calendar.select(
            F.col("currency").alias("__fx_currency"), F.col("fx_date").alias("__fx_date"),
            F.col("candidates").alias("__fx_candidates"),
        ))
        currency = typed(src.fx.currency)
        event_date = src.fx.event_date(typed)
        joined = df.join(cal, (currency == F.col("__fx_currency")) & (event_date == F.col("__fx_date")), "left")
        usable = F.coalesce(fx_usable_on(F.col("__fx_candidates"), F.col("_judge_date")), F.lit(False))
        missing = currency.isNotNull() & ~usable & ~failed_before("FX_MISSING")
        detail = F.concat(F.lit("no USD rate for "), currency, F.lit(" on or up to 7 days before "), event_date.cast("string"))
        return joined.withColumn(CHECK_PREFIX + "FX_MISSING", F.when(missing, detail)).drop("__fx_currency", "__fx_date")

    return transform


# -------------------------------------------------------------------------------------------------
# Parents
# -------------------------------------------------------------------------------------------------
def with_parent_known_date(src: Source, parents: DataFrame):
    """Adds `__parent_known`: the day the referenced parent first became known (null: not by the end
    of the range). parents: silver rows of the parent source known by the end of the range."""

    def transform(df: DataFrame) -> DataFrame:
        p = src.parent
        ref = typed(p.column)
        wanted = df.select(ref.alias("__pkey")).where(F.col("__pkey").isNotNull()).distinct()
        known = (
            parents.select(F.col(p.key).alias("__pkey"), "_known_date")
            .join(wanted, "__pkey")
            .groupBy("__pkey")
            .agg(F.min("_known_date").alias("__parent_known"))
        )
        return df.join(known, ref == F.col("__pkey"), "left").drop("__pkey")

    return transform


def orphan_detail(src: Source) -> Column:
    p = src.parent
    return F.concat(F.lit(f"{p.column} "), typed(p.column), F.lit(f" not found in {p.source}"))


# -------------------------------------------------------------------------------------------------
# Uniqueness against what was accepted before the range
# -------------------------------------------------------------------------------------------------
def identity_of(u: Unique, typed_values: bool) -> Column:
    if u.identity is None:
        return F.col("_record_hash")
    cols = [typed(c) if typed_values else F.col(c) for c in u.identity]
    return F.concat_ws(SEP, *[c.cast("string") for c in cols])


def key_of(u: Unique) -> Column:
    return F.concat_ws(SEP, *[typed(k).cast("string") for k in u.key])


def with_prior_clash(src: Source, prior: DataFrame):
    """`__prior_clash`: a unique key of the record is held by a different record accepted before the
    range (prior: silver rows known before the range)."""

    def transform(df: DataFrame) -> DataFrame:
        clash = F.lit(False)
        for i, u in enumerate(src.unique):
            kc, ic = f"__k{i}", f"__id{i}"
            df = df.withColumn(kc, key_of(u)).withColumn(ic, identity_of(u, typed_values=True))
            held = (
                prior.select(F.concat_ws(SEP, *[F.col(k).cast("string") for k in u.key]).alias(kc),
                             identity_of(u, typed_values=False).alias("__pid"))
                .join(df.select(kc).distinct(), kc)
                .groupBy(kc)
                .agg(F.min("__pid").alias(f"__pmin{i}"), F.max("__pid").alias(f"__pmax{i}"))
            )
            df = df.join(held, kc, "left")
            mine = F.col(ic)
            clash = clash | F.coalesce(
                F.col(f"__pmin{i}").isNotNull() & ((F.col(f"__pmin{i}") != mine) | (F.col(f"__pmax{i}") != mine)),
                F.lit(False),
            )
        return df.withColumn("__prior_clash", clash).drop(*[c for c in df.columns if c.startswith(("__pmin", "__pmax"))])

    return transform


# -------------------------------------------------------------------------------------------------
# Competition inside the range: uniqueness and exact duplicates
# -------------------------------------------------------------------------------------------------
def with_batch_clash(src: Source):
    """For each unique key, the first eligible record (by rank) holds it. Another record with a different
    identity clashes: `__clash_on` is the day the holder was accepted (null: no clash). Requires
    `__k<i>`/`__id<i>` from with_prior_clash, `__eligible` and `__accept_on`."""

    def transform(df: DataFrame) -> DataFrame:
        clash_on = F.lit(None).cast("date")
        for i, _ in enumerate(src.unique):
            w = Window.partitionBy(f"__k{i}").orderBy(F.col("__eligible").desc(), *rank_order())
            holder_id = F.first(f"__id{i}").over(w)
            holder_ok = F.first("__eligible").over(w)
            holder_on = F.first("__accept_on").over(w)
            this = F.when(holder_ok & (holder_id != F.col(f"__id{i}")), holder_on)
            clash_on = F.least(clash_on, this) if i else this
        cleanup = [c for c in df.columns if c.startswith(("__k", "__id"))]
        return df.withColumn("__clash_on", clash_on).drop(*cleanup)

    return transform


def with_duplicates(prior: DataFrame):
    """`__dup_of`: the record id an eligible record repeats exactly: one accepted before the range, or
    the first eligible record with the same content in the range (by rank). prior: silver rows known
    before the range."""

    def transform(df: DataFrame) -> DataFrame:
        hashes = df.where("__eligible").select(F.col("_record_hash").alias("__h")).distinct()
        held = (
            prior.select(F.col("_record_hash").alias("__h"), F.col("_record_id").alias("__prior_id"))
            .join(hashes, "__h")
            .groupBy("__h")
            .agg(F.min("__prior_id").alias("__prior_id"))
        )
        df = df.join(held, F.col("_record_hash") == F.col("__h"), "left").drop("__h")
        w = Window.partitionBy("_record_hash").orderBy(F.col("__eligible").desc(), *rank_order())
        first = F.first("_record_id").over(w)
        dup_of = F.when(
            F.col("__eligible"),
            F.coalesce(F.col("__prior_id"), F.when(first != F.col("_record_id"), first)),
        )
        return df.withColumn("__dup_of", dup_of).drop("__prior_id")

    return transform
