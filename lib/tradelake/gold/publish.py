"""`tradelake run publish --date D`: copy the staged gold snapshots of the dates into gold, replacing only
those dates' slices - exactly the staged rows that passed `tradelake run validate --layer gold` for the same
dates: each staged table is read at the Delta version its latest validation for those dates looked at
(`versionAsOf`), so that a write to staging after the validation is never published. When that validation
failed a `fail` expectation, or there is none, nothing is written and the previous gold snapshot stays."""
from __future__ import annotations

import datetime as dt
import logging

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tradelake import tables
from tradelake.config import Settings
from tradelake.gold.job import STAGED_PROPERTY, gold_slice, staged_range
from tradelake.quality.job import table_version
from tradelake.quality.rules import FAIL

log = logging.getLogger(__name__)


class NotValidated(RuntimeError):
    """The staged snapshots have not passed validation: they are not published."""


def _latest_validations(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> dict[str, list]:
    """Per staged table, the outcome rows of its latest gold validation for first..last (one read; a few
    dozen rows per table)."""
    results = tables.read(spark, settings, tables.DQ_RESULTS).where(
        (F.col("layer") == "gold") & (F.col("first_date") == F.lit(first)) & (F.col("last_date") == F.lit(last))
        & F.col("table_name").isin([t.qualified for t in tables.STAGED.values()]))
    latest = results.groupBy("table_name").agg(F.max("validated_at").alias("validated_at"))
    out: dict[str, list] = {}
    for r in (results.join(latest, ["table_name", "validated_at"])
              .select("table_name", "table_version", "severity", "success", "expectation", "column_name").collect()):
        out.setdefault(r["table_name"], []).append(r)
    return out


def check_validated(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> dict[str, int]:
    """The Delta version of each staged table that passed validation for first..last (its latest validation
    for those dates) while staging holds the features run of those dates; raises NotValidated naming every
    table that did not."""
    validations = _latest_validations(spark, settings, first, last)
    problems, versions = [], {}
    for name, staged in tables.STAGED.items():
        holds = DeltaTable.forPath(spark, staged.path(settings)).detail().first()["properties"].get(STAGED_PROPERTY)
        if holds != staged_range(first, last):
            problems.append(f"{staged.qualified} holds {holds or 'no features run'}, not the features of "
                            f"{first}..{last}: run features for these dates first")
            continue
        run = validations.get(staged.qualified)
        if not run:
            problems.append(f"{staged.qualified} has not been validated for {first}..{last}")
            continue
        version = max(r["table_version"] for r in run)
        bad = [f"{r['expectation']}({r['column_name'] or ''})" for r in run if r["severity"] == FAIL and not r["success"]]
        if bad:
            problems.append(f"{staged.qualified} failed validation: {', '.join(bad[:10])}")
            continue
        if version != table_version(spark, settings, staged):
            log.warning("%s changed after its validation for %s..%s: publishing the validated version %d",
                        staged.qualified, first, last, version)
        versions[name] = version
    if problems:
        raise NotValidated("gold not published, the previous snapshots stay in place:\n  " + "\n  ".join(problems))
    return versions


def publish(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date) -> None:
    versions = check_validated(spark, settings, first, last)
    for name, staged in tables.STAGED.items():
        lo, hi = gold_slice(name, first, last)
        where = f"as_of_date >= DATE'{lo.isoformat()}' AND as_of_date <= DATE'{hi.isoformat()}'"
        rows = tables.read_version(spark, settings, staged, versions[name]).where(
            F.col("as_of_date").between(F.lit(lo), F.lit(hi)))
        target = tables.GOLD[name]
        tables.ensure_table(spark, settings, target)
        (tables.conform(rows, target).sortWithinPartitions("as_of_date").write.format("delta").mode("overwrite")
         .option("replaceWhere", where).save(target.path(settings)))
        log.info("published %s %s..%s (staging version %d)", target.qualified, lo, hi, versions[name])
