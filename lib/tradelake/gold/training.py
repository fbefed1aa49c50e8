"""Training sets for buyer credit models: buyer_credit_features joined to buyer_default_labels.

features.md: a training set is buyer_credit_features joined to the labels on the key; it is
point-in-time correct by construction (the features of D use only what was known at the end of D, the
label of D looks at the 180 days after it).

    tradelake training-set --from 2026-01-01 --to 2026-03-31 --out /tmp/train.parquet
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import tables
from tradelake.config import Settings

KEY = ["buyer_id", "as_of_date"]


def join_labels(features: DataFrame, labels: DataFrame) -> DataFrame:
    """Every labelled feature row: the features and `default_180d` (rows without a label, such as buyers
    already in default at D or dates too recent to be labelled, are left out)."""
    return features.join(labels.select(*KEY, "default_180d", "label_date"), KEY, "inner")


def training_set(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> DataFrame:
    in_range = F.col("as_of_date").between(F.lit(first), F.lit(last))
    features = tables.read(spark, settings, tables.GOLD["buyer_credit_features"]).where(in_range)
    labels = tables.read(spark, settings, tables.GOLD["buyer_default_labels"]).where(in_range)
    return join_labels(features, labels)


def write_training_set(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date, out: str,
                       fmt: str = "parquet") -> dict:
    df = training_set(spark, settings, first, last)
    writer = df.orderBy(*KEY).write.mode("overwrite")
    if fmt == "csv":
        writer.option("header", True).csv(out)
    else:
        writer.format(fmt).save(out)
    summary = df.agg(F.count("*").alias("rows"), F.sum("default_180d").alias("defaults"),
                     F.countDistinct("buyer_id").alias("buyers")).first()
    return {"rows": summary["rows"], "defaults": summary["defaults"] or 0, "buyers": summary["buyers"], "path": out}
