"""`make demo`: generate the landing zone (reused when already there), run every job over all its
days, and print what was built."""
from __future__ import annotations

import datetime as dt
import logging
import time

from pyspark.sql import SparkSession

from tradelake import runner
from tradelake.config import Settings
from tradelake.generate import generate
from tradelake.summary import print_summary

log = logging.getLogger(__name__)


def run_demo(spark: SparkSession, settings: Settings) -> None:
    g = settings.generator
    t0 = time.monotonic()
    manifest = generate(spark, settings)
    t1 = time.monotonic()
    first, last = g.start_date, g.start_date + dt.timedelta(days=g.days - 1)
    runner.run_all(spark, settings, first, last)
    t2 = time.monotonic()
    print_summary(spark, settings)
    records = sum(t["records"] for t in manifest["totals"].values())
    print(f"Generated {records:,} landing records over {g.days} days ({first} .. {last}) in {t1 - t0:.0f}s; "
          f"ingest + silver + features took {t2 - t1:.0f}s.")
    print(f"Query the tables with Spark (spark.read.format('delta').load('{settings.lakehouse_root}/silver/transactions'))"
          " or with DuckDB/deltalake; see README.")
