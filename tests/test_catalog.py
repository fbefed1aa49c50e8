"""The catalog: every table under <layer>.<table> with the declarations' comments, registered by the
pipeline, idempotent, rebuilt from the declarations; persistent across Spark applications (Hive metastore
in <lakehouse>/ops/metastore), which a separate process and the Spark SQL shell (`make sql`) check.

The suite's own session keeps names in memory (conf/test.yaml): the persistent catalog is exercised in
processes of its own."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import settings_for
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from tradelake import catalog, cli, tables
from tradelake import spark as spark_module
from tradelake.spark import catalog_conf, session_conf

ROOT = Path(__file__).resolve().parents[1]
SCORECARD = tables.GOLD["supplier_scorecard"]


# The Olist lakehouse (built once per run, shared with test_real_data): every layer, two years of gold.

@pytest.fixture(scope="module")
def lake(olist_lake):
    return olist_lake


def versions(settings) -> dict[str, int]:
    """Every table's latest Delta version, from its log's file names (no Spark job)."""
    out = {}
    for t in tables.all_tables():
        log = Path(t.path(settings)) / "_delta_log"
        if log.is_dir():
            out[t.qualified] = max(int(p.name.split(".")[0]) for p in log.glob("*.json"))
    return out


def test_session_settings(tmp_path):
    s = settings_for(tmp_path, "catalog.implementation=hive")
    conf = session_conf(s)
    assert conf["spark.sql.catalogImplementation"] == "hive"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == \
        f"jdbc:derby:;databaseName={s.lakehouse_root}/ops/metastore/metastore_db;create=true"
    moved = settings_for(tmp_path, "catalog.implementation=hive", f"catalog.metastore_dir={tmp_path}/meta")
    assert f"databaseName={tmp_path}/meta/metastore_db" in catalog_conf(moved)["spark.hadoop.javax.jdo.option.ConnectionURL"]
    # a metastore service configured in spark.conf wins: no Derby
    remote = settings_for(tmp_path, "catalog.implementation=hive", "spark.conf.spark.hadoop.hive.metastore.uris=thrift://m:9083")
    assert "spark.hadoop.javax.jdo.option.ConnectionURL" not in session_conf(remote)
    assert catalog_conf(settings_for(tmp_path)) == {"spark.sql.catalogImplementation": "in-memory"}  # the test env
    from tradelake.config import ConfigError
    with pytest.raises(ConfigError, match="catalog.implementation"):
        catalog_conf(settings_for(tmp_path, "catalog.implementation=glue"))


def test_sessions_take_turns_on_the_metastore(tmp_path):
    """Derby opens in one application at a time: a session whose metastore another process holds gets
    the in-memory catalog instead of failing later (claim_metastore decides, before the JVM starts)."""
    s = settings_for(tmp_path, "catalog.implementation=hive")
    lock = f"{s.metastore_dir}/tradelake.lock"
    Path(s.metastore_dir).mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fh = open(sys.argv[1], 'a+'); fcntl.lockf(fh, fcntl.LOCK_EX); "
         "fh.write(str(os.getpid())); fh.flush(); print('held', flush=True); sys.stdin.read()", lock],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not spark_module.claim_metastore(s)
        assert spark_module.metastore_holder(s) == str(holder.pid)
    finally:
        holder.communicate("", timeout=30)
    assert spark_module.claim_metastore(s)  # free again: this process takes it
    assert spark_module.metastore_holder(s) == str(os.getpid())
    spark_module._metastore_locks.pop(spark_module.derby_dir(s)).close()


@pytest.mark.slow
@pytest.mark.real_data
def test_register_names_every_table_with_its_comments(spark, lake):
    entries = catalog.register(spark, lake)
    created = [t for t in tables.all_tables() if DeltaTable.isDeltaTable(spark, t.path(lake))]
    assert {e.name for e in entries if e.action != catalog.ABSENT} == {t.qualified for t in created}
    assert {t.layer for t in created} >= {"bronze", "silver", "gold", "ops"}
    assert {"bronze", "silver", "gold", "ops"} <= {d.name for d in spark.catalog.listDatabases()}
    got = spark.sql("SELECT * FROM gold.supplier_scorecard")
    assert got.count() == spark.read.format("delta").load(SCORECARD.path(lake)).count() > 0
    for t in created:
        columns = {c.name: c.description for c in spark.catalog.listColumns(t.qualified)}
        assert columns == {f.name: f.metadata.get("comment") for f in t.schema.fields}, t.qualified
    rows = {r["col_name"]: r["data_type"] for r in spark.sql("DESCRIBE TABLE EXTENDED gold.supplier_scorecard").collect()}
    assert rows["Comment"] == SCORECARD.description
    assert rows["Type"] == "EXTERNAL"


@pytest.mark.slow
@pytest.mark.real_data
def test_register_again_changes_nothing(spark, lake):
    catalog.register(spark, lake)
    before = versions(lake)
    entries = catalog.register(spark, lake)
    assert {e.action for e in entries} <= {catalog.UNCHANGED, catalog.ABSENT}
    assert versions(lake) == before


@pytest.mark.slow
@pytest.mark.real_data
def test_lost_comments_are_put_back_from_the_declarations(spark, lake):
    catalog.register(spark, lake)
    spark.sql("ALTER TABLE gold.supplier_scorecard ALTER COLUMN otif_rate_90d COMMENT 'edited by hand'")
    spark.sql("COMMENT ON TABLE gold.supplier_scorecard IS 'edited too'")
    entries = {e.name: e.action for e in catalog.register(spark, lake)}
    assert entries["gold.supplier_scorecard"] == catalog.COMMENTED
    comments = {c.name: c.description for c in spark.catalog.listColumns("gold.supplier_scorecard")}
    assert comments["otif_rate_90d"] == next(f.metadata["comment"] for f in SCORECARD.schema.fields if f.name == "otif_rate_90d")
    assert catalog.comment_changes(spark, SCORECARD, SCORECARD.path(lake)) == []


@pytest.mark.slow
@pytest.mark.real_data
def test_names_follow_the_lakehouse_and_data_is_never_touched(spark, lake, tmp_path):
    other = settings_for(tmp_path)
    tables.ensure_table(spark, other, tables.RUNS)
    entries = {e.name: e.action for e in catalog.register(spark, other)}
    assert entries["ops.runs"] == catalog.MOVED
    assert entries["gold.supplier_scorecard"] == catalog.DROPPED  # no such table in the other lakehouse
    assert spark.sql("SELECT count(*) FROM ops.runs").first()[0] == 0
    assert not spark.catalog.tableExists("gold.supplier_scorecard")
    assert DeltaTable.isDeltaTable(spark, SCORECARD.path(lake))  # dropping a name leaves the table
    entries = {e.name: e.action for e in catalog.register(spark, lake)}
    assert entries["ops.runs"] == catalog.MOVED and entries["gold.supplier_scorecard"] == catalog.REGISTERED
    assert spark.sql("SELECT count(*) FROM ops.runs").first()[0] > 0


@pytest.mark.slow
@pytest.mark.real_data
def test_a_pipeline_run_registers_the_tables(spark, lake):
    """`tradelake run ...` ends with the registration (catalog.register): here a re-run of the last day's
    ingest, which finds nothing new."""
    catalog.register(spark, lake)
    for name in ("gold.supplier_scorecard", "silver.transactions"):
        spark.sql(f"DROP TABLE {name}")
    last = tables.read(spark, lake, tables.INGESTED_FILES).agg(F.max("ingest_date")).first()[0]
    args = ["run", "ingest", "--date", last.isoformat(), "--env", "test", "--set", f"paths.lakehouse={lake.lakehouse_root}",
            "--set", f"paths.landing={lake.landing_root}"]
    assert cli.main([*args, "--set", "catalog.register=false"]) == 0
    assert not spark.catalog.tableExists("gold.supplier_scorecard")
    assert cli.main([*args, "--set", "catalog.register=true"]) == 0
    assert spark.catalog.tableExists("gold.supplier_scorecard") and spark.catalog.tableExists("silver.transactions")
    assert spark.sql("SELECT count(*) FROM gold.supplier_scorecard").first()[0] > 0


@pytest.mark.slow
@pytest.mark.real_data
def test_the_catalog_persists_for_new_sessions_and_the_sql_shell(spark, lake):
    """`tradelake catalog --shell -e SQL` (what `make sql` runs) registers the tables in the lakehouse's
    Derby metastore, stops its Spark application, and runs spark-sql: a new application, whose session
    finds every table by name, with its comments."""
    env = {**os.environ, "TRADELAKE_ENV": "test", "TRADELAKE__PATHS__LAKEHOUSE": lake.lakehouse_root,
           "TRADELAKE__CATALOG__IMPLEMENTATION": "hive", "SPARK_LOCAL_IP": "127.0.0.1"}
    tradelake = str(Path(sys.executable).parent / "tradelake")
    shell = subprocess.run(
        [tradelake, "catalog", "--shell", "-e",
         "SELECT 'scorecard', count(*), sum(orders_90d) FROM gold.supplier_scorecard; "
         "SELECT 'labels', count(*) FROM gold.buyer_default_labels; "
         "SHOW SCHEMAS; SHOW TABLES IN silver; DESCRIBE TABLE EXTENDED gold.supplier_scorecard"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert shell.returncode == 0, shell.stderr[-3000:]
    out = shell.stdout
    registered = out[:out.index("scorecard\t")]  # `tradelake catalog` prints what it registered first
    assert re.search(rf"gold\.supplier_scorecard +({catalog.REGISTERED}|{catalog.UNCHANGED}) ", registered)
    scorecard = spark.read.format("delta").load(SCORECARD.path(lake)).agg(F.count("*"), F.sum("orders_90d")).first()
    assert f"scorecard\t{scorecard[0]}\t{scorecard[1]}" in out
    labels = spark.read.format("delta").load(tables.GOLD["buyer_default_labels"].path(lake)).count()
    assert f"labels\t{labels}" in out
    lines = set(out.splitlines())
    assert {"bronze", "silver", "gold", "ops", "quarantine", "staging"} <= lines
    assert {"transactions", "shipment_events"} <= lines
    otif = next(f for f in SCORECARD.schema.fields if f.name == "otif_rate_90d")
    assert otif.metadata["comment"] in out and SCORECARD.description in out
    meta = Path(lake.lakehouse_root) / "ops" / "metastore"
    assert (meta / "metastore_db").is_dir() and (meta / "derby.log").is_file()
