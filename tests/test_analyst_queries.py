"""What analysts type into `make sql` (the Spark SQL shell, `tradelake catalog --shell -e`), run against the
Olist lakehouse: every query's answer in the shell equals the same query's in pyspark and, where DuckDB reads
the tables (through deltalake, no Spark), in DuckDB. One shell process runs the whole battery."""
from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradelake import tables

pytestmark = [pytest.mark.slow, pytest.mark.real_data]

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@"  # a row `@@<name>` opens each query's answer in the shell's output


def _dated(t: tables.TableDef) -> list[str]:
    return [f.name for f in t.schema.fields if isinstance(f.dataType, (T.DateType, T.TimestampType))]


def battery(day: dt.date, first_commit: str) -> dict[str, str]:
    """name -> SQL on catalog names ({layer.table} is replaced by a path for pyspark, a view for DuckDB)."""
    q = {}
    for t in [*tables.GOLD.values(), *(tables.silver(s) for s in ("transactions", "payments", "shipments",
                                                                    "shipment_events", "suppliers", "fx_rates"))]:
        cols = _dated(t)
        # min/max alone (Delta answers them from its file statistics) and counted apart (Spark computes them)
        q[f"range_{t.qualified}"] = "SELECT " + ", ".join(f"min({c}), max({c})" for c in cols) + f" FROM {{{t.qualified}}}"
        q[f"distinct_{t.qualified}"] = "SELECT " + ", ".join(
            f"count(DISTINCT {c})" for c in cols) + f" FROM {{{t.qualified}}}"
    q["filter_on_as_of_date"] = (f"SELECT count(*), sum(orders_90d), round(avg(otif_rate_90d), 6) "
                                 f"FROM {{gold.supplier_scorecard}} WHERE as_of_date = DATE'{day}'")
    q["scorecard_join_credit"] = (
        "SELECT count(*), count(c.supplier_id), round(sum(s.otif_rate_90d), 6) "
        "FROM {gold.supplier_scorecard} s JOIN {gold.supplier_credit_features} c "
        f"ON s.supplier_id = c.supplier_id AND s.as_of_date = c.as_of_date WHERE s.as_of_date >= DATE'{day}'")
    q["window_over_dates"] = (
        "SELECT supplier_id, as_of_date, orders_90d - lag(orders_90d) OVER (PARTITION BY supplier_id "
        "ORDER BY as_of_date) AS change FROM {gold.supplier_scorecard} "
        f"WHERE as_of_date BETWEEN DATE'{day}' - INTERVAL 3 DAYS AND DATE'{day}' "
        "ORDER BY supplier_id, as_of_date LIMIT 40")
    q["quarantine_reasons"] = ("SELECT source, reason_code, count(*) FROM {quarantine.records} "
                               "GROUP BY source, reason_code ORDER BY source, reason_code")
    q["version_as_of"] = "SELECT count(*), min(as_of_date), max(as_of_date) FROM {gold.supplier_scorecard} VERSION AS OF 0"
    q["timestamp_as_of"] = f"SELECT count(*) FROM {{gold.supplier_scorecard}} TIMESTAMP AS OF '{first_commit}'"
    return q


def _value(v) -> str:
    """One cell as the shell prints it."""
    if v is None:
        return "NULL"
    if isinstance(v, dt.datetime):
        text = v.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{v.microsecond:06d}".rstrip("0") if v.microsecond else "")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float | decimal.Decimal):
        return str(round(float(v), 6))
    return str(v)


def _rows(rows) -> list[tuple[str, ...]]:
    return [tuple(_value(v) for v in r) for r in rows]


def _shell_cell(text: str) -> str:
    try:
        return str(round(float(text), 6)) if "." in text and not text.count("-") >= 2 else text
    except ValueError:
        return text


@pytest.fixture(scope="module")
def answers(spark, olist_lake):
    """The battery, and each query's answer from the shell, pyspark and DuckDB."""
    from delta.tables import DeltaTable

    lake = olist_lake
    scorecard = tables.GOLD["supplier_scorecard"].path(lake)
    dates = sorted(r[0] for r in spark.read.format("delta").load(scorecard).select("as_of_date").distinct().collect())
    day = dates[len(dates) * 2 // 3]
    first = DeltaTable.forPath(spark, scorecard).history().where("version = 0").first()["timestamp"]
    queries = battery(day, (first + dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S"))
    named = {t.qualified: t for t in tables.all_tables()}

    def fill(template: str, name) -> str:
        out = template
        for k, t in named.items():
            out = out.replace("{" + k + "}", name(t))
        return out

    script = "; ".join(f"SELECT '{MARK}{n}'; {fill(sql, lambda t: t.qualified)}" for n, sql in queries.items())
    script += f"; SELECT '{MARK}history'; DESCRIBE HISTORY gold.supplier_scorecard"
    script += f"; SELECT '{MARK}describe'; DESCRIBE TABLE gold.supplier_scorecard"
    env = {**os.environ, "TRADELAKE_ENV": "test", "TRADELAKE__PATHS__LAKEHOUSE": lake.lakehouse_root,
           "TRADELAKE__CATALOG__IMPLEMENTATION": "hive", "SPARK_LOCAL_IP": "127.0.0.1"}
    shell = subprocess.run([str(Path(sys.executable).parent / "tradelake"), "catalog", "--shell", "-e", script],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert shell.returncode == 0, shell.stderr[-4000:]
    by_query: dict[str, list[tuple[str, ...]]] = {}
    current = None
    for line in shell.stdout.splitlines():
        if line.startswith(MARK):
            current = line[len(MARK):]
            by_query[current] = []
        elif current is not None:
            by_query[current].append(tuple(_shell_cell(c.strip()) for c in line.split("\t")))

    def in_pyspark(sql: str):
        df = spark.sql(fill(sql, lambda t: f"delta.`{t.path(lake)}`"))
        df = df.toDF(*(f"c{i}" for i in range(len(df.columns))))  # names like round(avg(x), 6) are awkward
        # timestamps as Spark prints them (the session's zone, UTC), not in this Python's local zone
        return _rows(df.select([F.col(f.name).cast("string") if isinstance(f.dataType, T.TimestampType)
                                else F.col(f.name) for f in df.schema.fields]).collect())

    pyspark = {n: in_pyspark(sql) for n, sql in queries.items()}

    import duckdb
    from deltalake import DeltaTable as Rust

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for k, t in named.items():
        if any(k in sql for sql in queries.values()) and Path(t.path(lake), "_delta_log").is_dir():
            con.register(k.replace(".", "_"), Rust(t.path(lake)).to_pyarrow_dataset())
    duck = {n: _rows(con.execute(fill(sql, lambda t: t.qualified.replace(".", "_"))).fetchall())
            for n, sql in queries.items() if "AS OF" not in sql}
    return queries, by_query, pyspark, duck, shell.stdout


def test_every_query_answers_in_the_shell_as_in_pyspark(answers):
    queries, shell, pyspark, _, _ = answers
    for name in queries:
        assert shell[name] == pyspark[name], (name, queries[name])
        assert pyspark[name] and pyspark[name][0], name


def test_and_as_in_duckdb_without_spark(answers):
    queries, shell, _, duck, _ = answers
    assert len(duck) >= len(queries) - 2
    for name, rows in duck.items():
        assert shell[name] == rows, (name, queries[name])


def test_min_and_max_of_dates_are_dates(answers):
    """The first query an analyst typed (issue 21): min/max of a DATE column, answered by Delta from its file
    statistics, printed as dates."""
    _, shell, _, _, _ = answers
    lo, hi = shell["range_gold.supplier_scorecard"][0]
    assert dt.date.fromisoformat(lo) < dt.date.fromisoformat(hi) and int(shell["distinct_gold.supplier_scorecard"][0][0]) > 300
    lo, hi = shell["range_gold.lane_performance"][0][:2]
    assert dt.date.fromisoformat(lo).weekday() == dt.date.fromisoformat(hi).weekday() == 0  # week_start: Mondays


def test_history_and_column_comments(spark, answers, olist_lake):
    from delta.tables import DeltaTable

    _, shell, _, _, _ = answers
    history = DeltaTable.forPath(spark, tables.GOLD["supplier_scorecard"].path(olist_lake)).history().collect()
    assert [(int(r[0]), r[4]) for r in shell["history"]] == [(h["version"], h["operation"]) for h in history]
    described = {r[0]: r[-1] for r in shell["describe"] if len(r) >= 3}
    for f in tables.GOLD["supplier_scorecard"].schema.fields:
        assert described[f.name] == f.metadata["comment"], f.name
