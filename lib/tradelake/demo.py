"""`make demo`: generate the landing zone (reused when already there), run every job over all its
days, register the tables in the catalog, and print what was built. `make demo-olist`: the same on the
Olist marketplace sample, through tradelake.adapters.olist."""
from __future__ import annotations

import datetime as dt
import logging
import time

from pyspark.sql import SparkSession

from tradelake import catalog, runner
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
    catalog.register_after_run(spark, settings)
    t2 = time.monotonic()
    print_summary(spark, settings)
    records = sum(t["records"] for t in manifest["totals"].values())
    validation = sum(v for k, v in seconds.items() if k.startswith("validate"))
    print(f"Generated {records:,} landing records over {g.days} days ({first} .. {last}) in {t1 - t0:.0f}s; "
          f"the pipeline took {t2 - t1:.0f}s: " + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items())
          + f" (validation {validation:.0f}s, {validation / max(t2 - t0, 1e-9):.0%} of the demo's wall time).")
    print(f"Data Docs: {settings.data_docs_dir}/index.html")
    _how_to_query(settings)


def _how_to_query(settings: Settings) -> None:
    if settings.catalog.implementation == "hive" and settings.catalog.register:
        print("Query the tables by name: spark.sql('SELECT * FROM gold.supplier_scorecard') in a session of "
              "tradelake.spark.build_session, or `make sql` for the Spark SQL shell.")
    print(f"Without Spark: tradelake.analysis.read_table('{settings.lakehouse_root}', 'gold', 'supplier_scorecard'), "
          "or deltalake + DuckDB (docs/reading_without_spark.md); notebooks in notebooks/.")


def run_olist_demo(spark: SparkSession, settings: Settings, source: str) -> None:
    """The Olist sample (source: the folder of its CSVs) through the adapter into the landing zone (reused
    when it already holds this sample), then every job over all its days."""
    from tradelake.adapters.olist import read_olist_landing, write_olist_landing

    t0 = time.monotonic()
    landed = read_olist_landing(spark, settings.landing_root)
    if landed and landed["source"] == str(source):
        first, last = dt.date.fromisoformat(landed["first"]), dt.date.fromisoformat(landed["last"])
        log.info("landing zone %s already holds the Olist sample %s", settings.landing_root, source)
    else:
        first, last = write_olist_landing(spark, str(source), settings.landing_root)
    t1 = time.monotonic()
    seconds = runner.run_all(spark, settings, first, last)
    catalog.register_after_run(spark, settings)
    t2 = time.monotonic()
    print_summary(spark, settings)
    print(f"Olist sample {source} mapped into {settings.landing_root} ({first} .. {last}) in {t1 - t0:.0f}s; "
          f"the pipeline took {t2 - t1:.0f}s: " + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items()) + ".")
    print(f"Data Docs: {settings.data_docs_dir}/index.html")
    _how_to_query(settings)
