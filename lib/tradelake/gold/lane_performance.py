"""gold.lane_performance - key (origin_country, destination_country, carrier, mode, week_start,
as_of_date): each lane's deliveries per ISO week, the last 13 complete weeks before D recomputed on
every D (features.md; as_of_date in the key: docs/gold_features.md).

Not built from the ledger: a (lane, week) only changes while its shipments' states do, so it is
computed at each such change point, from the shipment states holding then, and held until the next
one. A backfill over many dates costs about as much as one date; quantiles are exact.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold.common import DATE, DOUBLE, LONG, STR, feature, ratio

WEEKS = 13
LANE = ["origin_country", "destination_country", "carrier", "mode"]
GROUP = LANE + ["week_start"]

SCHEMA = T.StructType([
    feature("origin_country", STR, "shipment origin (ISO 3166-1 alpha-2)"),
    feature("destination_country", STR, "shipment destination"),
    feature("carrier", STR, "carrier"),
    feature("mode", STR, "SEA, AIR, ROAD, RAIL or EXPRESS"),
    feature("week_start", DATE, "Monday of the ISO week in which the shipments were fully delivered"),
    feature("as_of_date", DATE, "snapshot date D (one of the 13 complete weeks before D): what was known at the end of D"),
    feature("shipments_delivered", LONG, "shipments whose full_delivery_date falls in the week"),
    feature("otif_rate", DOUBLE, "share of them delivered in full on or before promised_date"),
    feature("transit_days_p50", DOUBLE, "median of full_delivery_ts - pickup_ts, days (exact, linear interpolation)"),
    feature("transit_days_p90", DOUBLE, "0.9 quantile of transit days"),
    feature("transit_days_mean", DOUBLE, "mean transit days"),
    feature("transit_days_cv", DOUBLE, "stddev_samp / mean of transit days (null with fewer than 2)"),
    feature("delay_days_mean", DOUBLE, "mean of full_delivery_date - promised_date, signed"),
    feature("exception_rate", DOUBLE, "share of them with an EXCEPTION event"),
])
DESCRIPTION = "Lane (origin, destination, carrier, mode) delivery performance per ISO week, as known on each date."
KEY = tuple(GROUP + ["as_of_date"])
REPORTED_FROM, REPORTED_TO = 7, 97  # week_start + these: the dates on which a week is among the 13 reported


def delivered_window(day: dt.date) -> tuple[dt.date, dt.date]:
    """The full-delivery dates the snapshot of `day` reports on: the 13 complete ISO weeks before it."""
    last_sunday = day - dt.timedelta(days=day.isoweekday())
    return last_sunday - dt.timedelta(days=7 * WEEKS - 1), last_sunday


def build(shipments: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """The lane rows for every as-of date in first..last. shipments: facts.shipment_states."""
    members = (
        shipments.where(F.col("counted") & F.col("full_delivery_date").isNotNull())
        .withColumn("week_start", F.date_trunc("week", F.col("full_delivery_date")).cast("date"))
        .select(
            *GROUP,
            # the dates on which this state is part of its week's row
            F.greatest("known_from", F.date_add("week_start", REPORTED_FROM), F.lit(first)).alias("from_day"),
            F.least(F.coalesce("known_to", F.lit(dt.date(9999, 12, 31))), F.date_add("week_start", REPORTED_TO + 1),
                    F.date_add(F.lit(last), 1)).alias("to_day"),
            "is_otif", "has_exception", "transit_seconds",
            F.datediff("full_delivery_date", "promised_date").alias("delay_days"),
        )
        .where(F.col("from_day") < F.col("to_day"))
    )
    # The days a group's membership changes; each holds until the next.
    points = members.select(*GROUP, F.col("from_day").alias("day")).unionByName(
        members.select(*GROUP, F.col("to_day").alias("day"))
    ).distinct()
    segments = points.withColumn("next_day", F.lead("day").over(Window.partitionBy(*GROUP).orderBy("day"))).where(
        F.col("next_day").isNotNull()
    )
    held = segments.join(members, GROUP).where((F.col("from_day") <= F.col("day")) & (F.col("day") < F.col("to_day")))
    s = F.col("transit_seconds")
    n = F.count(s).cast("double")
    total, squares = F.sum(s).cast("double"), F.sum(s * s).cast("double")
    stats = held.groupBy(*GROUP, "day", "next_day").agg(
        F.count("*").alias("shipments_delivered"),
        ratio(F.sum(F.col("is_otif").cast("long")), F.count("*")).alias("otif_rate"),
        F.percentile(s, [0.5, 0.9]).alias("_q"),
        F.when(n > 0, total / n / 86400).alias("transit_days_mean"),
        F.when(n >= 2, F.sqrt(F.greatest((squares - total * total / n) / (n - 1), F.lit(0.0))) / (total / n)).alias("_cv"),
        ratio(F.sum("delay_days"), F.count("*")).alias("delay_days_mean"),
        ratio(F.sum(F.col("has_exception").cast("long")), F.count("*")).alias("exception_rate"),
    )
    return stats.select(
        *GROUP,
        F.explode(F.sequence("day", F.date_sub("next_day", 1))).alias("as_of_date"),
        "shipments_delivered", "otif_rate",
        (F.col("_q")[0] / 86400).alias("transit_days_p50"),
        (F.col("_q")[1] / 86400).alias("transit_days_p90"),
        "transit_days_mean",
        F.when(F.col("transit_days_mean") != 0, F.col("_cv")).alias("transit_days_cv"),
        "delay_days_mean", "exception_rate",
    )
