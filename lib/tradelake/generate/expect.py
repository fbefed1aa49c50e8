"""What the pipeline must make of the generated landing zone: the manifest tests compare against.

Clean records are accepted on the day they arrive, unless their parent (supplier, transaction,
shipment) is not known yet: then they are ORPHANs, accepted on the day the parent becomes known if that
is within the orphan retry window and the generated period. A parent is known from the day its first
record is accepted. This follows sources.md and features.md, not the pipeline's code.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradelake.contracts import SOURCE_ORDER, SOURCES

ACCEPTED = "ACCEPTED"


def with_accept_dates(clean: dict[str, DataFrame], retry_days: int) -> dict[str, DataFrame]:
    """Adds `_accept_on` (null: still an orphan at the end), `_expect` and `_resolved_on` to each
    source's clean records, parents first."""
    known: dict[str, DataFrame] = {}
    out: dict[str, DataFrame] = {}
    for name in SOURCE_ORDER:
        df = clean[name]
        parent = SOURCES[name].parent
        if parent is None:
            accept = F.col("_ingest_date")
        else:
            k = known[parent.source].withColumnRenamed("_key", "__pk")
            df = df.join(k, F.col("_parent") == F.col("__pk"), "left").drop("__pk")
            on = F.when(F.col("__known").isNotNull(), F.greatest("_ingest_date", "__known"))
            accept = F.when(F.datediff(on, F.col("_ingest_date")) <= retry_days, on)
            df = df.withColumn("_accept_on", accept).drop("__known")
        if "_accept_on" not in df.columns:
            df = df.withColumn("_accept_on", accept)
        df = df.select(
            "*",
            F.when(F.col("_accept_on") == F.col("_ingest_date"), F.lit(ACCEPTED)).otherwise(F.lit("ORPHAN")).alias("_expect"),
            F.when(F.col("_accept_on") > F.col("_ingest_date"), F.col("_accept_on")).alias("_resolved_on"),
        )
        out[name] = df
        known[name] = (
            df.where(F.col("_accept_on").isNotNull() & F.col("_key").isNotNull())
            .groupBy("_key")
            .agg(F.min("_accept_on").alias("__known"))
        )
    return out


def manifest_counts(lines: DataFrame) -> DataFrame:
    """(source, ingest_date, expect, resolved_on) -> records: everything the manifest says."""
    return lines.groupBy("_source", "_ingest_date", "_expect", "_resolved_on").agg(F.count("*").alias("n"))


def summarise(rows: list, drift: dict[str, list[str]]) -> dict:
    """The manifest document from the aggregated rows (small: sources x days x outcomes)."""
    per_day: dict = {}
    totals: dict = {}
    resolved: dict = {}
    for r in rows:
        src, day, expect, res, n = r["_source"], r["_ingest_date"].isoformat(), r["_expect"], r["_resolved_on"], r["n"]
        d = per_day.setdefault(src, {}).setdefault(day, {"records": 0, "accepted": 0, "duplicates": 0, "quarantined": {}})
        t = totals.setdefault(src, {"records": 0, "accepted": 0, "duplicates": 0, "quarantined": {}, "orphans_resolved": 0})
        for bucket in (d, t):
            bucket["records"] += n
            if expect == ACCEPTED:
                bucket["accepted"] += n
            elif expect == "DUPLICATE":
                bucket["duplicates"] += n
            else:
                bucket["quarantined"][expect] = bucket["quarantined"].get(expect, 0) + n
        if res is not None:
            t["orphans_resolved"] += n
            resolved.setdefault(src, {})
            resolved[src][res.isoformat()] = resolved[src].get(res.isoformat(), 0) + n
    return {"totals": totals, "per_day": per_day, "orphans_resolved_per_day": resolved, "schema_drift": drift}
