"""The two ways of reading the feature ledger (tradelake.gold.ledger) agree: a day's totals advanced from
the day before's (`touching_before` + `advance`, the daily step) equal the totals a one-pass `series`
gives for that day, on a random ledger of every family, with rows on and around each family's window
edges (an event day exactly D minus a window's length, rows known before their event day, rows known
on D itself)."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from tradelake.gold import ledger, supplier_scorecard
from tradelake.gold.common import (
    held_histogram_quantiles,
    histogram_quantiles,
    sums_by_date,
)
from tradelake.gold.compute import COMPONENTS, LEDGER_SCHEMA

DAY = dt.date(2026, 6, 30)


def _random_ledger(spark, seed: int):
    rnd = random.Random(seed)
    edges = sorted({o + k for o in ledger.offsets(COMPONENTS) for k in (-1, 0, 1)} - {-1})
    rows = []
    for family, comps in ledger.families(COMPONENTS).items():
        for _ in range(120):
            # Mostly on a window's edge as seen from DAY or DAY - 1, else anywhere in the last 400 days.
            back = rnd.choice(edges) if rnd.random() < 0.7 else rnd.randrange(0, 400)
            event_day = DAY - dt.timedelta(days=back)
            known_day = min(DAY, event_day + dt.timedelta(days=rnd.randrange(-20, 40)))
            values = {c.name: None for c in COMPONENTS}
            for c in comps:
                v = rnd.randrange(-3, 6)
                values[c.name] = v if c.kind == "count" else Decimal(v) / 4
            rows.append({"family": family, "entity_id": f"e{rnd.randrange(3)}",
                         "sub_key": "" if comps[0].sub is None else f"s{rnd.randrange(2)}",
                         "event_day": event_day, "known_day": known_day, **values})
    return spark.createDataFrame([tuple(r[f.name] for f in LEDGER_SCHEMA.fields) for r in rows], LEDGER_SCHEMA)


@pytest.mark.parametrize("seed", [1])
def test_a_day_advanced_from_the_day_before_equals_the_one_pass_series(spark, seed):
    rows = _random_ledger(spark, seed).localCheckpoint()
    previous = ledger.series(rows.where(F.col("known_day") < F.lit(DAY)), COMPONENTS, DAY - dt.timedelta(days=1),
                             DAY - dt.timedelta(days=1))
    touching = ledger.touching_before(rows, COMPONENTS, DAY).unionByName(rows.where(F.col("known_day") == F.lit(DAY)))
    # (materialised once each: the plans are large, and the count and the comparison would each run them)
    advanced = ledger.advance(previous, touching, COMPONENTS, DAY).wide(COMPONENTS).localCheckpoint()
    expected = ledger.series(rows, COMPONENTS, DAY, DAY).wide(COMPONENTS).localCheckpoint()
    assert expected.count() > 20  # the scenario is not empty
    assert_df_equality(advanced, expected, ignore_row_order=True, ignore_nullable=True)


def test_touching_reads_each_family_only_on_its_own_window_edges(spark):
    rows = _random_ledger(spark, 3)
    edges = {f: {DAY - dt.timedelta(days=o) for o in ledger.offsets(comps)}
             for f, comps in ledger.families(COMPONENTS).items()}
    expected = sorted((r.family, r.event_day, r.known_day) for r in rows.collect()
                      if r.known_day < DAY and r.event_day in edges[r.family])
    got = sorted((r.family, r.event_day, r.known_day) for r in ledger.touching_before(rows, COMPONENTS, DAY).collect())
    assert len(expected) > 50  # rows on and off each family's edges
    assert got == expected


def test_quantiles_from_held_bins_equal_those_computed_on_every_date(spark):
    """A range's histogram quantiles computed only on the days an entity's bins change
    (common.held_histogram_quantiles, the lanes' way) equal those computed on every date."""
    rnd = random.Random(7)
    comp = ledger.Component("n", fact="shipment", entity="lane", on="week", value=lambda: F.lit(1), start=0, end=40,
                            sub=ledger.SubKey("bin", lambda: F.lit("")))
    first, last = DAY - dt.timedelta(days=30), DAY
    rows = []
    for _ in range(300):
        event_day = DAY - dt.timedelta(days=rnd.randrange(0, 90))
        known_day = event_day + dt.timedelta(days=rnd.choice([0, 0, 1, 5, 20]))
        rows.append((comp.family, f"e{rnd.randrange(4)}", str(100_000 + rnd.randrange(-5, 40)), event_day, known_day,
                     rnd.choice([1, 1, 2, -1])))
    led = spark.createDataFrame(rows, "family string, entity_id string, sub_key string, event_day date, "
                                      "known_day date, n long")
    totals = ledger.series(led, [comp], first, last)
    frame, f0, f1 = totals.held(comp.family)
    qs = {"p50": 0.5, "p90": 0.9}
    from_held = held_histogram_quantiles(frame.where(F.col("n") > 0).withColumnRenamed("n", "value"), qs, f0, f1)
    every_date = histogram_quantiles(totals.of(comp.family).where(F.col("n") > 0).withColumnRenamed("n", "value"), qs)
    assert every_date.select("as_of_date").distinct().count() == 31  # every date of the range has some
    assert_df_equality(from_held, every_date, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("by", ["entity_id", "sub_key"])
def test_sums_from_held_values_equal_those_computed_on_every_date(spark, by):
    """Sums over sub-entities by date computed as steps of a range's held values (common.sums_by_date:
    active buyers, sums of squares, supplier counts) equal those computed on the rows of every date."""
    rows = _random_ledger(spark, 5)
    family = supplier_scorecard._by_name["buyer_gmv_usd_90d"].family
    totals = ledger.series(rows, COMPONENTS, DAY - dt.timedelta(days=60), DAY)
    every_date = ledger.Totals({f: totals.of(f) for f in ledger.families(COMPONENTS)})
    sums = lambda: {"positive": F.when(F.col("buyer_orders_90d") > 0, 1).otherwise(0),
                    "squares": F.col("buyer_gmv_usd_90d") * F.col("buyer_gmv_usd_90d"),
                    "total": F.col("buyer_net_sales_usd_180d")}
    expected = sums_by_date(every_date, family, by, sums())
    assert expected.select("as_of_date").distinct().count() > 40 and expected.where("positive > 0").count() > 20
    assert_df_equality(sums_by_date(totals, family, by, sums()), expected, ignore_row_order=True, ignore_nullable=True)
