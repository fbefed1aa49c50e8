"""`tradelake generate`: a deterministic synthetic landing zone with a manifest of what it holds.

    from tradelake.generate import generate
    manifest = generate(spark, settings)   # sizes and defect rates from settings.generator

The manifest (<landing>/_manifest.json) says, per source and ingest date, how many records were
written and what the pipeline must make of them: accepted, duplicates, quarantined per reason code,
and orphans resolved per day; and which source-days carry a drifted extra column.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tradelake import fs
from tradelake.config import GeneratorSettings, Settings
from tradelake.contracts import SOURCE_ORDER, SOURCES
from tradelake.generate import world
from tradelake.generate.defects import DUPLICATE, LATE_PARENT, defect_copies, duplicate_copies
from tradelake.generate.expect import manifest_counts, summarise, with_accept_dates
from tradelake.generate.landing import DRIFT_COLUMN, stable_uniform, to_lines, write_source
from tradelake.generate.rand import Rand

log = logging.getLogger(__name__)
MANIFEST = "_manifest.json"
META = ["_ingest_date", "_event_ts", "_rid", "_key", "_parent", "_expect", "_resolved_on"]


class LandingExists(RuntimeError):
    pass


def parameters(g: GeneratorSettings, retry_days: int) -> dict:
    return {
        "seed": g.seed,
        "start_date": g.start_date.isoformat(),
        "days": g.days,
        "transactions": g.transactions,
        "suppliers": g.suppliers,
        "buyers": g.buyers,
        "defect_rates": dict(sorted(g.defect_rates.items())),
        "schema_drift_rate": g.schema_drift_rate,
        "max_rows_per_file": g.max_rows_per_file,
        "orphan_retry_days": retry_days,
    }


def read_manifest(spark: SparkSession, settings: Settings) -> dict | None:
    text = fs.read_text(spark, f"{settings.landing_root}/{MANIFEST}")
    return json.loads(text) if text else None


def clean_records(spark: SparkSession, p: world.WorldParams, rnd: Rand) -> tuple[dict[str, DataFrame], DataFrame]:
    sup = world.suppliers(spark, rnd, p).persist()
    buy = world.buyers(spark, rnd, p).persist()
    orders = world.orders(spark, rnd, p, sup, buy).persist(StorageLevel.MEMORY_AND_DISK)
    clean = {
        "fx_rates": world.fx_rates(spark, rnd, p),
        "suppliers": world.supplier_records(rnd, p, sup),
        "transactions": world.transaction_records(rnd, p, orders),
        "payments": world.payment_records(rnd, p, orders),
        "shipments": world.shipment_records(rnd, p, orders),
        "shipment_events": world.event_records(rnd, p, orders),
    }
    # What arrives after the last day has not arrived yet.
    return {k: v.where(F.col("_ingest_date") <= F.lit(p.end)) for k, v in clean.items()}, orders


def generate(spark: SparkSession, settings: Settings, force: bool = False) -> dict:
    """Write the landing zone for settings.generator (or reuse it if already generated with the same
    parameters) and return its manifest."""
    g = settings.generator
    params = parameters(g, settings.silver.orphan_retry_days)
    root = settings.landing_root.rstrip("/")
    existing = read_manifest(spark, settings)
    if existing is not None:
        if existing.get("parameters") == params and not force:
            log.info("landing zone %s already generated with these parameters: reused", root)
            return existing
        if not force:
            raise LandingExists(
                f"{root} holds data generated with other parameters ({existing.get('parameters')}); "
                "use --force to replace it (and start from an empty lakehouse)"
            )
    if force or existing is not None:
        for name in SOURCE_ORDER:
            fs.delete(spark, f"{root}/{name}")
        fs.delete(spark, f"{root}/{MANIFEST}")

    t0 = time.monotonic()
    unknown = set(g.defect_rates) - set(("MALFORMED", "MISSING_REQUIRED", "INVALID_TYPE", "OUT_OF_DOMAIN",
                                         "AMOUNT_MISMATCH", "FUTURE_TIMESTAMP", "FX_MISSING", DUPLICATE, LATE_PARENT))
    if unknown:
        raise ValueError(f"generator.defect_rates: unknown kinds {sorted(unknown)}")
    p = world.WorldParams(g.seed, g.start_date, g.days, g.transactions, g.suppliers, g.buyers,
                          g.defect_rates.get(LATE_PARENT, 0.0))
    rnd = Rand(g.seed)
    clean, orders = clean_records(spark, p, rnd)
    expected = with_accept_dates(clean, settings.silver.orphan_retry_days)

    days = [p.start + dt.timedelta(days=i) for i in range(p.days)]
    drift_days = {(s, d) for s in SOURCE_ORDER for d in days if stable_uniform(g.seed, "drift", s, d) < g.schema_drift_rate}
    counts, files = [], 0
    for name in SOURCE_ORDER:
        src = SOURCES[name]
        fields = src.field_names
        base = expected[name].select(*fields, *META)
        defects = defect_copies(name, fields, clean[name], rnd, g.defect_rates, p.end)
        dups = duplicate_copies(name, fields, expected[name], rnd, g.defect_rates.get(DUPLICATE, 0.0), p.end)
        drifted = F.lit(False)
        for (s, d) in drift_days:
            if s == name:
                drifted = drifted | (F.col("_ingest_date") == F.lit(d))
        lines = (
            base.unionByName(defects).unionByName(dups)
            .transform(to_lines(src, drifted))
            .withColumn("_order", F.concat(F.date_format("_event_ts", "yyyyMMddHHmmss"), F.col("_rid")))
            .withColumn("_source", F.lit(name))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        counts += manifest_counts(lines).collect()  # sources x days x outcomes: small
        files += write_source(spark, src, lines, drift_days, root, g.max_rows_per_file)
        lines.unpersist()
        log.info("generated %s", name)
    orders.unpersist()

    manifest = {
        "parameters": params,
        **summarise(counts, {s: sorted(d.isoformat() for (s2, d) in drift_days if s2 == s) for s in SOURCE_ORDER}),
        "drift_column": DRIFT_COLUMN,
        "files": files,
    }
    fs.write_text(spark, f"{root}/{MANIFEST}", json.dumps(manifest, indent=1, sort_keys=True))
    log.info("landing zone %s: %d files in %.1fs", root, files, time.monotonic() - t0)
    return manifest
