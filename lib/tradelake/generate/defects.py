"""Defects injected into the landing zone, one of each reason code the contracts know, plus exact
duplicates, schema drift and late parents (which make orphans).

A defect is a corrupted re-send of a clean record (arriving the same day or up to two days later): the
clean record itself is untouched, so a defect never cascades (its children are not orphaned by it) and
each injected defect ends as exactly one quarantine row with a known reason. Payments and events keep
unique ids, so their defective copies get a new id.

Every corruption below was chosen to trip exactly its own rule and none earlier in the reason order.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradelake.contracts import REASON_CODES
from tradelake.generate.catalog import CURRENCY_WITHOUT_RATES
from tradelake.generate.rand import Rand

MALFORMED = "MALFORMED"
DUPLICATE = "DUPLICATE"
LATE_PARENT = "LATE_PARENT"
# Injected kinds, in the order their shares are laid out on [0, 1).
DEFECT_KINDS = REASON_CODES[:-1]  # every reason but ORPHAN, which late parents produce naturally
GENERATOR_KINDS = DEFECT_KINDS + (DUPLICATE, LATE_PARENT)


def _future_ts(ingest: Column) -> Column:
    return F.concat(F.date_add(ingest, 3).cast("string"), F.lit("T10:00:00Z"))


@dataclass(frozen=True)
class Corruption:
    field: str
    value: Callable[[Column], Column]  # given the copy's ingest date, the bad value


def _const(v: str) -> Callable[[Column], Column]:
    return lambda ingest: F.lit(v)


# source -> reason -> how to corrupt (MALFORMED is done on the written line, see landing.py)
CORRUPTIONS: dict[str, dict[str, Corruption]] = {
    "fx_rates": {
        "MISSING_REQUIRED": Corruption("usd_per_unit", _const("")),
        "INVALID_TYPE": Corruption("usd_per_unit", _const("1,0843")),
        "OUT_OF_DOMAIN": Corruption("usd_per_unit", _const("-1.250000")),
        "FUTURE_TIMESTAMP": Corruption("rate_date", lambda i: F.date_add(i, 3).cast("string")),
    },
    "suppliers": {
        "MISSING_REQUIRED": Corruption("industry", _const("")),
        "INVALID_TYPE": Corruption("onboarded_date", _const("31/12/2025")),
        "OUT_OF_DOMAIN": Corruption("country", _const("XX")),
        "FUTURE_TIMESTAMP": Corruption("updated_at", _future_ts),
        "FX_MISSING": Corruption("credit_limit_currency", _const(CURRENCY_WITHOUT_RATES)),
    },
    "transactions": {
        "MISSING_REQUIRED": Corruption("category", _const("")),
        "INVALID_TYPE": Corruption("quantity", _const("12 pcs")),
        "OUT_OF_DOMAIN": Corruption("status", _const("SHIPPED")),
        "AMOUNT_MISMATCH": Corruption("amount", None),  # amount + 7.00, see below
        "FUTURE_TIMESTAMP": Corruption("updated_at", _future_ts),
        "FX_MISSING": Corruption("currency", _const(CURRENCY_WITHOUT_RATES)),
    },
    "payments": {
        "MISSING_REQUIRED": Corruption("txn_id", _const("")),
        "INVALID_TYPE": Corruption("amount", _const("12.5.0")),
        "OUT_OF_DOMAIN": Corruption("method", _const("CHEQUE")),
        "FUTURE_TIMESTAMP": Corruption("paid_ts", _future_ts),
        "FX_MISSING": Corruption("currency", _const(CURRENCY_WITHOUT_RATES)),
    },
    "shipments": {
        "MISSING_REQUIRED": Corruption("carrier", _const("")),
        "INVALID_TYPE": Corruption("promised_date", _const("2026-02-30")),
        "OUT_OF_DOMAIN": Corruption("mode", _const("BOAT")),
        "FUTURE_TIMESTAMP": Corruption("updated_at", _future_ts),
    },
    "shipment_events": {
        "MISSING_REQUIRED": Corruption("event_ts", _const("")),
        "INVALID_TYPE": Corruption("event_ts", _const("2026-03-01 10:00:00")),
        "OUT_OF_DOMAIN": Corruption("event_type", _const("LOST")),
        "FUTURE_TIMESTAMP": Corruption("event_ts", _future_ts),
    },
}
# Copies of these keep nothing unique: their id gets a suffix so only the injected defect trips.
FRESH_ID = {"payments": "payment_id", "shipment_events": "event_id"}


def kinds_for(source: str) -> list[str]:
    return [MALFORMED] + list(CORRUPTIONS[source])


def defect_copies(source: str, fields: list[str], clean: DataFrame, rnd: Rand, rates: dict[str, float],
                  last_day: dt.date) -> DataFrame:
    """Corrupted re-sends of some clean records, each with `_expect` = its reason code."""
    u = rnd.u(f"defect.{source}", "_rid")
    kind = F.lit(None).cast("string")
    lo = 0.0
    for k in DEFECT_KINDS:
        hi = lo + rates.get(k, 0.0)
        if k in kinds_for(source):
            kind = F.when((u >= lo) & (u < hi), F.lit(k)).otherwise(kind)
        lo = hi
    picked = clean.withColumn("_expect", kind).where(F.col("_expect").isNotNull())
    ingest = F.date_add("_ingest_date", rnd.int_between(f"defect.{source}.when", 0, 2, "_rid"))
    picked = picked.withColumn("_ingest_date", ingest).where(F.col("_ingest_date") <= F.lit(last_day))
    cols = {}
    for f in fields:
        value = F.col(f)
        for reason, c in CORRUPTIONS[source].items():
            if c.field != f:
                continue
            bad = (
                (F.col("amount").cast("decimal(18,2)") + F.lit(7)).cast("decimal(18,2)").cast("string")
                if reason == "AMOUNT_MISMATCH"
                else c.value(F.col("_ingest_date"))
            )
            value = F.when(F.col("_expect") == reason, bad).otherwise(value)
        if FRESH_ID.get(source) == f:
            value = F.concat(value, F.lit("-X"))
        cols[f] = value
    return picked.select(
        *[cols[f].alias(f) for f in fields],
        "_ingest_date", "_event_ts", F.concat(F.col("_rid"), F.lit(":defect")).alias("_rid"),
        "_key", "_parent", "_expect", F.lit(None).cast("date").alias("_resolved_on"),
    )


def duplicate_copies(source: str, fields: list[str], accepted: DataFrame, rnd: Rand, rate: float,
                     last_day: dt.date) -> DataFrame:
    """Exact re-sends of clean records, arriving once the original is accepted (or up to 3 days later):
    each is counted as a duplicate. accepted: clean records with `_accept_on`."""
    picked = accepted.where(F.col("_accept_on").isNotNull() & (rnd.u(f"dup.{source}", "_rid") < rate))
    picked = picked.withColumn(
        "_ingest_date", F.date_add("_accept_on", rnd.int_between(f"dup.{source}.when", 0, 3, "_rid"))
    ).where(F.col("_ingest_date") <= F.lit(last_day))
    return picked.select(
        *fields, "_ingest_date", "_event_ts", F.concat(F.col("_rid"), F.lit(":dup")).alias("_rid"),
        "_key", "_parent", F.lit(DUPLICATE).alias("_expect"), F.lit(None).cast("date").alias("_resolved_on"),
    )
