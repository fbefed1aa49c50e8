"""gold.lane_performance - key (origin_country, destination_country, carrier, mode, week_start,
as_of_date): each lane's deliveries per ISO week, the last 13 complete weeks before D recomputed on
every D (features.md; as_of_date in the key: docs/gold_features.md).

Running totals like the other features (ledger.py): the entity is the lane, the sub-entity the week of
full delivery, and a shipment counts for its week as long as that week can be reported (98 days from
its Monday). Transit-time quantiles come from a histogram per lane and week (within 0.5%).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake.gold.common import (
    DATE,
    DOUBLE,
    LONG,
    NON_NEGATIVE,
    RATE,
    STR,
    feature,
    held_histogram_quantiles,
    histogram_bin,
    histogram_quantiles,
    ratio,
)
from tradelake.gold.facts import LANE_SEP
from tradelake.gold.ledger import Component, SubKey, Totals, window

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
    feature("shipments_delivered", LONG, "shipments whose full_delivery_date falls in the week", NON_NEGATIVE),
    feature("otif_rate", DOUBLE, "share of them delivered in full on or before promised_date", RATE),
    feature("transit_days_p50", DOUBLE, "median of full_delivery_ts - pickup_ts, days (exact, linear interpolation)",
            NON_NEGATIVE),
    feature("transit_days_p90", DOUBLE, "0.9 quantile of transit days", NON_NEGATIVE),
    feature("transit_days_mean", DOUBLE, "mean transit days", NON_NEGATIVE),
    feature("transit_days_cv", DOUBLE, "stddev_samp / mean of transit days (null with fewer than 2)", NON_NEGATIVE),
    feature("delay_days_mean", DOUBLE, "mean of full_delivery_date - promised_date, signed"),
    feature("exception_rate", DOUBLE, "share of them with an EXCEPTION event", RATE),
])
DESCRIPTION = "Lane (origin, destination, carrier, mode) delivery performance per ISO week, as known on each date."
KEY = tuple(GROUP + ["as_of_date"])
# A week is reported on the dates week_start + 7 .. week_start + 97: its shipments count for 98 days.
REPORTED_DAYS = 98
QUANTILES = {"transit_days_p50": 0.5, "transit_days_p90": 0.9}


LANES = dict(fact="shipment", entity="lane", on="delivery_week", **window(REPORTED_DAYS))
WEEK = SubKey("week", lambda: F.col("delivery_week").cast("string"))
WEEK_BIN = SubKey("week_transit_bin", lambda: F.concat_ws(
    LANE_SEP, F.col("delivery_week").cast("string"), histogram_bin(F.col("transit_seconds").cast("double"))))
C = [
    Component("lane_delivered", **LANES, sub=WEEK, value=lambda: F.lit(1),
              doc="shipments fully delivered in the week"),
    Component("lane_otif", **LANES, sub=WEEK, value=lambda: F.col("is_otif")),
    Component("lane_exceptions", **LANES, sub=WEEK, value=lambda: F.col("has_exception")),
    Component("lane_delay_days", **LANES, sub=WEEK,
              value=lambda: F.datediff("full_delivery_date", "promised_date")),
    Component("lane_transits", **LANES, sub=WEEK, value=lambda: F.col("transit_seconds").isNotNull()),
    Component("lane_transit_sum", **LANES, sub=WEEK, kind="seconds", value=lambda: F.col("transit_seconds")),
    Component("lane_transit_sq", **LANES, sub=WEEK, kind="seconds2",
              value=lambda: F.col("transit_seconds") * F.col("transit_seconds")),
    Component("lane_transit_bin", **LANES, sub=WEEK_BIN, value=lambda: F.col("transit_seconds").isNotNull(),
              doc="transit times per histogram bin, per week (quantiles)"),
]
COMPONENTS = C
_by_name = {c.name: c for c in C}


def build(totals: Totals) -> DataFrame:
    """The lane rows of every as-of date in `totals`: the 13 complete ISO weeks before each date."""
    # The last complete week ends on the Sunday before D: D - (weekday + 1), weekday Monday = 0.
    last_sunday = lambda back: F.date_sub("as_of_date", F.weekday("as_of_date") + 1 + back)  # noqa: E731
    reported = F.col("week_start").between(last_sunday(7 * WEEKS - 1), last_sunday(6))
    weeks = (
        totals.of(_by_name["lane_delivered"].family)
        .withColumn("week_start", F.col("sub_key").cast("date"))
        .where(reported & (F.col("lane_delivered") > 0))
    )
    # The bins per (lane, week): entity lane + week, sub-entity the bin.
    def by_week(df: DataFrame, days: list[str]) -> DataFrame:
        return df.select(
            F.concat_ws(LANE_SEP, "entity_id", F.split("sub_key", LANE_SEP)[0]).alias("entity_id"),
            F.split("sub_key", LANE_SEP)[1].alias("sub_key"),
            *days,
            F.col("lane_transit_bin").alias("value"),
        )

    family = _by_name["lane_transit_bin"].family
    held = totals.held(family)
    if held is None:  # a day's totals
        quantiles = histogram_quantiles(by_week(totals.of(family), ["as_of_date"]), QUANTILES, scale=86400.0)
    else:  # a range: quantiles computed on the days a week's bins change
        frame, first, last = held
        quantiles = held_histogram_quantiles(by_week(frame, ["day", "next_day"]), QUANTILES, first, last, scale=86400.0)
    n, s, sq = (F.col(x).cast("double") for x in ("lane_transits", "lane_transit_sum", "lane_transit_sq"))
    mean_s = s / n
    lane = F.split("entity_id", LANE_SEP)
    return (
        weeks.withColumn("_group", F.concat_ws(LANE_SEP, "entity_id", "sub_key"))
        .join(quantiles.withColumnRenamed("entity_id", "_group"), ["_group", "as_of_date"], "left")
        .select(
            lane[0].alias("origin_country"), lane[1].alias("destination_country"), lane[2].alias("carrier"),
            lane[3].alias("mode"), "week_start", "as_of_date",
            F.col("lane_delivered").alias("shipments_delivered"),
            ratio(F.col("lane_otif"), F.col("lane_delivered")).alias("otif_rate"),
            "transit_days_p50", "transit_days_p90",
            F.when(n > 0, mean_s / 86400).alias("transit_days_mean"),
            F.when((n >= 2) & (mean_s != 0),
                   F.sqrt(F.greatest((sq - s * s / n) / (n - 1), F.lit(0.0))) / mean_s).alias("transit_days_cv"),
            ratio(F.col("lane_delay_days"), F.col("lane_delivered")).alias("delay_days_mean"),
            ratio(F.col("lane_exceptions"), F.col("lane_delivered")).alias("exception_rate"),
        )
    )
