"""What the lakehouse holds: every table's rows, quarantine by reason, accounting, schema drift."""
from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from tradelake import tables
from tradelake.config import Settings


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    cells = [tuple(str(c) for c in header)] + [tuple("" if c is None else str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) if c.replace(",", "").isdigit() else c.ljust(w) for c, w in zip(r, widths, strict=False))  # noqa: E731
    return "\n".join([line(cells[0]), line(tuple("-" * w for w in widths))] + [line(r) for r in cells[1:]])


def table_counts(spark: SparkSession, settings: Settings) -> list[tuple[str, str, int | None]]:
    out = []
    for t in tables.all_tables():
        path = t.path(settings)
        n = spark.read.format("delta").load(path).count() if DeltaTable.isDeltaTable(spark, path) else None
        out.append((t.layer, t.name, n))
    return out


def print_summary(spark: SparkSession, settings: Settings) -> None:
    print(f"\nLakehouse at {settings.lakehouse_root}\n")
    counts = table_counts(spark, settings)
    print(_table([(f"{layer}/{name}", "(missing)" if n is None else f"{n:,}") for layer, name, n in counts], ("table", "rows")))

    qpath = tables.QUARANTINE.path(settings)
    if DeltaTable.isDeltaTable(spark, qpath):
        q = (
            spark.read.format("delta").load(qpath)
            .groupBy("source", "reason_code")
            .agg(F.count("*").alias("n"), F.count("resolved_date").alias("resolved"))
            .orderBy("source", "reason_code")
            .collect()
        )
        print("\nQuarantine by source and reason (resolved: orphans accepted later, or found to be duplicates)\n")
        print(_table([(r["source"], r["reason_code"], f"{r['n']:,}", f"{r['resolved']:,}") for r in q],
                     ("source", "reason", "records", "resolved")))

    apath = tables.ACCOUNTING.path(settings)
    if DeltaTable.isDeltaTable(spark, apath):
        a = (
            spark.read.format("delta").load(apath).where("stage = 'silver'")
            .groupBy("source")
            .agg(*[F.sum(c).alias(c) for c in ("records_read", "accepted", "quarantined", "duplicates", "orphans_resolved")],
                 F.count("*").alias("days"), F.sum(F.when(~F.col("balanced"), 1).otherwise(0)).alias("unbalanced"))
            .orderBy("source")
            .collect()
        )
        print("\nSilver accounting (read = accepted + quarantined + duplicates, per source and day)\n")
        print(_table([(r["source"], r["days"], f"{r['records_read']:,}", f"{r['accepted']:,}", f"{r['quarantined']:,}",
                       f"{r['duplicates']:,}", f"{r['orphans_resolved']:,}", "yes" if r["unbalanced"] == 0 else f"NO ({r['unbalanced']} days)")
                      for r in a],
                     ("source", "days", "read", "accepted", "quarantined", "duplicates", "orphans resolved", "balanced")))

    gold = []
    for t in tables.GOLD_TABLES:
        path = t.path(settings)
        if DeltaTable.isDeltaTable(spark, path):
            r = spark.read.format("delta").load(path).agg(
                F.min("as_of_date").alias("first"), F.max("as_of_date").alias("last"),
                F.countDistinct("as_of_date").alias("dates")).first()
            latest = spark.read.format("delta").load(path).where(F.col("as_of_date") == F.lit(r["last"])).count() if r["last"] else 0
            gold.append((f"gold/{t.name}", r["dates"], r["first"] or "", r["last"] or "", f"{latest:,}"))
    if gold:
        print("\nGold snapshots (one slice per as-of date)\n")
        print(_table(gold, ("table", "dates", "first", "last", "rows on last")))

    dpath = tables.DQ_RESULTS.path(settings)
    if DeltaTable.isDeltaTable(spark, dpath):
        # The latest validation of each layer: how many expectations, and which did not hold.
        dq = spark.read.format("delta").load(dpath)
        latest = dq.groupBy("layer").agg(F.max("validated_at").alias("validated_at"))
        runs = dq.join(latest, ["layer", "validated_at"])
        per_layer = runs.groupBy("layer", "first_date", "last_date").agg(
            F.count("*").alias("n"), F.sum(F.when(F.col("success"), 1).otherwise(0)).alias("ok"),
            F.sum(F.when(~F.col("success") & (F.col("severity") == "warn"), 1).otherwise(0)).alias("warn"),
            F.sum(F.when(~F.col("success") & (F.col("severity") == "fail"), 1).otherwise(0)).alias("fail"),
        ).orderBy(F.expr("array_position(array('bronze','silver','gold'), layer)")).collect()
        print("\nData quality: the latest validation of each layer (ops/dq_results; Data Docs in ops/data_docs)\n")
        print(_table([(r["layer"], f"{r['first_date']}..{r['last_date']}", r["n"], r["ok"], r["warn"], r["fail"])
                      for r in per_layer], ("layer", "dates", "expectations", "held", "warnings", "failures")))
        failed = runs.where(~F.col("success")).orderBy("layer", "table_name", "expectation").collect()
        if failed:
            print()
            print(_table([(r["severity"], r["table_name"], r["suite"].rsplit(".", 1)[-1] if r["suite"].endswith(".daily") else "rows",
                           r["expectation"], r["column_name"] or "",
                           "" if r["unexpected_count"] is None else f"{r['unexpected_count']:,}") for r in failed],
                         ("severity", "table", "frame", "expectation", "column", "unexpected")))

    fpath = tables.INGESTED_FILES.path(settings)
    if DeltaTable.isDeltaTable(spark, fpath):
        drift = (
            spark.read.format("delta").load(fpath).where(F.size("extra_columns") > 0)
            .groupBy("source", F.concat_ws(",", "extra_columns").alias("extra"))
            .agg(F.count("*").alias("files"), F.min("ingest_date").alias("first"), F.max("ingest_date").alias("last"))
            .orderBy("source")
            .collect()
        )
        if drift:
            print("\nSchema drift: files with columns not in the contract (kept in bronze _extra_fields)\n")
            print(_table([(r["source"], r["extra"], r["files"], r["first"], r["last"]) for r in drift],
                         ("source", "extra columns", "files", "first day", "last day")))
    print()
