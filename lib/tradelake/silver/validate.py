"""Typing and judging raw records against their contract: pure DataFrame -> DataFrame transforms.

A batch goes through, in order:
  with_typed_values      typed copies of each field (`__t_<field>`), null where a value does not parse
  with_static_checks     MALFORMED, MISSING_REQUIRED, INVALID_TYPE, OUT_OF_DOMAIN (field and cross-field
                         rules), AMOUNT_MISMATCH, FUTURE_TIMESTAMP: one detail column per check, from the
                         record alone
  with_uniqueness        OUT_OF_DOMAIN for a key already used by a different record (lookups.py)
  with_fx / with_orphans FX_MISSING and ORPHAN (lookups.py)
  with_reason            the first failing check in the contract's order -> _reason, _reason_detail
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradelake.contracts import REASON_CODES, Source

TYPED_PREFIX = "__t_"
CHECK_PREFIX = "__fail_"

# What a well-formed value of each type looks like (the cast after it catches impossible values such as
# 2026-02-30 or 25:00). Timestamps must be ISO-8601 with an offset (sources.md).
PATTERNS = {
    "int": r"^[+-]?[0-9]{1,9}$",
    "decimal2": r"^[+-]?[0-9]{1,16}(\.[0-9]{1,2})?$",
    "decimal6": r"^[+-]?[0-9]{1,12}(\.[0-9]{1,6})?$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$",
}


def typed(name: str) -> Column:
    """Accessor for contract rules: the typed value of a field (or the batch's `_ingest_date`)."""
    return F.col(name) if name.startswith("_") else F.col(TYPED_PREFIX + name)


def _present(name: str) -> Column:
    v = F.trim(F.col(name))
    return v.isNotNull() & (v != "")


def parse_value(raw: Column, ftype: str) -> Column:
    v = F.trim(raw)
    v = F.when(v != "", v)
    if ftype == "string":
        return v
    ok = v.rlike(PATTERNS[ftype])
    if ftype == "int":
        parsed = v.try_cast("int")
    elif ftype == "decimal2":
        parsed = v.try_cast("decimal(18,2)")
    elif ftype == "decimal6":
        parsed = v.try_cast("decimal(18,6)")
    elif ftype == "date":
        parsed = F.try_to_date(v, "yyyy-MM-dd")
    elif ftype == "timestamp":
        parsed = v.try_cast("timestamp")
    else:
        raise ValueError(f"unknown field type {ftype}")
    return F.when(ok, parsed)


def with_typed_values(src: Source):
    def transform(df: DataFrame) -> DataFrame:
        return df.select("*", *[parse_value(F.col(f.name), f.type).alias(TYPED_PREFIX + f.name) for f in src.fields])

    return transform


def _first(pairs: list[tuple[Column, Column]]) -> Column:
    """The detail of the first failing (condition, detail) pair, or null."""
    out = F.lit(None).cast("string")
    for cond, detail in reversed(pairs):
        out = F.when(cond, detail).otherwise(out)
    return out


def _got(name: str) -> Column:
    return F.concat(F.lit(" (got '"), F.substring(F.col(name), 1, 40), F.lit("')"))


def with_static_checks(src: Source):
    """One `__fail_<CODE>` detail column per check that needs nothing but the record itself."""

    def transform(df: DataFrame) -> DataFrame:
        # (bronze written before _corrupt_reason was declared has no file-level reasons)
        file_reason = F.col("_corrupt_reason") if "_corrupt_reason" in df.columns else F.lit(None).cast("string")
        malformed = F.when(F.col("_corrupt_record").isNotNull(),
                           F.coalesce(file_reason, F.lit("line could not be parsed")))

        missing_pairs = [
            (~_present(f.name), F.lit(f"{f.name}: required")) for f in src.fields if f.required
        ] + [
            (F.coalesce(rw.condition(typed), F.lit(False)) & ~_present(rw.field), F.lit(rw.describe))
            for rw in src.required_when
        ]

        invalid_pairs = [
            (_present(f.name) & F.col(TYPED_PREFIX + f.name).isNull(),
             F.concat(F.lit(f"{f.name}: not a valid {f.type}"), _got(f.name)))
            for f in src.fields if f.type != "string"
        ]

        domain_pairs = []
        for f in src.fields:
            v = F.col(TYPED_PREFIX + f.name)
            if f.allowed:
                domain_pairs.append((v.isNotNull() & ~v.isin(list(f.allowed)),
                                     F.concat(F.lit(f"{f.name}: not one of {', '.join(f.allowed)}"), _got(f.name))))
            for chk in f.checks:
                domain_pairs.append((v.isNotNull() & ~F.coalesce(chk.valid(v), F.lit(False)),
                                     F.concat(F.lit(f"{f.name}: must be {chk.describe}"), _got(f.name))))
        for rule in src.rules:
            all_present = F.lit(True)
            for name in rule.fields:
                all_present = all_present & typed(name).isNotNull()
            domain_pairs.append((all_present & ~F.coalesce(rule.valid(typed), F.lit(False)), F.lit(rule.describe)))

        amount = F.lit(None).cast("string")
        if src.amount_check:
            a = src.amount_check
            diff = F.abs(typed(a.amount) - typed(a.quantity) * typed(a.unit_price))
            amount = F.when(diff > F.lit(a.tolerance),
                            F.concat(F.lit(f"{a.amount} differs from {a.quantity} x {a.unit_price} by "), diff.cast("string")))

        end_of_next_day = F.to_timestamp(F.date_add(F.col("_ingest_date"), 2))  # exclusive bound
        future_pairs = []
        for f in src.fields:
            if not f.event_time:
                continue
            v = F.col(TYPED_PREFIX + f.name)
            late = v >= end_of_next_day if f.type == "timestamp" else v > F.date_add(F.col("_ingest_date"), 1)
            future_pairs.append((F.coalesce(late, F.lit(False)),
                                 F.concat(F.lit(f"{f.name}: after the end of ingest_date + 1 day"), _got(f.name))))

        return df.select(
            "*",
            malformed.alias(CHECK_PREFIX + "MALFORMED"),
            _first(missing_pairs).alias(CHECK_PREFIX + "MISSING_REQUIRED"),
            _first(invalid_pairs).alias(CHECK_PREFIX + "INVALID_TYPE"),
            _first(domain_pairs).alias(CHECK_PREFIX + "OUT_OF_DOMAIN"),
            amount.alias(CHECK_PREFIX + "AMOUNT_MISMATCH"),
            _first(future_pairs).alias(CHECK_PREFIX + "FUTURE_TIMESTAMP"),
            F.lit(None).cast("string").alias(CHECK_PREFIX + "FX_MISSING"),
            F.lit(None).cast("string").alias(CHECK_PREFIX + "ORPHAN"),
        )

    return transform


def failed_before(code: str) -> Column:
    """True when some check earlier than `code` in the reason order failed."""
    earlier = REASON_CODES[: REASON_CODES.index(code)]
    out = F.lit(False)
    for c in earlier:
        out = out | F.col(CHECK_PREFIX + c).isNotNull()
    return out


def with_reason(df: DataFrame) -> DataFrame:
    """`_reason` / `_reason_detail`: the first failing check in the contract's order (null: valid)."""
    reason = F.lit(None).cast("string")
    detail = F.lit(None).cast("string")
    for code in reversed(REASON_CODES):
        c = F.col(CHECK_PREFIX + code)
        reason = F.when(c.isNotNull(), F.lit(code)).otherwise(reason)
        detail = F.when(c.isNotNull(), c).otherwise(detail)
    return df.withColumn("_reason", reason).withColumn("_reason_detail", detail)


def record_hash(src: Source) -> Column:
    """SHA-256 of the contract fields as read: two records are exact duplicates when it is equal."""
    parts = [F.coalesce(F.col(n), F.lit("\u0000")) for n in src.field_names]
    return F.sha2(F.concat_ws("\u001f", *parts), 256)
