"""Helpers the feature modules share: reading totals, ratios, histogram quantiles, table columns."""
from __future__ import annotations

import datetime as dt
import math
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold.ledger import Component, Totals, component_sql, held_dates, overlaps

DOUBLE = T.DoubleType()
LONG = T.LongType()
INT = T.IntegerType()
STR = T.StringType()
DATE = T.DateType()


# The range a feature's values must lie in, declared with the feature (None: unbounded). The quality
# suites (tradelake.quality.rules) check gold tables against it; a value outside fails validation.
RATE = (0.0, 1.0)
NON_NEGATIVE = (0.0, None)
GROWTH = (-1.0, None)


def feature(name: str, dtype: T.DataType, comment: str,
            bounds: tuple[float | None, float | None] | None = None) -> T.StructField:
    meta: dict = {"comment": comment}
    if bounds is not None:
        lo, hi = bounds
        meta.update({k: float(v) for k, v in (("min", lo), ("max", hi)) if v is not None})
    return T.StructField(name, dtype, True, metadata=meta)


def ratio(num: Column, den: Column) -> Column:
    """num / den as a double; null when den is 0 (features.md: a rate is null when its denominator is 0)."""
    d = den.cast("double")
    return F.when(d != 0, num.cast("double") / d)


def at_most_one(col: Column) -> Column:
    """A share that cannot exceed 1 but could by rounding, capped at 1 (null stays null)."""
    return F.when(col > 1.0, F.lit(1.0)).otherwise(col)


def exact(col: Column) -> Column:
    """A money or duration total narrowed so that adding or subtracting two keeps every decimal
    (decimal(38,8) +- decimal(38,8) would round to 7)."""
    return col.cast("decimal(36,8)")


def entity_totals(totals: Totals, components: list[Component], entity: str) -> DataFrame:
    """(entity_id, as_of_date, one column per entity-level component of `entity`), 0 where absent."""
    mine = [c for c in components if c.entity == entity and c.sub is None]
    fams = sorted({c.family for c in mine})
    parts = [
        # SQL text: one Py4J call (ledger._widen)
        totals.of(f).selectExpr("entity_id", "as_of_date", *[component_sql(c, c.family == f) for c in mine])
        for f in fams
    ]
    return (
        reduce(DataFrame.unionByName, parts)
        .groupBy("entity_id", "as_of_date")
        .agg(*[F.expr(f"CAST(coalesce(sum(`{c.name}`), 0) AS {c.dtype.simpleString()}) AS `{c.name}`") for c in mine])
    )


def sums_by_date(totals: Totals, family: str, by: str, sums: dict[str, Column]) -> DataFrame:
    """(entity_id = the family's column `by`, as_of_date, one column per sum): each expression (over the
    family's component columns) summed over the family's rows of each date, where it has some.

    For a range's totals, held between changes (Totals.held), without a row per sub-entity and date:
    each held value adds its terms on its first day and takes them back on the day it ends; a running
    sum per `by` gives every date's sums (exact: the terms are exact decimals or integers)."""
    held = totals.held(family)
    if held is None:
        return totals.of(family).groupBy(F.col(by).alias("entity_id"), "as_of_date").agg(
            *[F.sum(e).alias(n) for n, e in sums.items()])
    frame, first, last = held
    on = frame.select(F.col(by).alias("entity_id"), F.col("day").alias("at"), F.lit(1).alias("_rows"),
                      *[e.alias(n) for n, e in sums.items()])
    off = frame.where(F.col("next_day") <= F.lit(last)).select(
        F.col(by).alias("entity_id"), F.col("next_day").alias("at"), F.lit(-1).alias("_rows"),
        *[(-e).alias(n) for n, e in sums.items()])
    names = ["_rows", *sums]
    changes = on.unionByName(off).groupBy("entity_id", "at").agg(*[F.sum(n).alias(n) for n in names])
    w = Window.partitionBy("entity_id").orderBy("at")
    running = changes.select(
        "entity_id", "at", F.lead("at").over(w).alias("until"),
        *[F.sum(n).over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow)).alias(n) for n in names],
    )
    return running.where((F.col("_rows") > 0) & overlaps("at", "until", first, last)).select(
        "entity_id", held_dates("at", "until", first, last).alias("as_of_date"), *sums)


def sub_totals(totals: Totals, component: Component) -> DataFrame:
    """(entity_id, sub_key, as_of_date, value) of one sub-entity component, where it is not 0."""
    return totals.of(component.family).where(F.col(component.name) != 0).select(
        "entity_id", "sub_key", "as_of_date", F.col(component.name).alias("value")
    )


# -------------------------------------------------------------------------------------------------
# Quantiles from a mergeable histogram (DDSketch-style logarithmic bins)
# -------------------------------------------------------------------------------------------------
RELATIVE_ACCURACY = 0.005  # every value is represented within 0.5%
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_OFFSET = 100_000  # keeps the keys of values in (0, 1) positive; negative values get negative keys


def histogram_bin(x: Column) -> Column:
    """The bin key (a string of a signed integer ordered like the values) of x; null for null."""
    index = lambda v: F.ceil(F.log(v) / F.lit(math.log(GAMMA))).cast("long") + _OFFSET  # noqa: E731
    key = F.when(x > 0, index(x)).when(x < 0, -index(-x)).when(x == 0, F.lit(0).cast("long"))
    return key.cast("string")


def bin_value(key: Column) -> Column:
    """The representative value of a bin: within RELATIVE_ACCURACY of every value in it."""
    k = key.cast("long")
    rep = F.lit(2.0 / (1 + GAMMA)) * F.pow(F.lit(GAMMA), (F.abs(k) - _OFFSET).cast("double"))
    return F.when(k == 0, F.lit(0.0)).otherwise(F.signum(k.cast("double")) * rep)


def histogram_quantiles(bins: DataFrame, qs: dict[str, float], scale: float = 1.0) -> DataFrame:
    """(entity_id, as_of_date, one column per quantile) from (entity_id, sub_key = bin key, as_of_date,
    value = count). Linear interpolation between the order statistics, as percentile(); each value is
    its bin's representative (divided by `scale`)."""
    part = Window.partitionBy("entity_id", "as_of_date")
    ordered = part.orderBy(F.col("sub_key").cast("long")).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    ranked = bins.select(
        "entity_id", "as_of_date",
        F.col("sub_key").cast("long").alias("k"),
        (bin_value(F.col("sub_key")) / F.lit(scale)).alias("v"),
        F.sum("value").over(ordered).alias("upto"),  # ranks 0 .. upto-1 are in this bin or before
        F.sum("value").over(part).alias("n"),
    )
    aggs = []
    for name, q in qs.items():
        h = (F.col("n") - 1) * F.lit(q)
        lo, hi = F.floor(h), F.least(F.floor(h) + 1, F.col("n") - 1)
        at = lambda r: F.min_by(F.when(F.col("upto") > r, F.col("v")), F.when(F.col("upto") > r, F.col("k")))  # noqa: E731
        aggs += [at(lo).alias(f"_{name}_lo"), at(hi).alias(f"_{name}_hi"), F.first(h - lo).alias(f"_{name}_frac")]
    out = ranked.groupBy("entity_id", "as_of_date").agg(*aggs)
    return out.select("entity_id", "as_of_date", *[
        (F.col(f"_{n}_lo") + F.col(f"_{n}_frac") * (F.col(f"_{n}_hi") - F.col(f"_{n}_lo"))).alias(n) for n in qs
    ])


def held_histogram_quantiles(held: DataFrame, qs: dict[str, float], first: dt.date, last: dt.date,
                             scale: float = 1.0) -> DataFrame:
    """histogram_quantiles for every date in first..last from bin counts held between changes
    (entity_id, sub_key = bin key, day, next_day, value: held from day until the day before next_day).
    An entity's quantiles change only on a day on which one of its bins changes: they are computed on
    those days and given to each date until the next (a lane's week changes on a few days of its 98)."""
    changes = held.select("entity_id", F.col("day").alias("as_of_date")).unionByName(
        held.where(F.col("next_day").isNotNull()).select("entity_id", F.col("next_day").alias("as_of_date"))
    ).where(F.col("as_of_date") <= F.lit(last)).distinct()
    bins_then = changes.join(held, "entity_id").where(
        (F.col("day") <= F.col("as_of_date")) & (F.col("next_day").isNull() | (F.col("as_of_date") < F.col("next_day")))
    ).select("entity_id", "sub_key", "as_of_date", "value")
    following = Window.partitionBy("entity_id").orderBy("as_of_date")
    spans = changes.select("entity_id", "as_of_date", F.lead("as_of_date").over(following).alias("until"))
    quantiles = histogram_quantiles(bins_then, qs, scale)
    return quantiles.join(spans, ["entity_id", "as_of_date"]).where(overlaps("as_of_date", "until", first, last)).select(
        "entity_id", held_dates("as_of_date", "until", first, last).alias("as_of_date"), *qs)

