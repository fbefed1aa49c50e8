"""Version history in silver.

Two clocks matter: a version's *effective* time (its `updated_at`: when the change happened) and its
*knowledge* date (`_known_date`: when silver accepted it). Suppliers carry SCD type 2 columns
(valid_from, valid_to, is_current) describing the effective history as known today; transactions and
shipments keep every version. `as_of` answers "what did we know on date D": only versions known by D
whose change happened by the end of D, the newest of them per key.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F


def _date(d: dt.date | Column | str) -> Column:
    return d if isinstance(d, Column) else F.lit(d).cast("date")


def known_by(df: DataFrame, as_of: dt.date | Column) -> DataFrame:
    """Rows silver had accepted by the end of `as_of`."""
    return df.where(F.col("_known_date") <= _date(as_of))


def as_of(df: DataFrame, key: list[str] | tuple[str, ...], as_of_date: dt.date | Column,
          version_column: str = "updated_at") -> DataFrame:
    """The state of each key as known at the end of `as_of_date`: the newest version (by effective
    time, then content hash for a stable tie-break) among versions known by then and effective by then."""
    d = _date(as_of_date)
    w = Window.partitionBy(*key).orderBy(F.col(version_column).desc(), F.col("_record_hash").desc())
    return (
        known_by(df, d)
        .where(F.to_date(F.col(version_column)) <= d)
        .withColumn("__rn", F.row_number().over(w))
        .where("__rn = 1")
        .drop("__rn")
    )


def with_scd2_columns(key: list[str] | tuple[str, ...], version_column: str = "updated_at"):
    """valid_from / valid_to / is_current over all versions of each key in the frame."""

    def transform(df: DataFrame) -> DataFrame:
        w = Window.partitionBy(*key).orderBy(F.col(version_column), F.col("_record_hash"))
        return (
            df.withColumn("valid_from", F.col(version_column))
            .withColumn("valid_to", F.lead(version_column).over(w))
            .withColumn("is_current", F.col("valid_to").isNull())
        )

    return transform
