"""Bronze -> silver for a range of ingest dates (a daily run is a range of one day).

For each source (parents first), the batch is the range's bronze rows plus earlier ORPHANs still
waiting (within `silver.orphan_retry_days`). Every record gets the verdict that processing the days one
by one would have given it (see lookups.py for how), then:
  valid, new content     -> MERGEd into silver (insert-only on the content hash; suppliers as SCD2),
                            known from the day it was accepted (`_known_date`)
  exact duplicate        -> ops.duplicates (linked to the record it repeats)
  failed a rule          -> quarantine.records with the first reason
  orphan whose parent came later in the range, or a waiting orphan whose parent has come
                         -> accepted on that day; its quarantine row is marked resolved
Finally each day's accounting is read back from the tables and must balance per source.

Re-running a range recomputes the same verdicts (they depend only on bronze and on silver as known
before the range) and every write is an insert-if-absent or a change-only update, so the tables end
exactly as they were.
"""
from __future__ import annotations

import datetime as dt
import logging
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import ops, tables
from tradelake.config import Settings
from tradelake.contracts import SOURCE_ORDER, SOURCES, Source
from tradelake.pii import pseudonymise, redact_free_text, resolve_key
from tradelake.silver.lookups import (
    fx_calendar,
    fx_rate_on,
    orphan_detail,
    with_batch_clash,
    with_duplicates,
    with_fx,
    with_parent_known_date,
    with_prior_clash,
)
from tradelake.silver.validate import (
    CHECK_PREFIX,
    TYPED_PREFIX,
    failed_before,
    record_hash,
    typed,
    with_reason,
    with_static_checks,
    with_typed_values,
)
from tradelake.silver.versions import with_scd2_columns

log = logging.getLogger(__name__)

ACCEPTED, DUPLICATE, QUARANTINED = "ACCEPTED", "DUPLICATE", "QUARANTINED"


class ProcessingOrderError(RuntimeError):
    pass


# -------------------------------------------------------------------------------------------------
# Pure transforms
# -------------------------------------------------------------------------------------------------
def judge_alone(src: Source):
    """The checks that need nothing but the record: typed values, static checks, content hash."""

    def transform(df: DataFrame) -> DataFrame:
        return (
            df.transform(with_typed_values(src))
            .transform(with_static_checks(src))
            .withColumn("_record_hash", record_hash(src))
        )

    return transform


def judge_in_context(src: Source, prior: DataFrame, fx_cal: DataFrame | None, parents: DataFrame | None,
                     last_day: dt.date, retry_days: int):
    """The checks against what is known, then the verdict.

    prior: silver rows of this source known before the range; fx_cal: fx_calendar of silver fx rates
    known by `last_day`; parents: silver rows of the parent source known by `last_day`.
    Adds `_reason`/`_reason_detail` (the quarantine reason on the judge date, null if none),
    `_accept_on` (the day the record enters silver or, for a duplicate, is found to be one; null if it
    does not within the range), `_duplicate_of` and `_outcome` (ACCEPTED, DUPLICATE or QUARANTINED)."""
    ood = CHECK_PREFIX + "OUT_OF_DOMAIN"

    def transform(df: DataFrame) -> DataFrame:
        out = df.transform(with_prior_clash(src, prior))
        unique_detail = "; ".join(u.describe for u in src.unique) or "key already used"
        out = out.withColumn(ood, F.coalesce(
            F.col(ood), F.when(F.col("__prior_clash") & ~failed_before("OUT_OF_DOMAIN"), F.lit(unique_detail))
        ))
        if src.fx:
            out = out.transform(with_fx(src, fx_cal))
        judge_date = F.col("_judge_date")
        accept_on = judge_date
        if src.parent:
            out = out.transform(with_parent_known_date(src, parents))
            # greatest() skips nulls: an unknown parent must leave the record without a date.
            accept_on = F.when(F.col("__parent_known").isNotNull(), F.greatest(judge_date, F.col("__parent_known")))
        passes_so_far = ~failed_before("ORPHAN")  # every check but ORPHAN, as judged on the judge date
        out = out.withColumn(
            "__accept_on",
            F.when(
                passes_so_far
                & (accept_on <= F.lit(last_day))
                & (F.datediff(accept_on, F.col("_ingest_date")) <= retry_days),
                accept_on,
            ),
        ).withColumn("__eligible", F.col("__accept_on").isNotNull())
        out = out.transform(with_batch_clash(src)) if src.unique else out.withColumn("__clash_on", F.lit(None).cast("date"))
        out = out.transform(with_duplicates(prior))

        clash_when_judged = F.coalesce(F.col("__clash_on") <= judge_date, F.lit(False))
        out = out.withColumn(ood, F.coalesce(
            F.col(ood), F.when(clash_when_judged & ~failed_before("OUT_OF_DOMAIN"), F.lit(unique_detail))
        ))
        if src.parent:
            unknown_then = F.col("__parent_known").isNull() | (F.col("__parent_known") > judge_date)
            out = out.withColumn(
                CHECK_PREFIX + "ORPHAN", F.when(unknown_then & ~failed_before("ORPHAN"), orphan_detail(src))
            )
        out = out.transform(with_reason)
        # Accepted unless it lost its key to a record accepted first (then an orphan keeps waiting).
        final_on = F.when(F.col("__eligible") & F.col("__clash_on").isNull() & ~clash_when_judged, F.col("__accept_on"))
        return (
            out.withColumn("_accept_on", final_on)
            .withColumn("_duplicate_of", F.when(final_on.isNotNull(), F.col("__dup_of")))
            .withColumn(
                "_outcome",
                F.when(F.col("_accept_on").isNull(), F.lit(QUARANTINED))
                .when(F.col("_duplicate_of").isNotNull(), F.lit(DUPLICATE))
                .otherwise(F.lit(ACCEPTED)),
            )
        )

    return transform


def to_silver_rows(src: Source, pii_key: bytes, run_id: str):
    """Accepted records in the silver table's shape (PII hashed, USD amounts, lineage)."""

    def transform(df: DataFrame) -> DataFrame:
        cols: list[Column] = []
        for f in src.fields:
            if f.pii:
                cols.append(pseudonymise(F.col(f.name), f.pii, pii_key).alias(f.silver_name))
            else:
                cols.append(F.col(TYPED_PREFIX + f.name).alias(f.name))
        if src.fx:
            rate = fx_rate_on(F.col("__fx_candidates"), F.col("_accept_on"))
            cols.append(rate.alias(src.fx.rate_column))
            for a in src.fx.amounts:
                cols.append((typed(a) * rate).alias(f"{a}_usd"))
        if src.scd2:
            cols += [F.lit(None).cast("timestamp").alias(c) for c in ("valid_from", "valid_to")]
            cols.append(F.lit(None).cast("boolean").alias("is_current"))
        cols += [
            F.col("_record_id"),
            F.col("_record_hash"),
            F.col("_ingest_date").alias("_source_ingest_date"),
            F.col("_accept_on").alias("_known_date"),
            F.col("_source_file"),
            F.lit(run_id).alias("_run_id"),
        ]
        return df.select(*cols).transform(lambda d: tables.conform(d, tables.silver(src.name)))

    return transform


def raw_record_text(src: Source, pii_key: bytes) -> Column:
    """The record as read, for people reviewing quarantine: PII hashed, e-mails in raw lines masked."""
    fields = [
        (pseudonymise(F.col(f.name), f.pii, pii_key) if f.pii else F.col(f.name)).alias(f.name)
        for f in src.fields
    ]
    as_json = F.to_json(F.struct(*fields, F.col("_extra_fields")))
    return F.when(F.col("_corrupt_record").isNotNull(), redact_free_text(F.col("_corrupt_record"))).otherwise(as_json)


def to_quarantine_rows(src: Source, pii_key: bytes, run_id: str):
    def transform(df: DataFrame) -> DataFrame:
        return df.select(
            F.lit(src.name).alias("source"),
            F.col("_ingest_date").alias("ingest_date"),
            F.col("_record_id").alias("record_id"),
            F.col("_reason").alias("reason_code"),
            F.col("_reason_detail").alias("reason_detail"),
            raw_record_text(src, pii_key).alias("raw_record"),
            F.col("_source_file").alias("source_file"),
            F.lit(run_id).alias("run_id"),
            F.current_timestamp().alias("quarantined_at"),
            F.col("_accept_on").alias("resolved_date"),
            F.when(F.col("_accept_on").isNotNull(), F.col("_outcome")).alias("resolution"),
            F.when(F.col("_accept_on").isNotNull(), F.lit(run_id)).alias("resolved_run_id"),
        )

    return transform


# -------------------------------------------------------------------------------------------------
# Reads (edges)
# -------------------------------------------------------------------------------------------------
def load_batch(spark: SparkSession, settings: Settings, src: Source, first: dt.date, last: dt.date) -> DataFrame:
    """The range's bronze rows plus earlier orphans of this source still waiting for their parent, each
    with its judge date (see lookups.py)."""
    bronze = tables.read(spark, settings, tables.bronze(src.name))
    first_retry_day = first - dt.timedelta(days=settings.silver.orphan_retry_days)
    pending = (
        tables.read(spark, settings, tables.QUARANTINE)
        .where(
            (F.col("source") == src.name)
            & (F.col("reason_code") == "ORPHAN")
            & (F.col("ingest_date") < F.lit(first))
            & (F.col("ingest_date") >= F.lit(first_retry_day))
            & (F.col("resolved_date").isNull() | (F.col("resolved_date") >= F.lit(first)))
        )
        .select(F.col("record_id").alias("_record_id"), F.col("ingest_date").alias("_ingest_date"))
    )
    retries = bronze.where(
        (F.col("_ingest_date") < F.lit(first)) & (F.col("_ingest_date") >= F.lit(first_retry_day))
    ).join(pending, ["_record_id", "_ingest_date"], "left_semi")
    fresh = bronze.where(F.col("_ingest_date").between(F.lit(first), F.lit(last)))
    return fresh.select("*", F.lit(False).alias("_is_retry"), F.col("_ingest_date").alias("_judge_date")).unionByName(
        retries.select("*", F.lit(True).alias("_is_retry"), F.lit(first).alias("_judge_date"))
    )


def silver_known(spark: SparkSession, settings: Settings, source_name: str, *, before: dt.date | None = None,
                 by: dt.date | None = None) -> DataFrame:
    df = tables.read(spark, settings, tables.silver(source_name))
    if before is not None:
        df = df.where(F.col("_known_date") < F.lit(before))
    if by is not None:
        df = df.where(F.col("_known_date") <= F.lit(by))
    return df


def write_silver(spark: SparkSession, settings: Settings, src: Source, rows: DataFrame) -> None:
    table = tables.silver(src.name)
    target = tables.ensure_table(spark, settings, table)
    if not src.scd2:
        ops.insert_new(spark, settings, table, rows, ["_record_hash"])
        return
    # SCD2: recompute valid_from/valid_to/is_current over all versions of the touched keys.
    keys = list(src.key)
    existing = tables.read(spark, settings, table).join(rows.select(*keys).distinct(), keys, "left_semi")
    versions = (
        existing.unionByName(rows.join(existing.select("_record_hash"), "_record_hash", "left_anti"))
        .transform(with_scd2_columns(keys, src.version_column))
        .transform(lambda d: tables.conform(d, table))
    )
    (
        target.alias("t")
        .merge(versions.alias("s"), "t._record_hash = s._record_hash")
        .whenMatchedUpdate(
            condition="NOT (t.valid_to <=> s.valid_to) OR NOT (t.is_current <=> s.is_current) "
                      "OR NOT (t.valid_from <=> s.valid_from)",
            set={"valid_from": "s.valid_from", "valid_to": "s.valid_to", "is_current": "s.is_current"},
        )
        .whenNotMatchedInsertAll()
        .execute()
    )


def write_quarantine(spark: SparkSession, settings: Settings, new_rows: DataFrame | None,
                     resolutions: DataFrame | None) -> None:
    """One MERGE for the day: insert newly quarantined records, mark re-tried orphans resolved (once)."""
    target = tables.ensure_table(spark, settings, tables.QUARANTINE)
    schema = tables.QUARANTINE.schema
    parts = []
    if new_rows is not None:
        parts.append(tables.conform(new_rows, tables.QUARANTINE).withColumn("__kind", F.lit("new")))
    if resolutions is not None:
        parts.append(resolutions.select(
            *[
                (F.col(f.name) if f.name in resolutions.columns else F.lit(None).cast(f.dataType)).alias(f.name)
                for f in schema.fields
            ],
            F.lit("resolve").alias("__kind"),
        ))
    source = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    (
        target.alias("t")
        .merge(source.alias("s"), "t.record_id = s.record_id AND t.source = s.source")
        .whenMatchedUpdate(
            condition="s.__kind = 'resolve' AND t.resolved_date IS NULL",
            set={"resolved_date": "s.resolved_date", "resolution": "s.resolution", "resolved_run_id": "s.resolved_run_id"},
        )
        .whenNotMatchedInsert(condition="s.__kind = 'new'", values={f.name: f"s.{f.name}" for f in schema.fields})
        .execute()
    )


# -------------------------------------------------------------------------------------------------
# The job step
# -------------------------------------------------------------------------------------------------
def check_processing_order(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> None:
    """Knowledge only grows forward: a day may be processed for the first time only after every day
    already processed. Re-running processed days is always allowed."""
    done = ops.processed_dates(spark, settings, "silver")
    if not done:
        return
    latest = max(done)
    day = first
    while day <= last:
        if day not in done and day < latest:
            raise ProcessingOrderError(
                f"silver for {day} cannot run: {latest} is already processed and days must be processed in "
                "order (a record's verdict depends on what was known before it). Re-running processed days is fine."
            )
        day += dt.timedelta(days=1)


def run_silver_range(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date,
                     run_id: str) -> list[ops.SourceAccount]:
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    check_processing_order(spark, settings, first, last)
    pii_key = resolve_key(settings.pii)
    retry_days = settings.silver.orphan_retry_days
    for t in [tables.QUARANTINE, tables.DUPLICATES] + [tables.silver(s) for s in SOURCE_ORDER]:
        tables.ensure_table(spark, settings, t)

    quarantined, resolutions, duplicates, judged = [], [], [], []
    for name in SOURCE_ORDER:
        src = SOURCES[name]
        prior = silver_known(spark, settings, name, before=first)
        # Parents and FX rates are read after they were written for this range: known by its last day.
        fx_cal = fx_calendar(silver_known(spark, settings, "fx_rates", by=last)) if src.fx else None
        parents = silver_known(spark, settings, src.parent.source, by=last) if src.parent else None
        # Materialised twice: the lookups join against a small, already-judged batch, and every write
        # below reads the same verdicts.
        alone = load_batch(spark, settings, src, first, last).transform(judge_alone(src)).localCheckpoint()
        verdicts = alone.transform(
            judge_in_context(src, prior, fx_cal, parents, last, retry_days)
        ).localCheckpoint()
        judged += [alone, verdicts]
        tally = {
            (r["_is_retry"], r["_outcome"], r["q"]): r["n"]
            for r in verdicts.groupBy("_is_retry", "_outcome", F.col("_reason").isNotNull().alias("q"))
            .agg(F.count("*").alias("n")).collect()
        }
        log.debug("silver %s %s..%s verdicts: %s", name, first, last, tally)

        def has(retry: bool | None = None, outcome: str | None = None, q: bool | None = None, tally=tally) -> bool:
            return any(
                n for (r_, o_, q_), n in tally.items()
                if (retry is None or r_ == retry) and (outcome is None or o_ == outcome) and (q is None or q_ == q)
            )

        fresh, retry = ~F.col("_is_retry"), F.col("_is_retry")
        if has(outcome=ACCEPTED):
            write_silver(spark, settings, src, verdicts.where(F.col("_outcome") == ACCEPTED)
                         .transform(to_silver_rows(src, pii_key, run_id)))
        if has(retry=False, q=True):
            quarantined.append(verdicts.where(fresh & F.col("_reason").isNotNull())
                               .transform(to_quarantine_rows(src, pii_key, run_id)))
        if has(retry=True, outcome=ACCEPTED) or has(retry=True, outcome=DUPLICATE):
            resolutions.append(verdicts.where(retry & F.col("_accept_on").isNotNull()).select(
                F.lit(name).alias("source"),
                F.col("_record_id").alias("record_id"),
                F.col("_accept_on").alias("resolved_date"),
                F.col("_outcome").alias("resolution"),
                F.lit(run_id).alias("resolved_run_id"),
            ))
        if has(retry=False, outcome=DUPLICATE, q=False):
            duplicates.append(verdicts.where(fresh & F.col("_reason").isNull() & (F.col("_outcome") == DUPLICATE)).select(
                F.lit(name).alias("source"),
                F.col("_ingest_date").alias("ingest_date"),
                F.col("_record_id").alias("record_id"),
                F.col("_duplicate_of").alias("duplicate_of"),
                F.lit(run_id).alias("run_id"),
            ))

    if quarantined or resolutions:
        write_quarantine(spark, settings, _union_or_none(quarantined), _union_or_none(resolutions))
    if duplicates:
        ops.insert_new(spark, settings, tables.DUPLICATES, reduce(DataFrame.unionByName, duplicates), ["source", "record_id"])
    accounts = ops.count_silver(spark, settings, first, last)
    for v in judged:
        v.unpersist()
    # A day's line each for a short run; a long backfill logs one line per source (its days: ops.accounting).
    long_run = (last - first).days >= 7
    summed: dict[str, list[int]] = {}
    for a in accounts:
        counts = [a.records_read, a.accepted, a.quarantined, a.duplicates, a.orphans_retried, a.orphans_resolved]
        (log.debug if long_run else log.info)(
            "silver %s %s: read %d, accepted %d, quarantined %d, duplicates %d, orphans retried %d resolved %d",
            a.source, a.ingest_date, *counts)
        summed[a.source] = [x + y for x, y in zip(summed.get(a.source, [0] * 6), counts, strict=True)]
    if long_run:
        for source, counts in summed.items():
            log.info("silver %s %s..%s: read %d, accepted %d, quarantined %d, duplicates %d, orphans retried %d "
                     "resolved %d (each day: ops.accounting)", source, first, last, *counts)
    ops.record_silver(spark, settings, run_id, accounts)
    return accounts


def _union_or_none(frames: list[DataFrame]) -> DataFrame | None:
    return reduce(DataFrame.unionByName, frames) if frames else None
