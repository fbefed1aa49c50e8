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
    seconds = runner.run_all(spark, settings, first, last)
    t2 = time.monotonic()
    print_summary(spark, settings)
    records = sum(t["records"] for t in manifest["totals"].values())
    validation = sum(v for k, v in seconds.items() if k.startswith("validate"))
    print(f"Generated {records:,} landing records over {g.days} days ({first} .. {last}) in {t1 - t0:.0f}s; "
          f"the pipeline took {t2 - t1:.0f}s: " + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items())
          + f" (validation {validation:.0f}s, {validation / max(t2 - t0, 1e-9):.0%} of the demo's wall time).")
    print(f"Data Docs: {settings.data_docs_dir}/index.html")
    print(f"Query the tables with Spark (spark.read.format('delta').load('{settings.lakehouse_root}/silver/transactions'))"
          " or with DuckDB/deltalake; see README.")
