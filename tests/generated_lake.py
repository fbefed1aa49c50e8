"""The generated lakehouse, built once per test run (the session fixture `generated_lake` in conftest.py) for
test_generated_end_to_end (the manifest, re-runs, PII, data quality) and test_gold_pipeline (Spark against
DuckDB, past snapshots, daily steps).

420 days at small volume (12,000 transactions, 40 suppliers, 300 buyers, every defect of the generator):
long enough that records leave every window - the 365-day ones included - and that default labels exist
(a label of D is computed on D + 180). It arrives in two halves, as it would in production:

1. days FIRST..MID, the whole pipeline in one pass (ingest, validation, silver, features, publish);
2. the gold snapshots of MID and of MID - 180 (which has labels) are kept, to compare with later;
3. days MID+1..LAST through ingest, silver and their validations;
4. gold for MID+1 as a daily step, then MID+2..LAST in one pass.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from conftest import settings_for
from pyspark.sql import functions as F

from tradelake import runner, tables
from tradelake.config import Settings

FIRST = dt.date(2026, 1, 1)  # generator.start_date
DAYS = 420
LAST = FIRST + dt.timedelta(days=DAYS - 1)
MID = FIRST + dt.timedelta(days=249)
TRANSACTIONS = 12_000
OVERRIDES = [f"generator.days={DAYS}", f"generator.transactions={TRANSACTIONS}", "generator.suppliers=40",
             "generator.buyers=300"]
GOLD = [t.name for t in tables.GOLD_TABLES]


@dataclass
class GeneratedLake:
    settings: Settings
    manifest: dict
    mid_before: dict[str, pd.DataFrame]  # the gold of MID and MID - 180 as first published
    step: str                             # how MID+1 was computed ("daily" or "range")


def gold_slice(spark, s: Settings, name: str, dates: list[dt.date]) -> pd.DataFrame:
    """A gold table's rows of some as-of dates, in key order."""
    t = tables.GOLD[name]
    key = [f.name for f in t.schema.fields][: (6 if name == "lane_performance" else 2)]
    df = tables.read(spark, s, t).where(F.col("as_of_date").isin(dates)).toPandas()
    return df.sort_values(key).reset_index(drop=True)


def build(spark, root: Path) -> GeneratedLake:
    from tradelake.generate import generate

    s = settings_for(root, *OVERRIDES)
    manifest = generate(spark, s)
    runner.run_all(spark, s, FIRST, MID)
    mid_before = {n: gold_slice(spark, s, n, [MID, MID - dt.timedelta(days=180)]) for n in GOLD}
    runner.run_all(spark, s, MID + dt.timedelta(days=1), LAST,
                   jobs=("ingest", "validate-bronze", "silver", "validate-silver"))
    step = runner.run_gold(spark, s, MID + dt.timedelta(days=1))
    runner.run_gold(spark, s, MID + dt.timedelta(days=2), LAST)
    return GeneratedLake(s, manifest, mid_before, step)
