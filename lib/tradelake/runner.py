"""The jobs: what `tradelake run <job>` and `spark-submit jobs/<job>.py` execute. Each takes the session
and settings from the caller and logs its run in ops.runs."""
from __future__ import annotations

import datetime as dt
import logging
import time

from pyspark.sql import SparkSession

from tradelake import bronze, ops
from tradelake.config import Settings
from tradelake.contracts import SOURCE_ORDER, SOURCES
from tradelake.silver.pipeline import run_silver_range

log = logging.getLogger(__name__)
# The daily pipeline, in order: a failed `fail` expectation stops it before the next step, so gold is
# only published from data that passed validation.
JOBS = ("ingest", "validate-bronze", "silver", "validate-silver", "features", "validate-gold", "publish")


def run_ingest(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date | None = None,
               sources: list[str] | None = None) -> list[bronze.IngestResult]:
    """Landing -> bronze for the days first..last (default: just first), for every source or only
    `sources` (the Airflow DAG ingests each source in a task of its own)."""
    unknown = sorted(set(sources or ()) - set(SOURCE_ORDER))
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}: choose among {', '.join(SOURCE_ORDER)}")
    last = last or first
    with ops.run_logged(spark, settings, "ingest", first, last) as run_id:
        results = [
            bronze.ingest_source(spark, settings, SOURCES[name], first, last, run_id)
            for name in (sources or SOURCE_ORDER)
        ]
        ops.record_ingest(spark, settings, first, last, run_id, sources or SOURCE_ORDER)
        return results


def run_silver(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date | None = None) -> list[ops.SourceAccount]:
    """Bronze -> silver for the days first..last (default: just first), in one pass."""
    last = last or first
    with ops.run_logged(spark, settings, "silver", first, last) as run_id:
        return run_silver_range(spark, settings, first, last, run_id)


def run_features(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date | None = None) -> str:
    """Silver -> gold feature snapshots for the as-of dates first..last (default: just first)."""
    from tradelake.gold.job import run_features_range

    last = last or first
    with ops.run_logged(spark, settings, "features", first, last):
        how = run_features_range(spark, settings, first, last)
        log.info("features %s..%s computed as %s", first, last, how)
        return how


def run_validate(spark: SparkSession, settings: Settings, layer: str, first: dt.date, last: dt.date | None = None):
    """Validate a layer's tables for the dates (Great Expectations); raises DataQualityError on a failed
    `fail` expectation, after recording every result in ops.dq_results."""
    from tradelake.quality.job import run_validate as validate

    last = last or first
    with ops.run_logged(spark, settings, f"validate-{layer}", first, last) as run_id:
        return validate(spark, settings, layer, first, last, run_id=run_id)


def run_publish(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date | None = None) -> None:
    """Staged gold -> gold for the dates, if it passed validation (tradelake.gold.publish)."""
    from tradelake.gold.publish import publish

    last = last or first
    with ops.run_logged(spark, settings, "publish", first, last):
        publish(spark, settings, first, last)


def run_gold(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date | None = None) -> str:
    """features, validate gold, publish: silver -> gold for the dates."""
    how = run_features(spark, settings, first, last)
    run_validate(spark, settings, "gold", first, last)
    run_publish(spark, settings, first, last)
    return how


RUNNERS = {
    "ingest": run_ingest,
    "validate-bronze": lambda spark, settings, first, last=None: run_validate(spark, settings, "bronze", first, last),
    "silver": run_silver,
    "validate-silver": lambda spark, settings, first, last=None: run_validate(spark, settings, "silver", first, last),
    "features": run_features,
    "validate-gold": lambda spark, settings, first, last=None: run_validate(spark, settings, "gold", first, last),
    "publish": run_publish,
}


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def run_all(spark: SparkSession, settings: Settings, first: dt.date, last: dt.date,
            jobs: tuple[str, ...] = JOBS, days_per_pass: int | None = None) -> dict[str, float]:
    """Every job over first..last inside one Spark application, in chunks of `days_per_pass` days
    (default: the whole range in one pass). Chunks run in date order; each job gives the same tables
    whatever the chunking (tested). Returns the wall seconds spent in each job."""
    days = days_between(first, last)
    step = days_per_pass or len(days)
    seconds = dict.fromkeys(jobs, 0.0)
    for i in range(0, len(days), step):
        chunk = days[i:i + step]
        for job in jobs:
            log.info("== %s %s..%s", job, chunk[0], chunk[-1])
            t0 = time.monotonic()
            RUNNERS[job](spark, settings, chunk[0], chunk[-1])
            seconds[job] += time.monotonic() - t0
    return seconds
