#!/usr/bin/env python3
"""Time the features job on a lakehouse whose silver is already built (e.g. by `tradelake run silver`):

  1. a range over the first dates (one pass),
  2. one daily step early in the period (date 31 or the first after it with about as much new data as
     the last date: tradelake.bench.pick_early_day),
  3. the backfill of every remaining date but the last, in one pass,
  4. one daily step on the last date (late in the period),
  5. with --full-backfill, every date again in one pass (a backfill of the whole period),
  6. the independent DuckDB implementation over every date, on the same silver tables.

Prints a JSON report: seconds of each, and incremental_late_vs_early (4 / 2). All in one run, so the
ratios are comparable even on a noisy machine. Gold must be empty at the start (delete the lakehouse's gold/
and staging/ folders): the early daily step needs the range before it to have stored its totals.

    .venv/bin/python scripts/bench_features.py --set paths.lakehouse=/tmp/m1/lakehouse --from 2026-01-01 --to 2026-12-31
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time

from tradelake import runner
from tradelake.bench import new_rows_per_day, pick_early_day
from tradelake.config import load_settings
from tradelake.spark import build_session


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="local")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--from", dest="first", required=True, type=dt.date.fromisoformat)
    p.add_argument("--to", dest="last", required=True, type=dt.date.fromisoformat)
    p.add_argument("--early", type=dt.date.fromisoformat,
                   help="the early daily step's date (default: pick_early_day, a day with about as much new data as the last)")
    p.add_argument("--full-backfill", action="store_true",
                   help="at the end, also recompute every date from --from to --to in one pass")
    p.add_argument("--skip-duckdb", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = load_settings(args.env, overrides=args.overrides)
    spark = build_session(settings)
    day = dt.timedelta(days=1)
    per_day = new_rows_per_day(spark, settings, args.first, args.last)
    early = args.early or pick_early_day(per_day, args.first, args.last, 30)
    report: dict = {"first": str(args.first), "last": str(args.last),
                    "new_rows": {"early": [str(early), per_day.get(early, 0)],
                                 "late": [str(args.last), per_day.get(args.last, 0)]}}

    def timed(name: str, fn):
        t0 = time.monotonic()
        how = fn()
        report[name] = {"seconds": round(time.monotonic() - t0, 1), "how": how}
        logging.info("%s: %s", name, report[name])

    timed("range_first_dates", lambda: runner.run_features(spark, settings, args.first, early - day))
    timed("daily_early", lambda: runner.run_features(spark, settings, early))
    timed("backfill_rest", lambda: runner.run_features(spark, settings, early + day, args.last - day))
    timed("daily_late", lambda: runner.run_features(spark, settings, args.last))
    for name in ("daily_early", "daily_late"):
        if report[name]["how"] != "daily":  # totals of the day before were not stored: not a daily step
            raise SystemExit(f"{name} was computed as {report[name]['how']!r}: start from an empty gold")
    report["incremental_late_vs_early"] = round(report["daily_late"]["seconds"] / report["daily_early"]["seconds"], 2)
    if args.full_backfill:
        timed("backfill_all_one_pass", lambda: runner.run_features(spark, settings, args.first, args.last))
    spark.stop()
    if not args.skip_duckdb:
        from tradelake.crosscheck.duckdb_features import compute_features

        dates = [args.first + i * day for i in range((args.last - args.first).days + 1)]
        t0 = time.monotonic()
        out = compute_features(settings.lakehouse_root, dates)
        report["duckdb_all_dates"] = {"seconds": round(time.monotonic() - t0, 1),
                                      "rows": {k: v.num_rows for k, v in out.items()}}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
