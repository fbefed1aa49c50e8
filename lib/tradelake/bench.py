"""`make bench`: the whole pipeline measured the same way every time, with a JSON report.

    python -m tradelake.bench --scale S            (make bench; make bench SCALE=M)

1. generate the scale's landing zone under <work>/<scale>-seed<seed>/landing, or reuse it when it was
   generated with the same parameters (the generator's manifest says so);
2. build a fresh lakehouse beside it: ingest, validate bronze, silver, validate silver over every day;
3. gold as production builds it: a backfill of the first dates, one daily step early in the period
   (on a day with about as much new data as the last: `pick_early_day`), a backfill of the rest but
   the last date, one daily step on the last date; each features run is validated and published;
4. the independent DuckDB implementation of the features (tradelake.crosscheck) over every date, on
   the same silver tables, after Spark has stopped (so the two never share the machine);
5. the report: `<lakehouse>/ops/bench/latest.json` and a timestamped copy (the configured lakehouse,
   ./lakehouse by default, not the bench's own), and a table on the terminal.

Every figure of one report comes from one run, so its ratios compare like with like on a noisy machine.
Shuffle bytes come from Spark's event log (written under the bench directory and parsed after Spark
stops); memory is the peak PSS of the whole process tree (Python driver, JVM, Python workers).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger("tradelake.bench")


@dataclass(frozen=True)
class Scale:
    transactions: int
    days: int
    suppliers: int
    buyers: int
    driver_memory: str
    shuffle_partitions: int
    early_day: int  # the daily step "early in the period" is on start + early_day or after (pick_early_day)


SCALES = {
    # For the test of the benchmark itself: seconds of data, minutes of fixed costs.
    "tiny": Scale(transactions=2_000, days=10, suppliers=20, buyers=150, driver_memory="2g",
                  shuffle_partitions=4, early_day=4),
    "S": Scale(200_000, 90, 200, 2_000, "4g", 8, 30),
    "M": Scale(1_000_000, 365, 200, 2_000, "8g", 16, 30),
    "L": Scale(10_000_000, 365, 2_000, 50_000, "8g", 64, 30),
}

MIB = 1024 * 1024
SMALL_FILE_BYTES = 8 * MIB        # no table holding more than LARGE_TABLE_BYTES may have a median file under this
LARGE_TABLE_BYTES = 100 * MIB


# -------------------------------------------------------------------------------------------------
# Measuring
# -------------------------------------------------------------------------------------------------
class MemorySampler:
    """Peak PSS of this process and all its descendants (the JVM, Python workers), sampled every
    `every` seconds in a thread. PSS, not RSS: pages shared by forked helpers are not counted twice."""

    def __init__(self, every: float = 2.0):
        import psutil

        self._psutil = psutil
        self._proc = psutil.Process(os.getpid())
        self._every = every
        self._stop = threading.Event()
        self.peak = 0
        self.window_peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = 0
        for p in [self._proc, *self._proc.children(recursive=True)]:
            try:
                try:
                    total += p.memory_full_info().pss
                except (self._psutil.AccessDenied, AttributeError):
                    total += p.memory_info().rss
            except self._psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self.sample()
            self.peak = max(self.peak, value)
            self.window_peak = max(self.window_peak, value)
            self._stop.wait(self._every)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def reset_window(self) -> None:
        self.window_peak = self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Stage:
    name: str
    seconds: float = 0.0
    rows_in: int = 0
    rows_out: int = 0
    peak_rss_mb: float = 0.0
    shuffle_read_bytes: int = 0
    shuffle_write_bytes: int = 0
    intervals: list[tuple[int, int]] = field(default_factory=list)  # epoch ms, for the event log

    def report(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("name", "intervals")}
        # Three decimals: at tiny scale DuckDB's step takes ~0.1 s, and a ratio over a time rounded
        # to 0.1 s would be off by up to 50%.
        d["seconds"] = round(self.seconds, 3)
        d["peak_rss_mb"] = round(self.peak_rss_mb)
        d["rows_per_second"] = round(self.rows_in / self.seconds) if self.seconds > 0 else None
        return d


class Timer:
    def __init__(self, memory: MemorySampler):
        self.memory = memory
        self.stages: dict[str, Stage] = {}

    def run(self, name: str, fn, *args, **kwargs):
        """Run fn as (part of) stage `name`: its seconds, interval and memory peak are added to it."""
        stage = self.stages.setdefault(name, Stage(name))
        self.memory.reset_window()
        t0, ms0 = time.monotonic(), int(time.time() * 1000)
        try:
            return fn(*args, **kwargs)
        finally:
            seconds = time.monotonic() - t0
            stage.seconds += seconds
            stage.intervals.append((ms0, int(time.time() * 1000)))
            stage.peak_rss_mb = max(stage.peak_rss_mb, self.memory.window_peak / MIB)
            log.info("bench: %s took %.1fs", name, seconds)


def shuffle_bytes_by_interval(event_log_dir: Path, stages: dict[str, Stage]) -> dict:
    """Shuffle read/write bytes of every Spark stage, each attributed to the bench stage during whose
    interval its job was submitted. Reads the event log(s) Spark wrote (one JSON event per line)."""
    job_time: dict[int, int] = {}
    stage_job: dict[int, int] = {}
    totals: dict[int, tuple[int, int]] = {}
    for path in sorted(event_log_dir.iterdir()):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                event = json.loads(line)
                kind = event.get("Event")
                if kind == "SparkListenerJobStart":
                    job_time[event["Job ID"]] = event["Submission Time"]
                    for sid in event.get("Stage IDs", []):
                        stage_job[sid] = event["Job ID"]
                elif kind == "SparkListenerStageCompleted":
                    info = event["Stage Info"]
                    acc = {a.get("Name"): int(a.get("Value", 0)) for a in info.get("Accumulables", [])
                           if str(a.get("Value", "")).lstrip("-").isdigit()}
                    read = (acc.get("internal.metrics.shuffle.read.remoteBytesRead", 0)
                            + acc.get("internal.metrics.shuffle.read.localBytesRead", 0))
                    totals[info["Stage ID"]] = (read, acc.get("internal.metrics.shuffle.write.bytesWritten", 0))
    overall = [0, 0]
    for sid, (read, written) in totals.items():
        overall[0] += read
        overall[1] += written
        submitted = job_time.get(stage_job.get(sid, -1))
        if submitted is None:
            continue
        for stage in stages.values():
            if any(a <= submitted <= b for a, b in stage.intervals):
                stage.shuffle_read_bytes += read
                stage.shuffle_write_bytes += written
                break
    return {"read_bytes": overall[0], "write_bytes": overall[1]}


def table_files(spark, settings) -> dict[str, dict]:
    """Per Delta table: rows, files, bytes, median file size, and files written over its history."""
    from delta.tables import DeltaTable

    from tradelake import tables

    out = {}
    for t in tables.all_tables():
        path = t.path(settings)
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        df = spark.read.format("delta").load(path)
        sizes = sorted(os.path.getsize(f.removeprefix("file:")) for f in df.inputFiles())
        history = DeltaTable.forPath(spark, path).history().select("operationMetrics").collect()  # one row per commit
        written = sum(int(m.operationMetrics.get(k, 0) or 0) for m in history if m.operationMetrics
                      for k in ("numFiles", "numTargetFilesAdded", "numAddedFiles"))
        out[t.qualified] = {
            "rows": df.count(),
            "files": len(sizes),
            "bytes": sum(sizes),
            "median_file_bytes": int(statistics.median(sizes)) if sizes else 0,
            "files_written": written,
        }
    return out


# -------------------------------------------------------------------------------------------------
# The run
# -------------------------------------------------------------------------------------------------
FACT_SOURCES = ("transactions", "payments", "shipments", "shipment_events")
MATCHED_VOLUME = 0.9


def new_rows_per_day(spark, settings, first: dt.date, last: dt.date) -> dict[dt.date, int]:
    """Rows of the fact sources that become visible on each day first..last: a daily features step's
    new data (one small row per day is collected)."""
    from functools import reduce

    from pyspark.sql import functions as F

    from tradelake import tables
    from tradelake.gold.compute import EVENT_DATE

    per_source = [
        tables.read(spark, settings, tables.silver(name))
        .select(F.greatest(F.col("_known_date"), EVENT_DATE[name]()).alias("day"))
        for name in FACT_SOURCES
    ]
    counts = (reduce(lambda a, b: a.unionByName(b), per_source)
              .where(F.col("day").between(F.lit(first), F.lit(last))).groupBy("day").count())
    return {r["day"]: r["count"] for r in counts.collect()}


def pick_early_day(per_day: dict[dt.date, int], first: dt.date, last: dt.date, early_day: int) -> dt.date:
    """The daily step "early in the period", to compare with the one on `last`: the first day from
    first + early_day through the end of the period's first third whose new rows are at least 90% of
    the last day's (else the busiest of those days). The generated platform starts empty: payments
    come 30-90 days after their invoices, so a day in the first month has half to two thirds of a
    late day's new rows, and a step costs in proportion to its day's rows; at equal new data, the
    ratio measures what it is meant to - whether a step grows with the length of history."""
    days = max(early_day, (last - first).days // 3)
    candidates = [first + dt.timedelta(days=i) for i in range(early_day, days + 1)]
    target = MATCHED_VOLUME * per_day.get(last, 0)
    return next((d for d in candidates if per_day.get(d, 0) >= target),
                max(candidates, key=lambda d: (per_day.get(d, 0), -d.toordinal())))


def _rows(tables_report: dict, prefix: str) -> int:
    return sum(v["rows"] for k, v in tables_report.items() if k.startswith(prefix))


def run_bench(scale_name: str, work: Path, env: str = "local", overrides: list[str] | None = None,
              seed: int | None = None, duckdb: bool = True) -> dict:
    from tradelake.config import load_settings

    scale = SCALES[scale_name]
    base = load_settings(env, overrides=overrides or [])
    seed = base.generator.seed if seed is None else seed
    home = (work / f"{scale_name}-seed{seed}").resolve()
    lakehouse, event_log = home / "lakehouse", home / "eventlog"
    for stale in (lakehouse, event_log):
        shutil.rmtree(stale, ignore_errors=True)  # every run builds the lakehouse from nothing
    event_log.mkdir(parents=True)
    settings = load_settings(env, overrides=[
        f"generator.seed={seed}", f"generator.transactions={scale.transactions}", f"generator.days={scale.days}",
        f"generator.suppliers={scale.suppliers}", f"generator.buyers={scale.buyers}",
        f"spark.driver_memory={scale.driver_memory}", f"spark.shuffle_partitions={scale.shuffle_partitions}",
        *(overrides or []),
        f"paths.landing={home}/landing", f"paths.lakehouse={lakehouse}",
    ])
    report_dir = Path(base.lakehouse_root) / "ops" / "bench"

    memory = MemorySampler().start()
    timer = Timer(memory)
    t_all = time.monotonic()
    report = _pipeline(settings, scale, timer, event_log)
    report_tables = report["tables"]

    if duckdb:
        from tradelake.crosscheck.duckdb_features import compute_features

        g = settings.generator
        dates = [g.start_date + dt.timedelta(days=i) for i in range(g.days)]
        out = timer.run("duckdb_features", compute_features, str(lakehouse), dates)
        report["duckdb_feature_rows"] = {k: v.num_rows for k, v in out.items()}
        timer.stages["duckdb_features"].rows_in = timer.stages["features"].rows_in
        timer.stages["duckdb_features"].rows_out = sum(report["duckdb_feature_rows"].values())
        del out
    memory.stop()

    stages = timer.stages
    report["shuffle"] = shuffle_bytes_by_interval(event_log, stages)
    spark_features = stages["features"].seconds
    report.update({
        "scale": scale_name,
        "wall_seconds": round(time.monotonic() - t_all, 1),
        "peak_rss_mb": round(memory.peak / MIB),
        "stages": {name: s.report() for name, s in stages.items()},
        "spark_features_seconds": round(spark_features, 1),
        "spark_vs_duckdb_feature_ratio": (round(spark_features / stages["duckdb_features"].seconds, 2)
                                          if duckdb else None),
        "incremental_late_vs_early_ratio": round(report["features_runs"]["daily_late"]["seconds"]
                                                 / report["features_runs"]["daily_early"]["seconds"], 2),
        "small_file_tables": sorted(k for k, v in report_tables.items()
                                    if v["bytes"] > LARGE_TABLE_BYTES and v["median_file_bytes"] < SMALL_FILE_BYTES),
    })
    report = {k: report[k] for k in sorted(report, key=lambda k: _ORDER.index(k) if k in _ORDER else len(_ORDER))}
    report_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1, default=str)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (report_dir / f"{stamp}-{scale_name}.json").write_text(text)
    (report_dir / "latest.json").write_text(text)
    report["report_path"] = str(report_dir / "latest.json")
    return report


_ORDER = ["scale", "started_at", "parameters", "machine", "spark", "wall_seconds", "peak_rss_mb",
          "spark_vs_duckdb_feature_ratio", "incremental_late_vs_early_ratio", "spark_features_seconds",
          "sources", "stages", "features_runs", "shuffle", "tables", "small_file_tables", "duckdb_feature_rows",
          "generated", "lakehouse"]


def _pipeline(settings, scale: Scale, timer: Timer, event_log: Path) -> dict:
    import psutil

    from tradelake import runner
    from tradelake.generate import generate, read_manifest
    from tradelake.spark import build_session

    spark = build_session(settings, extra={
        "spark.eventLog.enabled": "true", "spark.eventLog.dir": event_log.as_uri(),
        "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false",
    })
    try:
        g = settings.generator
        first = g.start_date
        last = first + dt.timedelta(days=g.days - 1)
        day = dt.timedelta(days=1)

        reused = read_manifest(spark, settings) is not None
        manifest = timer.run("generate", generate, spark, settings)
        landing = {name: t["records"] for name, t in manifest["totals"].items()}
        timer.stages["generate"].rows_out = sum(landing.values())
        if reused:  # generated by an earlier run: nothing was measured
            timer.stages["generate"].seconds = 0.0

        timer.run("ingest", runner.run_ingest, spark, settings, first, last)
        timer.run("validate", runner.run_validate, spark, settings, "bronze", first, last)
        timer.run("silver", runner.run_silver, spark, settings, first, last)
        timer.run("validate", runner.run_validate, spark, settings, "silver", first, last)

        per_day = new_rows_per_day(spark, settings, first, last)
        early = pick_early_day(per_day, first, last, scale.early_day)
        runs = {}
        for name, (a, b) in {"backfill_first": (first, early - day), "daily_early": (early, early),
                             "backfill_rest": (early + day, last - day), "daily_late": (last, last)}.items():
            t0 = time.monotonic()
            how = timer.run("features", runner.run_features, spark, settings, a, b)
            runs[name] = {"from": a.isoformat(), "to": b.isoformat(), "how": how,
                          "seconds": round(time.monotonic() - t0, 1),
                          "new_rows": sum(per_day.get(a + i * day, 0) for i in range((b - a).days + 1))}
            timer.run("validate", runner.run_validate, spark, settings, "gold", a, b)
            timer.run("publish", runner.run_publish, spark, settings, a, b)

        report_tables = table_files(spark, settings)
        sources = {
            name: {"landing_records": landing[name],
                   "bronze_rows": report_tables.get(f"bronze.{name}", {}).get("rows", 0),
                   "silver_rows": report_tables.get(f"silver.{name}", {}).get("rows", 0)}
            for name in landing
        }
        bronze, silver = _rows(report_tables, "bronze."), _rows(report_tables, "silver.")
        quarantined = _rows(report_tables, "quarantine.")
        gold = sum(v["rows"] for k, v in report_tables.items() if k.startswith("gold.") and not k.startswith("gold._"))
        st = timer.stages
        st["ingest"].rows_in, st["ingest"].rows_out = sum(landing.values()), bronze
        st["silver"].rows_in, st["silver"].rows_out = bronze, silver + quarantined
        st["features"].rows_in = silver
        st["features"].rows_out = gold
        st["validate"].rows_in = bronze + silver + gold
        st["validate"].rows_out = report_tables.get("ops.dq_results", {}).get("rows", 0)
        st["publish"].rows_in = st["publish"].rows_out = st["features"].rows_out
        conf = spark.sparkContext.getConf()
        return {
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "parameters": asdict(scale) | {"seed": g.seed, "start_date": first.isoformat()},
            "machine": {"cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
            "spark": {"version": spark.version, "master": conf.get("spark.master"),
                      "driver_memory": conf.get("spark.driver.memory"),
                      "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
                      "adaptive": spark.conf.get("spark.sql.adaptive.enabled")},
            "generated": {"reused": reused, "landing": settings.landing_root},
            "lakehouse": settings.lakehouse_root,
            "sources": sources,
            "features_runs": runs,
            "tables": report_tables,
        }
    finally:
        spark.stop()


# -------------------------------------------------------------------------------------------------
# The terminal table
# -------------------------------------------------------------------------------------------------
def render(report: dict) -> str:
    lines = [f"tradelake bench, scale {report['scale']} ({report['parameters']['transactions']:,} transactions over "
             f"{report['parameters']['days']} days, {report['parameters']['suppliers']:,} suppliers, "
             f"{report['parameters']['buyers']:,} buyers); {report['machine']['cores']} cores, "
             f"driver {report['spark']['driver_memory']}",
             "",
             f"{'stage':<16}{'seconds':>10}{'rows in':>14}{'rows out':>14}{'rows/s':>12}{'shuffle MiB':>13}{'peak MiB':>10}"]
    for name, s in report["stages"].items():
        shuffle = (s["shuffle_read_bytes"] + s["shuffle_write_bytes"]) / MIB
        rps = f"{s['rows_per_second']:,}" if s["rows_per_second"] is not None else "-"
        lines.append(f"{name:<16}{s['seconds']:>10.1f}{s['rows_in']:>14,}{s['rows_out']:>14,}{rps:>12}"
                     f"{shuffle:>13.1f}{s['peak_rss_mb']:>10,}")
    lines.append("")
    for name, r in report["features_runs"].items():
        lines.append(f"features {name:<15} {r['from']}..{r['to']} ({r['how']}): {r['seconds']:.1f}s, "
                     f"{r['new_rows']:,} new source rows")
    lines += [
        "",
        f"spark_vs_duckdb_feature_ratio   {report['spark_vs_duckdb_feature_ratio']}",
        f"incremental_late_vs_early_ratio {report['incremental_late_vs_early_ratio']}",
        f"peak_rss_mb                     {report['peak_rss_mb']:,}",
        f"wall_seconds                    {report['wall_seconds']}",
        "",
        f"{'table':<36}{'rows':>14}{'files':>8}{'MiB':>10}{'median file MiB':>17}{'files written':>15}",
    ]
    for name, t in report["tables"].items():
        lines.append(f"{name:<36}{t['rows']:>14,}{t['files']:>8}{t['bytes'] / MIB:>10.1f}"
                     f"{t['median_file_bytes'] / MIB:>17.2f}{t['files_written']:>15}")
    if report["small_file_tables"]:
        lines.append(f"\ntables over 100 MiB with a median file under 8 MiB: {', '.join(report['small_file_tables'])}")
    lines.append(f"\nreport: {report.get('report_path', '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tradelake.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="S", choices=sorted(SCALES))
    p.add_argument("--work", type=Path, default=Path("bench-data"),
                   help="where each scale's landing zone and lakehouse live (default ./bench-data)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--env", default="local")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="a configuration override, key=value")
    p.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB comparison")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    report = run_bench(args.scale, args.work, args.env, args.overrides, args.seed, duckdb=not args.no_duckdb)
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
