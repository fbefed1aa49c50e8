"""Gold read without Spark - delta-rs (`deltalake`), pandas, DuckDB - gives exactly what Spark reads
(docs/reading_without_spark.md)."""
from __future__ import annotations

import datetime as dt

import deltalake
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import functions as F

from tradelake import analysis, tables

# On the Olist lakehouse (built once per run, shared with test_real_data): two years of every gold table.
pytestmark = [pytest.mark.slow, pytest.mark.real_data]
GOLD = [t.name for t in tables.GOLD_TABLES]


@pytest.fixture(scope="module")
def lake(olist_lake):
    return olist_lake


def _plain(t: pa.Table) -> pa.Table:
    """Strings as plain Arrow strings (readers differ between string, large_string and string_view),
    rows in a fixed order."""
    t = t.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                                   or pa.types.is_string_view(f.type) else f.type) for f in t.schema]))
    return t.sort_by([(name, "ascending") for name in t.column_names])


@pytest.mark.parametrize("name", GOLD)
def test_deltalake_reads_what_spark_reads(spark, lake, name):
    table = tables.GOLD[name]
    path = table.path(lake)
    delta_rs = deltalake.DeltaTable(path)
    everything = delta_rs.to_pyarrow_table()
    sdf = spark.read.format("delta").load(path)
    assert everything.num_rows == sdf.count() > 0, f"{name}: the comparison would mean nothing on an empty table"
    # compared in slices of as-of dates of about 200,000 rows: Spark hands each slice over whole
    dates = sorted(set(everything.column("as_of_date").to_pylist()))
    for chunk in np.array_split(dates, everything.num_rows // 200_000 + 1):
        lo, hi = chunk[0], chunk[-1]
        got = _plain(everything.filter((pc.field("as_of_date") >= lo) & (pc.field("as_of_date") <= hi)))
        want = _plain(sdf.where(F.col("as_of_date").between(lo, hi)).toArrow())
        assert got.schema == want.schema
        assert got.equals(want), f"{name} differs for as-of dates {lo}..{hi}"
    # the declarations' comments are in the Delta log, for delta-rs too
    assert delta_rs.metadata().description == table.description
    comments = {f.name: f.metadata.get("comment") for f in delta_rs.schema().fields}
    assert comments == {f.name: f.metadata["comment"] for f in table.schema.fields}
    # only features delta-rs reads (docs/reading_without_spark.md)
    assert delta_rs.protocol().min_reader_version == 1


def test_read_table_gives_pandas_of_a_date_and_a_version(spark, lake):
    path = tables.GOLD["supplier_scorecard"].path(lake)
    sdf = spark.read.format("delta").load(path)
    latest = sdf.agg(F.max("as_of_date")).first()[0]
    got = analysis.read_table(lake.lakehouse_root, "gold", "supplier_scorecard", as_of="latest")
    want = sdf.where(F.col("as_of_date") == F.lit(latest)).toPandas()
    key = ["supplier_id", "as_of_date"]
    assert len(got) == len(want) > 0
    assert got.sort_values(key).reset_index(drop=True).equals(want.sort_values(key).reset_index(drop=True))
    day = latest - dt.timedelta(days=30)
    some = analysis.read_table(lake.lakehouse_root, "gold", "supplier_scorecard", columns=["supplier_id", "otif_rate_90d"],
                               as_of=day.isoformat())
    assert list(some.columns) == ["supplier_id", "otif_rate_90d"]
    assert len(some) == sdf.where(F.col("as_of_date") == F.lit(day)).count() > 0
    # time travel: the first version, as Spark's versionAsOf reads it
    first = analysis.read_table(lake.lakehouse_root, "gold", "supplier_scorecard", version=0)
    assert len(first) == spark.read.format("delta").option("versionAsOf", 0).load(path).count()


def test_duckdb_over_deltalake_equals_spark_sql(spark, lake):
    features = deltalake.DeltaTable(tables.GOLD["buyer_credit_features"].path(lake)).to_pyarrow_dataset()  # noqa: F841
    labels = deltalake.DeltaTable(tables.GOLD["buyer_default_labels"].path(lake)).to_pyarrow_dataset()  # noqa: F841
    got = duckdb.sql("""
        select f.dpd_bucket_now, count(*) as n, sum(l.default_180d) as defaults, sum(f.outstanding_usd) as outstanding
        from features f join labels l using (buyer_id, as_of_date)
        group by 1 order by 1
    """).fetchall()
    spark.read.format("delta").load(tables.GOLD["buyer_credit_features"].path(lake)).createOrReplaceTempView("f")
    spark.read.format("delta").load(tables.GOLD["buyer_default_labels"].path(lake)).createOrReplaceTempView("l")
    want = [tuple(r) for r in spark.sql("""
        select f.dpd_bucket_now, count(*) as n, sum(l.default_180d) as defaults, sum(f.outstanding_usd) as outstanding
        from f join l using (buyer_id, as_of_date)
        group by 1 order by 1
    """).collect()]
    assert [r[:3] for r in got] == [r[:3] for r in want]
    assert sum(r[1] for r in got) > 0
    # the same doubles summed in another order: equal to rounding
    assert [r[3] for r in got] == pytest.approx([r[3] for r in want], rel=1e-12)

