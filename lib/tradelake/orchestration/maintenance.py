"""Weekly maintenance of the lakehouse (jobs/maintenance.py, the `tradelake_maintenance` DAG).

    optimize   OPTIMIZE every table, Z-ordered by maintenance.zorder_by ("<layer>.<table>" or "<layer>.*"),
               compacting the small files that daily runs add. Staging is left alone: publish checks that
               it is still at the version that was validated.
    vacuum     VACUUM every table with maintenance.vacuum_retention_hours, never below 168 hours (Delta's
               default retention: readers, writers and time travel within a week rely on it), set as the
               tables' delta.deletedFileRetentionDuration when it differs from Delta's default.
    report     each table's version, files and bytes (and the Great Expectations folders') into
               ops.table_sizes, one row per table and report date, and the log.
    prune-gx   Great Expectations validation results, and their Data Docs pages, validated more than
               maintenance.gx_results_keep_days days before the date (ops.dq_results keeps every outcome).

    spark-submit --jars "$(tradelake jars)" jobs/maintenance.py optimize|vacuum|report|prune-gx|all --date D

Every step can run again: OPTIMIZE of a compacted table and VACUUM of a vacuumed one change nothing, the
report replaces its own rows, pruning deletes what is (still) older than the cutoff.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tradelake.config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)

SAFE_RETENTION_HOURS = 168  # Delta's default delta.deletedFileRetentionDuration: 7 days
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
PARALLEL_TABLES = 4
TASKS = ("optimize", "vacuum", "report", "prune-gx")
# Great Expectations stores a validation result (and Data Docs its page) under
# .../<suite>/<run name>/<run time>/<batch>.json|html, the run time like 20260105T031502.123456Z.
RUN_TIME = re.compile(r"^(\d{8}T\d{6})(\.\d+)?Z$")


def retention_hours(settings: Settings) -> int:
    hours = settings.maintenance.vacuum_retention_hours
    if hours < SAFE_RETENTION_HOURS:
        raise ConfigError(
            f"maintenance.vacuum_retention_hours is {hours}: VACUUM never keeps less than {SAFE_RETENTION_HOURS} "
            "hours (Delta's default retention; a shorter one can delete files that running jobs and time travel "
            "still read)")
    return hours


def maintained_tables(spark, settings: Settings, include_staging: bool) -> list:
    from tradelake import tables

    return [t for t in tables.all_tables()
            if (include_staging or t.layer != "staging") and tables.exists(spark, settings, t)]


def zorder_columns(settings: Settings, table) -> list[str]:
    """The Z-order columns configured for the table (exact name first, then "<layer>.*"), those it has."""
    by = settings.maintenance.zorder_by
    wanted = by.get(table.qualified, by.get(f"{table.layer}.*", []))
    names = {f.name for f in table.schema.fields}
    missing = [c for c in wanted if c not in names]
    if missing:
        log.warning("maintenance.zorder_by: %s has no column %s; compacting only", table.qualified, missing)
        return []
    return list(wanted)


def _zorderable(spark, path: str, schema) -> set[str]:
    """The columns Z-ordering can use: data columns (not partition columns) Delta collects file statistics for."""
    from delta.tables import DeltaTable

    detail = DeltaTable.forPath(spark, path).detail().first()
    props = detail["properties"] or {}
    if props.get("delta.dataSkippingStatsColumns"):
        stats = {c.strip() for c in props["delta.dataSkippingStatsColumns"].split(",")}
    else:
        n = int(props.get("delta.dataSkippingNumIndexedCols", 32))
        stats = {f.name for f in schema.fields[:n]} if n >= 0 else {f.name for f in schema.fields}
    return stats - set(detail["partitionColumns"] or [])


def _each(tables_, work) -> list:
    """work(table) for every table, a few at a time: on small tables OPTIMIZE, VACUUM and DESCRIBE are mostly
    driver-side work (listing, planning, the commit), which overlaps well."""
    with ThreadPoolExecutor(max_workers=PARALLEL_TABLES) as pool:
        return list(pool.map(work, tables_))


def optimize(spark, settings: Settings) -> list[dict]:
    """OPTIMIZE every table but staging. Z-ordering rewrites all of a table's files (Delta OSS): it is done
    only for the tables maintenance.zorder_by names, and only once they have more than one file."""
    from delta.tables import DeltaTable

    def one(t) -> dict:
        path = t.path(settings)
        table = DeltaTable.forPath(spark, path)
        cols = zorder_columns(settings, t)
        unusable = [c for c in cols if c not in _zorderable(spark, path, t.schema)]
        if unusable:
            log.info("optimize %s: %s partition the table or have no file statistics; compacting only",
                     t.qualified, unusable)
            cols = []
        if cols and table.detail().first()["numFiles"] <= 1:
            cols = []  # one file, written sorted: nothing to cluster
        result = table.optimize().executeZOrderBy(*cols) if cols else table.optimize().executeCompaction()
        metrics = result.first()["metrics"]
        row = {"table": t.qualified, "zorder_by": cols, "files_removed": metrics["numFilesRemoved"],
               "files_added": metrics["numFilesAdded"]}
        log.info("optimize %s", row)
        return row

    return _each(maintained_tables(spark, settings, include_staging=False), one)


def vacuum(spark, settings: Settings) -> list[dict]:
    """VACUUM every table, keeping what stopped being part of it within the retention.

    Delta takes the retention from the table property delta.deletedFileRetentionDuration (VACUUM's own
    RETAIN is ignored unless 0): a table is given the configured one when it differs from Delta's default (one
    metadata commit, the first time). VACUUM records itself in a table's history (two commits), except on
    staging: publish checks that staging is still at the version that was validated."""
    from delta.tables import DeltaTable

    hours = retention_hours(settings)
    # VACUUM lists a table's folders with this many tasks (default 10,000: minutes for a small table).
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.parallelism",
                   str(max(2, spark.sparkContext.defaultParallelism)))

    def one(t) -> dict:
        path = t.path(settings)
        table = DeltaTable.forPath(spark, path)
        configured = (table.detail().first()["properties"] or {}).get(RETENTION_PROPERTY)
        wanted = f"interval {hours} hours"
        if configured != wanted and (configured is not None or hours != SAFE_RETENTION_HOURS):
            spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{RETENTION_PROPERTY}' = '{wanted}')")
        before = _files_on_disk(path)
        table.vacuum()
        row = {"table": t.qualified, "retention_hours": hours, "files_deleted": before - _files_on_disk(path)}
        log.info("vacuum %s", row)
        return row

    all_tables = maintained_tables(spark, settings, include_staging=True)
    out = _each([t for t in all_tables if t.layer != "staging"], one)
    spark.conf.set("spark.databricks.delta.vacuum.logging.enabled", "false")
    try:
        out += [one(t) for t in all_tables if t.layer == "staging"]
    finally:
        spark.conf.unset("spark.databricks.delta.vacuum.logging.enabled")
    return out


def _files_on_disk(path: str) -> int:
    if "://" in path and not path.startswith("file:"):
        return 0  # object stores: VACUUM's own metrics are in the table history
    root = path.removeprefix("file://").removeprefix("file:")
    return sum(1 for p in Path(root).rglob("*.parquet") if "_delta_log" not in p.parts)


def _dir_usage(path: str) -> tuple[int, int]:
    root = Path(path)
    if not root.is_dir():
        return 0, 0
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def table_sizes_def():
    from pyspark.sql import types as T

    from tradelake import tables

    return tables.TableDef(
        "ops", "table_sizes",
        T.StructType([
            tables.col("report_date", tables.DATE, "the maintenance run's date ({{ ds }})"),
            tables.col("table_name", tables.STR, "<layer>.<table>, or ops.gx / ops.data_docs (Great Expectations folders)"),
            tables.col("location", tables.STR, "path"),
            tables.col("version", tables.LONG, "Delta version (null for folders)"),
            tables.col("num_files", tables.LONG, "data files of the current version (all files, for folders)"),
            tables.col("size_bytes", tables.LONG, "their bytes"),
            tables.col("recorded_at", tables.TS, "when (UTC)"),
        ]),
        "Per maintenance report: each table's current files and bytes (and the Great Expectations folders').",
    )


def report(spark, settings: Settings, day: dt.date) -> list[dict]:
    from delta.tables import DeltaTable

    from tradelake import ops

    now = dt.datetime.now(dt.UTC)

    def one(t) -> tuple:
        table = DeltaTable.forPath(spark, t.path(settings))
        d = table.detail().first()
        return (day, t.qualified, t.path(settings), table.history(1).first()["version"], d["numFiles"],
                d["sizeInBytes"], now)

    rows = _each(maintained_tables(spark, settings, include_staging=True), one)
    for name, path in (("ops.gx", settings.gx_dir), ("ops.data_docs", settings.data_docs_dir)):
        files, size = _dir_usage(path)
        rows.append((day, name, path, None, files, size, now))
    table = table_sizes_def()
    ops.merge_if_changed(spark, settings, table, spark.createDataFrame(rows, table.schema),
                         ["report_date", "table_name"], ["location", "version", "num_files", "size_bytes"])
    out = [{"table": r[1], "version": r[3], "files": r[4], "bytes": r[5]} for r in rows]
    for r in out:
        log.info("report %s", r)
    return out


@dataclass(frozen=True)
class Pruned:
    cutoff: dt.datetime
    results_removed: int
    results_kept: int
    pages_removed: int


def prune_gx(settings: Settings, day: dt.date) -> Pruned:
    """Delete validation results (and Data Docs pages) validated before day - gx_results_keep_days."""
    keep = settings.maintenance.gx_results_keep_days
    if keep < 0:
        raise ConfigError(f"maintenance.gx_results_keep_days must be >= 0, got {keep}")
    cutoff = dt.datetime.combine(day - dt.timedelta(days=keep), dt.time(0), dt.UTC)
    removed, kept = _prune_runs(Path(settings.gx_dir) / "gx" / "uncommitted" / "validations", cutoff)
    pages, _ = _prune_runs(Path(settings.data_docs_dir) / "validations", cutoff)
    result = Pruned(cutoff, removed, kept, pages)
    log.info("prune-gx: %s", result)
    return result


def _prune_runs(root: Path, cutoff: dt.datetime) -> tuple[int, int]:
    if not root.is_dir():
        return 0, 0
    removed = kept = 0
    for dirpath, dirnames, _ in os.walk(root):
        for name in list(dirnames):
            m = RUN_TIME.match(name)
            if not m:
                continue
            dirnames.remove(name)  # a run's folder: nothing to look for inside
            when = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
            if when < cutoff:
                shutil.rmtree(os.path.join(dirpath, name))
                removed += 1
            else:
                kept += 1
    # Run-name (and suite) folders left empty.
    for dirpath, _, _ in sorted(os.walk(root), key=lambda w: -len(w[0])):
        if Path(dirpath) != root and not os.listdir(dirpath):
            os.rmdir(dirpath)
    return removed, kept


def run(task: str, settings: Settings, day: dt.date, spark=None):
    """One maintenance task (or "all"); returns what it did."""
    if task == "prune-gx":
        return prune_gx(settings, day)
    if task == "all":
        return {t: run(t, settings, day, spark) for t in TASKS}
    from tradelake import ops

    if spark is None:
        from tradelake.spark import build_session

        spark = build_session(settings)
    with ops.run_logged(spark, settings, f"maintenance-{task}", day):
        if task == "optimize":
            return optimize(spark, settings)
        if task == "vacuum":
            return vacuum(spark, settings)
        if task == "report":
            return report(spark, settings, day)
    raise ValueError(f"unknown maintenance task {task!r}: one of {', '.join(TASKS)}, all")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="maintenance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=[*TASKS, "all"])
    p.add_argument("--date", required=True, type=dt.date.fromisoformat,
                   help="the run's date (the DAG passes {{ ds }}): the report's date, and what prune-gx keeps days from")
    p.add_argument("--env", help="configuration environment: local (default), test or cluster")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--conf-dir")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = load_settings(args.env, overrides=args.overrides, conf_dir=args.conf_dir)
        if args.task in ("vacuum", "all"):
            retention_hours(settings)  # before starting Spark
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2
    result = run(args.task, settings, args.date)
    print(json.dumps(result, default=str, indent=1))
    return 0
