"""Feature drift: the population stability index (PSI) of each numeric feature of a snapshot against a
reference snapshot (default: 90 days earlier).

Bins: `bins` quantile bins of the reference values (edges at its 1/bins, 2/bins, ... quantiles; a value
falls in the first bin whose upper edge is >= it). PSI = sum over bins of (p_cur - p_ref) * ln(p_cur / p_ref),
with each share floored at 1e-4 so that an empty bin counts as a large but finite difference. Null values
are left out. Verdict: < 0.10 stable, 0.10-0.25 watch, > 0.25 shift.

All dates and features in one pass: the snapshots are unpivoted to (date, feature, value).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

FLOOR = 1e-4
STABLE, WATCH = 0.10, 0.25


def numeric_features(schema: T.StructType, key: list[str]) -> list[str]:
    numeric = (T.DoubleType, T.LongType, T.IntegerType, T.DecimalType)
    return [f.name for f in schema.fields if isinstance(f.dataType, numeric) and f.name not in key]


def verdict(psi):
    return F.when(psi < STABLE, "stable").when(psi <= WATCH, "watch").otherwise("shift")


def _long(df: DataFrame, features: list[str], date_name: str) -> DataFrame:
    return (df.select(F.col("as_of_date").alias(date_name), *[F.col(f).cast("double").alias(f) for f in features])
            .unpivot([date_name], features, "feature", "value")
            .where(F.col("value").isNotNull() & ~F.isnan("value")))


def psi(current: DataFrame, reference: DataFrame, features: list[str], reference_days: int, bins: int) -> DataFrame:
    """(feature, as_of_date, reference_date, psi, verdict, rows_current, rows_reference) for every date of
    `current` whose reference date (as_of_date - reference_days) has rows in `reference`."""
    cur = _long(current, features, "as_of_date").withColumn(
        "reference_date", F.date_sub("as_of_date", reference_days))
    ref = _long(reference, features, "reference_date")
    probabilities = [i / bins for i in range(1, bins)]
    edges = ref.groupBy("reference_date", "feature").agg(
        F.percentile_approx("value", probabilities, 10000).alias("edges"), F.count(F.lit(1)).alias("rows_reference"))

    def binned(df: DataFrame) -> DataFrame:
        return df.join(F.broadcast(edges), ["reference_date", "feature"]).withColumn(
            "bin", F.size(F.filter("edges", lambda e: e < F.col("value"))))

    cur_counts = binned(cur).groupBy("as_of_date", "reference_date", "feature", "bin").agg(F.count(F.lit(1)).alias("n_cur"))
    ref_counts = binned(ref).groupBy("reference_date", "feature", "bin").agg(F.count(F.lit(1)).alias("n_ref"))
    pairs = cur.select("as_of_date", "reference_date", "feature").distinct().join(
        edges.select("reference_date", "feature", "rows_reference"), ["reference_date", "feature"])
    grid = pairs.withColumn("bin", F.explode(F.sequence(F.lit(0), F.lit(bins - 1))))
    shares = (grid.join(cur_counts, ["as_of_date", "reference_date", "feature", "bin"], "left")
              .join(ref_counts, ["reference_date", "feature", "bin"], "left")
              .fillna(0, ["n_cur", "n_ref"]))
    per_pair = shares.groupBy("as_of_date", "reference_date", "feature").agg(
        F.sum("n_cur").alias("rows_current"), F.first("rows_reference").alias("rows_reference"),
        F.collect_list(F.struct("n_cur", "n_ref")).alias("bins"))
    p_cur = lambda b: F.greatest(b["n_cur"] / F.col("rows_current"), F.lit(FLOOR))  # noqa: E731
    p_ref = lambda b: F.greatest(b["n_ref"] / F.col("rows_reference"), F.lit(FLOOR))  # noqa: E731
    value = F.aggregate("bins", F.lit(0.0), lambda acc, b: acc + (p_cur(b) - p_ref(b)) * F.log(p_cur(b) / p_ref(b)))
    return (per_pair.where(F.col("rows_current") > 0)
            .select("feature", "as_of_date", "reference_date", value.alias("psi"), "rows_current", "rows_reference")
            .withColumn("verdict", verdict(F.col("psi"))))
