"""The training-set builder (tradelake.gold.training, `tradelake training-set`): buyer features joined to
their default labels on (buyer_id, as_of_date) for a range of as-of dates."""
from __future__ import annotations

import datetime as dt
import json

import deltalake
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from chispa import assert_df_equality

from tradelake import cli, tables
from tradelake.gold.training import join_labels

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


def test_join_keeps_only_labelled_rows_and_adds_the_label(spark):
    features = spark.createDataFrame(
        [("B1", D1, 1.5), ("B1", D2, 2.5), ("B2", D1, 0.0)],
        "buyer_id string, as_of_date date, dpd_avg_90d double")
    labels = spark.createDataFrame(
        [("B1", D1, 0, dt.date(2026, 8, 28)),   # labelled: kept with its label
         ("B2", D1, 1, dt.date(2026, 8, 28)),   # a default: kept
         ("B3", D1, 1, dt.date(2026, 8, 28))],  # a label without features: not a training row
        "buyer_id string, as_of_date date, default_180d int, label_date date")
    # (B1, D2) has no label - too recent, or the buyer already in default at D2 - and is left out
    expected = spark.createDataFrame(
        [("B1", D1, 1.5, 0, dt.date(2026, 8, 28)), ("B2", D1, 0.0, 1, dt.date(2026, 8, 28))],
        "buyer_id string, as_of_date date, dpd_avg_90d double, default_180d int, label_date date")
    assert_df_equality(join_labels(features, labels), expected, ignore_row_order=True, ignore_nullable=True)


@pytest.fixture(scope="module")
def lake(olist_lake):
    return olist_lake


@pytest.mark.slow
@pytest.mark.real_data
def test_cli_writes_the_join_of_the_gold_tables(spark, lake, tmp_path, capsys):
    """On the Olist lakehouse: the CLI's Parquet output equals the same join done by DuckDB over the gold
    tables read with deltalake (no Spark), row for row, and its printed summary describes it."""
    first, last = "2017-06-01", "2017-07-31"
    out = tmp_path / "train"
    assert cli.main(["training-set", "--from", first, "--to", last, "--out", str(out), "--env", "test",
                     "--set", f"paths.lakehouse={lake.lakehouse_root}"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    got = pq.read_table(out)
    # (read by DuckDB's query below by their names)
    features = deltalake.DeltaTable(tables.GOLD["buyer_credit_features"].path(lake)).to_pyarrow_dataset()  # noqa: F841
    labels = deltalake.DeltaTable(tables.GOLD["buyer_default_labels"].path(lake)).to_pyarrow_dataset()  # noqa: F841
    want = duckdb.sql(f"""
        SELECT f.*, l.default_180d, l.label_date
        FROM features f JOIN labels l USING (buyer_id, as_of_date)
        WHERE f.as_of_date BETWEEN DATE '{first}' AND DATE '{last}'
        ORDER BY buyer_id, as_of_date""").arrow()
    if isinstance(want, pa.RecordBatchReader):
        want = want.read_all()

    assert got.num_rows == want.num_rows > 1000, "too few labelled rows for the comparison to mean anything"
    assert 0 < summary["defaults"] < summary["rows"], "both classes should be present in two months of Olist"
    assert summary == {"rows": want.num_rows, "defaults": sum(want.column("default_180d").to_pylist()),
                       "buyers": len(set(want.column("buyer_id").to_pylist())), "path": str(out)}
    assert got.column_names == want.column_names
    assert got.column_names[-2:] == ["default_180d", "label_date"]
    key = [("buyer_id", "ascending"), ("as_of_date", "ascending")]
    for name in got.column_names:  # column by column, as Python values (readers differ in string types)
        assert got.sort_by(key).column(name).to_pylist() == want.sort_by(key).column(name).to_pylist(), name
