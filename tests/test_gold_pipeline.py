"""The features job end to end on the generated lakehouse (tests/generated_lake.py: 420 days, 12,000
transactions, two halves):

- Spark's gold tables equal an independent implementation (DuckDB SQL over the silver tables read with
  deltalake, tradelake.crosscheck), feature by feature - within 1e-6 relative, quantiles within 1% - on
  dates where records have left every window, the 365-day ones included, and on labels with defaults;
- a past snapshot recomputed after more data has arrived is unchanged, its default labels included;
- a daily incremental step gives exactly what a one-pass computation of the same date gives;
- re-running a day changes nothing.
"""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from generated_lake import FIRST, GOLD, LAST, MID, TRANSACTIONS, gold_slice
from pyspark.sql import functions as F

from tradelake import runner, tables
from tradelake.crosscheck.duckdb_features import compute_features
from tradelake.gold import compute
from tradelake.gold.job import read_silver

pytestmark = pytest.mark.slow

QUANTILES = {"lead_time_p90_90d", "transit_days_p50", "transit_days_p90"}  # Spark: from histograms (within 0.5%)
_slice = gold_slice


@pytest.fixture(scope="module")
def lake(generated_lake):
    return generated_lake.settings, generated_lake.mid_before, generated_lake.step


def test_the_data_is_big_enough(spark, lake):
    s, _, _ = lake
    n = tables.read(spark, s, tables.silver("transactions")).select("txn_id").distinct().count()
    assert n >= TRANSACTIONS * 0.97  # a few are quarantined


def test_a_daily_step_was_incremental_and_equals_one_pass(spark, lake):
    s, _, step = lake
    assert step == "daily"
    first = last = MID + dt.timedelta(days=1)
    gold, _, _ = compute.compute_range(read_silver(spark, s), first, last)
    for name in GOLD[:4]:
        t = tables.GOLD[name]
        stored = tables.read(spark, s, t).where(F.col("as_of_date").between(F.lit(first), F.lit(last)))
        fresh = tables.conform(getattr(gold, name), t)
        assert stored.count() > 0, name
        assert stored.exceptAll(fresh).count() == 0 and fresh.exceptAll(stored).count() == 0, name


def test_a_past_snapshot_is_unchanged_after_more_data(spark, lake):
    s, before, _ = lake
    runner.run_gold(spark, s, MID)  # recomputed now, with 100 more days of data in silver
    for name in GOLD:
        after = _slice(spark, s, name, [MID, MID - dt.timedelta(days=180)])
        assert len(after) > 0, name  # the labels of MID - 180 too
        pd.testing.assert_frame_equal(after, before[name], check_exact=True, obj=name)


def test_rerunning_a_day_changes_nothing(spark, lake):
    s, _, _ = lake
    before = {n: _slice(spark, s, n, [LAST, LAST - dt.timedelta(days=180)]) for n in GOLD}
    assert runner.run_gold(spark, s, LAST) == "daily"
    for name in GOLD:
        pd.testing.assert_frame_equal(_slice(spark, s, name, [LAST, LAST - dt.timedelta(days=180)]), before[name],
                                      check_exact=True, obj=name)


def _close(a, b, rel: float) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return (a is None or a != a) and (b is None or b != b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
    return a == b


def test_spark_equals_duckdb_feature_by_feature(spark, lake):
    s, _, _ = lake
    # From the first weeks to 55 days after the first orders left the 365-day windows; labels from the start
    # to the last date that has them (LAST - 180).
    dates = [FIRST + dt.timedelta(days=45), MID, MID + dt.timedelta(days=1), FIRST + dt.timedelta(days=380), LAST]
    label_dates = [FIRST + dt.timedelta(days=19), MID - dt.timedelta(days=180), FIRST + dt.timedelta(days=150),
                   LAST - dt.timedelta(days=180)]
    duck = compute_features(s.lakehouse_root, dates, label_dates=label_dates)
    for name in GOLD:
        t = tables.GOLD[name]
        columns = [f.name for f in t.schema.fields]
        key = columns[: (6 if name == "lane_performance" else 2)]
        want = label_dates if name == "buyer_default_labels" else dates
        ours = _slice(spark, s, name, want)
        theirs = duck[name].to_pandas().sort_values(key).reset_index(drop=True)
        assert len(ours) > 0, name
        if name == "buyer_default_labels":
            assert set(ours["as_of_date"]) == set(label_dates) and ours["default_180d"].sum() > 0, "defaults compared"
        assert list(ours[key].astype(str).itertuples(index=False)) == list(theirs[key].astype(str).itertuples(index=False)), \
            f"{name}: different rows"
        mismatches = []
        for col in columns[len(key):]:
            rel = 0.01 if col in QUANTILES else 1e-6
            a = ours[col].astype(object).where(ours[col].notna(), None).tolist()
            b = theirs[col].astype(object).where(theirs[col].notna(), None).tolist()
            bad = [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if not _close(x, y, rel)]
            if bad:
                i, x, y = bad[0]
                mismatches.append(f"{col}: {len(bad)} of {len(a)} differ, e.g. {dict(ours.loc[i, key])}: {x} vs {y}")
        assert not mismatches, f"{name}:\n" + "\n".join(mismatches)
