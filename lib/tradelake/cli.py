"""The `tradelake` command.

    tradelake setup-jars                          resolve the Delta jars into the local cache (once)
    tradelake jars                                print the cached jar paths (for spark-submit --jars)
    tradelake jars --local-fs                     the local file system's jar (spark-submit --driver-class-path)
    tradelake config                              print the effective configuration
    tradelake generate [--force]                  write the synthetic landing zone (+ manifest)
    tradelake run ingest|silver|features --date D one job for one day
    tradelake run ingest --date D --source S      one source only (repeatable)
    tradelake run ingest|silver|features --from D1 --to D2
                                                  one job over a range of days, in one pass
    tradelake run validate --layer bronze|silver|gold --date D
                                                  Great Expectations suites of a layer; gold: the staged snapshots
    tradelake run publish --date D                staged gold -> gold, only if it passed validation
    tradelake run all --from D1 --to D2           the whole pipeline over the range, in one Spark application:
                                                  ingest, validate bronze, silver, validate silver, features,
                                                  validate gold, publish
    tradelake training-set --from D1 --to D2 --out DIR
                                                  buyer features joined to default labels
    tradelake summary                             tables, row counts, quarantine by reason
    tradelake demo                                generate + run all + summary on the local defaults
    tradelake demo --olist DIR                    the Olist sample in DIR through adapter, run all, summary
    tradelake catalog [--shell [-e SQL]]          register every table under <layer>.<table> (idempotent);
                                                  --shell: then open the Spark SQL shell on the catalog
    tradelake adapt olist --source DIR [--landing DIR]
                                                  map the Olist marketplace CSVs into the landing contract

Common options: --env local|test|cluster, --set section.key=value (repeatable), --conf-dir DIR.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import time

from tradelake.config import ConfigError, Settings, load_settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", help="configuration environment: local (default), test or cluster")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration value, e.g. --set spark.master=local[2] (repeatable)")
    p.add_argument("--conf-dir", help="configuration folder (default: the project's conf/)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradelake", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    _common(sub.add_parser("setup-jars", help="download the Delta jars into the local cache"))
    j = sub.add_parser("jars", help="print the cached Delta jars, comma-separated")
    _common(j)
    j.add_argument("--local-fs", action="store_true",
                   help="print tradelake's local file system jar instead (spark-submit --driver-class-path)")
    _common(sub.add_parser("config", help="print the effective configuration"))

    g = sub.add_parser("generate", help="write the synthetic landing zone")
    _common(g)
    g.add_argument("--force", action="store_true", help="replace a landing zone generated with other parameters")

    r = sub.add_parser("run", help="run a job")
    _common(r)
    r.add_argument("job", choices=["ingest", "silver", "features", "validate", "publish", "all"])
    r.add_argument("--layer", choices=["bronze", "silver", "gold"], help="validate: the layer to validate")
    r.add_argument("--date", type=_date, help="the ingest date to process")
    r.add_argument("--from", dest="first", type=_date, help="first ingest date of a range")
    r.add_argument("--to", dest="last", type=_date, help="last ingest date of a range")
    r.add_argument("--days-per-pass", type=int, default=None,
                   help="run all: process the range in chunks of this many days (default: one pass)")
    r.add_argument("--source", dest="sources", action="append", metavar="SOURCE",
                   help="ingest: only this source (repeatable; default: every source)")

    ts = sub.add_parser("training-set", help="buyer features joined to their default labels, written to --out")
    _common(ts)
    ts.add_argument("--from", dest="first", type=_date, required=True, help="first as-of date")
    ts.add_argument("--to", dest="last", type=_date, required=True, help="last as-of date")
    ts.add_argument("--out", required=True, help="output path (a folder)")
    ts.add_argument("--format", default="parquet", choices=["parquet", "csv", "delta"])

    _common(sub.add_parser("summary", help="print tables, row counts and quarantine by reason"))

    d = sub.add_parser("demo", help="generate data, run the pipeline over it, print the summary")
    _common(d)
    d.add_argument("--olist", metavar="DIR", help="instead of generated data: the Olist sample in DIR, through its adapter")

    c = sub.add_parser("catalog", help="register every table in the catalog; --shell opens the Spark SQL shell")
    _common(c)
    c.add_argument("--shell", action="store_true", help="then open spark-sql on the catalog (starts in schema gold)")
    c.add_argument("-e", dest="sql", metavar="SQL", help="with --shell: run these statements and exit")

    a = sub.add_parser("adapt", help="map another provider's data into the landing contract")
    _common(a)
    a.add_argument("provider", choices=["olist"])
    a.add_argument("--source", required=True, help="folder with the provider's files (e.g. ../shared/data/olist_sample)")
    a.add_argument("--landing", help="landing zone to write (default: paths.landing)")
    return parser


def _settings(args) -> Settings:
    return load_settings(args.env, overrides=args.overrides, conf_dir=args.conf_dir)


def _dates(args) -> tuple[dt.date, dt.date]:
    if args.date and (args.first or args.last):
        raise SystemExit("give either --date or --from/--to, not both")
    if args.date:
        return args.date, args.date
    if args.first and args.last:
        return args.first, args.last
    raise SystemExit("give --date D, or --from D1 --to D2")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = _settings(args)
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        return 2

    if args.command == "setup-jars":
        from tradelake.jars import ensure_jars

        for path in ensure_jars(settings.jars_cache):
            print(path)
        return 0
    if args.command == "jars":
        from tradelake.jars import jar_paths, local_fs_jar

        if args.local_fs:
            jar = local_fs_jar(settings.jars_cache)
            print(jar if jar.is_file() else "")
        else:
            print(",".join(jar_paths(settings.jars_cache)))
        return 0
    if args.command == "config":
        print(json.dumps(dataclasses.asdict(settings), indent=2, default=str))
        return 0

    from tradelake.spark import build_session

    spark = build_session(settings)
    t0 = time.monotonic()
    if args.command == "generate":
        from tradelake.generate import generate

        manifest = generate(spark, settings, force=args.force)
        print(json.dumps(manifest["totals"], indent=1))
    elif args.command == "run":
        from tradelake import catalog, runner

        first, last = _dates(args)
        try:
            if args.job == "all":
                runner.run_all(spark, settings, first, last, days_per_pass=args.days_per_pass)
            elif args.job == "validate":
                if not args.layer:
                    raise SystemExit("run validate needs --layer bronze|silver|gold")
                outcome = runner.run_validate(spark, settings, args.layer, first, last)
                print(f"{args.layer} {first}..{last}: {len(outcome.rows)} expectations, {len(outcome.warnings)} warnings, "
                      f"0 failures (run {outcome.run_id}); Data Docs: {outcome.data_docs}")
            elif args.job == "ingest" and args.sources:
                runner.run_ingest(spark, settings, first, last, sources=args.sources)
            else:
                runner.RUNNERS[args.job](spark, settings, first, last)
        finally:
            catalog.register_after_run(spark, settings)  # the tables under their names (catalog.register)
    elif args.command == "training-set":
        from tradelake.gold.training import write_training_set

        print(json.dumps(write_training_set(spark, settings, args.first, args.last, args.out, args.format), default=str))
    elif args.command == "summary":
        from tradelake.summary import print_summary

        print_summary(spark, settings)
    elif args.command == "demo":
        from tradelake.demo import run_demo, run_olist_demo

        if args.olist:
            run_olist_demo(spark, settings, os.path.abspath(args.olist))
        else:
            run_demo(spark, settings)
    elif args.command == "catalog":
        from tradelake import catalog

        if not catalog.names_persist(spark, settings):
            from tradelake.spark import metastore_holder

            if settings.catalog.implementation == "hive":
                print(f"the metastore is in use by another application (pid {metastore_holder(settings)}): close it "
                      "(a SQL shell, a notebook's session, a job) and try again", file=sys.stderr)
                return 1
            print(f"catalog.implementation is {settings.catalog.implementation}: these names last only as long as this "
                  "command", file=sys.stderr)
        print(catalog.describe(catalog.register(spark, settings)))
        if args.shell:
            command = catalog.spark_sql_command(settings, ["-e", args.sql] if args.sql else [])
            catalog.stop_jvm(spark)  # the embedded metastore allows one application at a time
            sys.stdout.flush()
            os.execv(command[0], command)
    elif args.command == "adapt":
        from tradelake.adapters.olist import write_olist_landing

        landing = (args.landing if "://" in args.landing else os.path.abspath(args.landing)) if args.landing \
            else settings.landing_root
        first, last = write_olist_landing(spark, os.path.abspath(args.source), landing)
        print(json.dumps({"landing": landing, "first": first.isoformat(), "last": last.isoformat()}))
        print(f"next: tradelake run all --from {first} --to {last} --set paths.landing={landing}", file=sys.stderr)
    logging.getLogger("tradelake").info("%s finished in %.1fs", args.command, time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
