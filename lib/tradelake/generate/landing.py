"""Writing generated records to the landing zone: <landing>/<source>/ingest_date=D/<source>_D_<k>.<ext>.

Lines are built as text (so that malformed lines and drifted columns can be written at all), a CSV file
starts with its header, and every file's content and name are a function of the seed.
"""
from __future__ import annotations

import hashlib

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import fs
from tradelake.contracts import Source
from tradelake.generate.defects import MALFORMED

DRIFT_COLUMN = "x_channel"
NUMERIC = {"int", "decimal2", "decimal6"}
JSON_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def stable_uniform(*parts: object) -> float:
    """Uniform in [0, 1) from a hash, for decisions made on the driver (per source-day, not per row)."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def csv_field(v: Column) -> Column:
    quoted = F.concat(F.lit('"'), F.regexp_replace(v, '"', '""'), F.lit('"'))
    return F.when(v.isNull(), F.lit("")).when(v.rlike('[",\r\n]'), quoted).otherwise(v)


def json_value(v: Column, numeric: bool) -> Column:
    """A JSON value: numbers of numeric fields as numbers, everything else as an escaped string."""
    escaped = F.regexp_extract(F.to_json(F.array(v)), r"^\[(.*)\]$", 1)
    return F.when(v.rlike(JSON_NUMBER), v).otherwise(escaped) if numeric else escaped


def to_lines(src: Source, drifted: Column) -> callable:
    """Adds `_line`: the record as CSV or JSON text, with the drift column where `drifted`."""
    names = src.field_names
    extra = F.element_at(F.array(F.lit("EDI"), F.lit("API"), F.lit("PORTAL")),
                         (F.abs(F.xxhash64("_rid")) % 3 + 1).cast("int"))

    def transform(df: DataFrame) -> DataFrame:
        if src.format == "csv":
            line = F.concat_ws(",", *[csv_field(F.col(n)) for n in names])
            line = F.when(drifted, F.concat(line, F.lit(","), extra)).otherwise(line)
            keep = max(1, len(names) - 3)  # a truncated line has too few fields: MALFORMED
            broken = F.substring_index(line, ",", keep)
        else:
            members = [
                F.when(F.col(n).isNotNull(), F.concat(F.lit(f'"{n}":'), json_value(F.col(n), src.field(n).type in NUMERIC)))
                for n in names
            ]
            members.append(F.when(drifted, F.concat(F.lit(f'"{DRIFT_COLUMN}":"'), extra, F.lit('"'))))
            line = F.concat(F.lit("{"), F.concat_ws(",", *members), F.lit("}"))
            broken = F.substring(line, 1, (F.length(line) / 2).cast("int"))  # cut in half: invalid JSON
        return df.withColumn("_line", F.when(F.col("_expect") == MALFORMED, broken).otherwise(line))

    return transform


def header(src: Source, drifted: bool) -> str:
    return ",".join(src.field_names + ([DRIFT_COLUMN] if drifted else []))


def write_source(spark: SparkSession, src: Source, lines: DataFrame, drift_days: set, out_dir: str,
                 max_rows_per_file: int) -> int:
    """Write one source's lines (columns `_line`, `_ingest_date`, `_order`): one file per day, more for
    days above max_rows_per_file. Returns the number of files."""
    per_day = {r["_ingest_date"]: r["n"] for r in lines.groupBy("_ingest_date").agg(F.count("*").alias("n")).collect()}
    files_per_day = {d: max(1, -(-n // max_rows_per_file)) for d, n in per_day.items()}
    nfiles = F.create_map(*[x for d, k in files_per_day.items() for x in (F.lit(d), F.lit(k))])
    body = lines.select(
        "_ingest_date",
        F.pmod(F.xxhash64("_order"), nfiles[F.col("_ingest_date")]).cast("int").alias("_file_no"),
        F.lit(1).alias("_is_body"),
        "_order",
        F.col("_line").alias("value"),
    )
    if src.format == "csv":
        heads = spark.createDataFrame(
            [(d, k, 0, "", header(src, (src.name, d) in drift_days)) for d, n in files_per_day.items() for k in range(n)],
            "_ingest_date date, _file_no int, _is_body int, _order string, value string",
        )
        body = heads.unionByName(body)
    staging = f"{out_dir.rstrip('/')}/_staging_{src.name}"
    fs.delete(spark, staging)
    (
        body.repartition(max(1, min(len(files_per_day) * 2, 200)), "_ingest_date", "_file_no")
        .sortWithinPartitions("_ingest_date", "_file_no", "_is_body", "_order")
        .select("value", F.col("_ingest_date").cast("string").alias("ingest_date"), "_file_no")
        .write.partitionBy("ingest_date", "_file_no")
        .text(staging)
    )
    ext = "csv" if src.format == "csv" else "jsonl"
    count = 0
    for day_dir in fs.list_dirs(spark, staging):
        day = day_dir.split("=", 1)[1]
        target_dir = f"{out_dir.rstrip('/')}/{src.name}/{day_dir}"
        fs.delete(spark, target_dir)
        for k_dir in fs.list_dirs(spark, f"{staging}/{day_dir}"):
            k = k_dir.split("=", 1)[1]
            parts = fs.list_files(spark, f"{staging}/{day_dir}/{k_dir}")
            if len(parts) != 1:  # repartitioning by (day, file) puts each file's lines in one task
                raise RuntimeError(f"expected one part file in {staging}/{day_dir}/{k_dir}, found {len(parts)}")
            fs.mkdirs(spark, target_dir)
            fs.rename(spark, parts[0].path, f"{target_dir}/{src.name}_{day}_{k}.{ext}")
            count += 1
    fs.delete(spark, staging)
    return count
