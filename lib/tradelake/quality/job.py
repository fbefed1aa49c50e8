"""`tradelake run validate --layer bronze|silver|gold --date D`: validate a layer's tables for the dates,
record every expectation's outcome in ops.dq_results, rebuild the Data Docs, and (gold) record feature
drift in ops.feature_drift. A failed `fail` expectation raises DataQualityError after everything is
recorded: the pipeline stops there, and gold is not published.

Gold is validated in staging (tables.STAGED), before `tradelake run publish` copies it into gold.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import ops, tables
from tradelake.config import Settings
from tradelake.contracts import SOURCES
from tradelake.quality import drift, frames, rules
from tradelake.quality.rules import FAIL, Suite

log = logging.getLogger(__name__)


class DataQualityError(RuntimeError):
    """A `fail` expectation did not hold: the data must not go further."""


@dataclass
class Outcome:
    run_id: str
    rows: list[dict]
    data_docs: str | None

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.rows if r["severity"] == FAIL and not r["success"]]

    @property
    def warnings(self) -> list[dict]:
        return [r for r in self.rows if r["severity"] != FAIL and not r["success"]]


def table_version(spark: SparkSession, settings: Settings, table: tables.TableDef) -> int:
    return DeltaTable.forPath(spark, table.path(settings)).history(1).first()["version"]


def _gold_frames(spark: SparkSession, settings: Settings, name: str, first: dt.date, last: dt.date
                 ) -> tuple[tables.TableDef, int, DataFrame, DataFrame]:
    from tradelake.gold.job import gold_slice

    lo, hi = gold_slice(name, first, last)
    staged_table = tables.STAGED[name]
    tables.ensure_table(spark, settings, staged_table)
    # The version recorded is the version read: publish copies exactly that one (tradelake.gold.publish).
    version = table_version(spark, settings, staged_table)
    staged = tables.read_version(spark, settings, staged_table, version).where(
        F.col("as_of_date").between(F.lit(lo), F.lit(hi)))
    published = tables.read(spark, settings, tables.GOLD[name]).where(F.col("as_of_date") < F.lit(lo))
    daily = frames.daily(published.unionByName(staged), "as_of_date", lo, hi, settings.quality.volume_window_days)
    return staged_table, version, staged, daily


def _frames(spark: SparkSession, settings: Settings, layer: str, table: tables.TableDef, first: dt.date,
            last: dt.date) -> tuple[tables.TableDef, int, DataFrame, DataFrame]:
    """(the table actually read, its Delta version, its rows frame, its daily frame)."""
    if layer == "gold":
        return _gold_frames(spark, settings, table.name, first, last)
    src = SOURCES[table.name]
    if layer == "bronze":
        rows, daily = frames.bronze_rows(spark, settings, src, first, last), frames.bronze_daily(spark, settings, src, first, last)
    else:
        rows, daily = frames.silver_rows(spark, settings, src, first, last), frames.silver_daily(spark, settings, src, first, last)
    return table, table_version(spark, settings, table), rows, daily


def run_validate(spark: SparkSession, settings: Settings, layer: str, first: dt.date, last: dt.date,
                 run_id: str | None = None, raise_on_failure: bool = True) -> Outcome:
    from tradelake.quality.gx import Project

    run_id = run_id or ops.new_run_id(f"validate-{layer}", first)
    project = Project(settings)
    validated_at = dt.datetime.now(dt.UTC)
    by_table: dict[str, list[Suite]] = {}
    for suite in rules.suites(layer, settings):
        by_table.setdefault(suite.table.qualified, []).append(suite)
    out: list[dict] = []
    for suites in by_table.values():
        read, version, rows, daily = _frames(spark, settings, layer, suites[0].table, first, last)
        rows = rows.cache()
        daily = daily.cache()
        try:
            for suite in suites:
                t0 = time.monotonic()
                results = project.validate(suite, daily if suite.daily else rows, run_id)
                log.info("validated %s: %d expectations in %.1fs", suite.name, len(results), time.monotonic() - t0)
                for r in results:
                    out.append({**r, "suite": suite.name, "table_name": read.qualified, "table_version": version})
        finally:
            rows.unpersist()
            daily.unpersist()
    if layer == "gold":
        out += _drift(spark, settings, project, first, last, run_id)
    meta = {"run_id": run_id, "validated_at": validated_at, "layer": layer, "first_date": first, "last_date": last}
    record = [{**meta, **r} for r in out]
    tables.ensure_table(spark, settings, tables.DQ_RESULTS)
    spark.createDataFrame(record, tables.DQ_RESULTS.schema).write.format("delta").mode("append").save(
        tables.DQ_RESULTS.path(settings))
    docs = project.build_data_docs() if settings.quality.build_data_docs else None
    outcome = Outcome(run_id, record, docs)
    for w in outcome.warnings:
        log.warning("data quality warning: %s %s %s(%s): %s unexpected", w["table_name"], w["suite"], w["expectation"],
                    w["column_name"] or "", w["unexpected_count"] if w["unexpected_count"] is not None else w["observed_value"])
    if outcome.failures and raise_on_failure:
        lines = [f"{f['table_name']}: {f['expectation']}({f['column_name'] or ''}) "
                 f"{f['unexpected_count'] if f['unexpected_count'] is not None else f['observed_value']} unexpected"
                 for f in outcome.failures]
        raise DataQualityError(f"{layer} {first}..{last} failed {len(lines)} expectation(s) of severity fail "
                               f"(run {run_id}; see ops.dq_results and {docs}):\n  " + "\n  ".join(lines[:20]))
    return outcome


DRIFT_SUITE = "gold.feature_drift"


def _drift(spark: SparkSession, settings: Settings, project, first: dt.date, last: dt.date, run_id: str) -> list[dict]:
    """PSI of every numeric feature of each staged snapshot against the one drift_reference_days earlier
    (published gold, or staging when that date is staged too); written to ops.feature_drift and checked
    by a warn-level suite (a shift is a warning)."""
    from tradelake.gold.job import gold_slice

    q = settings.quality
    parts = []
    for t in tables.GOLD_TABLES:
        if t.name == "buyer_default_labels":
            continue  # labels, not features
        lo, hi = gold_slice(t.name, first, last)
        ref_lo, ref_hi = lo - dt.timedelta(days=q.drift_reference_days), hi - dt.timedelta(days=q.drift_reference_days)
        staged = tables.read(spark, settings, tables.STAGED[t.name])
        current = staged.where(F.col("as_of_date").between(F.lit(lo), F.lit(hi)))
        reference = (tables.read(spark, settings, t).where(F.col("as_of_date").between(F.lit(ref_lo), F.lit(ref_hi))
                                                           & (F.col("as_of_date") < F.lit(lo)))
                     .unionByName(staged.where(F.col("as_of_date").between(F.lit(ref_lo), F.lit(ref_hi)))))
        key = rules.GOLD_KEYS[t.name]
        parts.append(drift.psi(current, reference, drift.numeric_features(t.schema, key), q.drift_reference_days,
                               q.drift_bins).withColumn("table_name", F.lit(t.qualified)))
    result = parts[0]
    for p in parts[1:]:
        result = result.unionByName(p)
    result = result.withColumn("run_id", F.lit(run_id)).localCheckpoint()
    ops.merge_if_changed(spark, settings, tables.FEATURE_DRIFT, result, ["table_name", "feature", "as_of_date"],
                         ["reference_date", "psi", "verdict", "rows_current", "rows_reference"])
    suite = Suite(DRIFT_SUITE, tables.FEATURE_DRIFT, rules.DRIFT_RULES)
    version = table_version(spark, settings, tables.FEATURE_DRIFT)
    return [{**r, "suite": suite.name, "table_name": tables.FEATURE_DRIFT.qualified, "table_version": version}
            for r in project.validate(suite, result, run_id)]
