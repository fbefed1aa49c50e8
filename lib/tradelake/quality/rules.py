"""The expectations of every bronze, silver and gold table, derived from the declarations that already
exist: the source contracts (tradelake.contracts), the table schemas (tradelake.tables) and the feature
ranges declared with each gold feature (tradelake.gold.common.feature). Nothing here is written out per
table: adding a field, a check or a feature adds its expectations.

Each expectation has a severity:
  fail  the data is wrong: the pipeline stops, and gold for the date is not published
  warn  worth a look (raw defects in bronze that silver quarantines, volume, freshness, drift): recorded

Each table has two suites, validated on two frames (tradelake.quality.frames):
  <layer>.<table>          the rows of the validated dates
  <layer>.<table>.daily    one row per validated date: row count against the trailing median (volume),
                           newest event date against the date (freshness)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import types as T

from tradelake import tables
from tradelake.config import Settings
from tradelake.contracts import SOURCES, Source
from tradelake.silver.validate import PATTERNS

FAIL = "fail"
WARN = "warn"

# Columns added to a validation frame (tradelake.quality.frames), checked like the table's own.
PARENT_KNOWN = "_parent_known"  # silver: the row's parent key exists in the parent's silver table
DAILY_DATE = "date"
VOLUME_RATIO = "volume_ratio"  # rows of the day / median rows of the previous days
FRESHNESS_LAG = "freshness_lag_days"  # the day - newest event date of the day's rows


@dataclass(frozen=True)
class Rule:
    """One expectation: a Great Expectations class name and its arguments, with a severity."""

    expectation: str
    kwargs: dict = field(default_factory=dict)
    severity: str = FAIL
    why: str = ""

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


@dataclass(frozen=True)
class Suite:
    name: str  # <layer>.<table>[.daily]
    table: tables.TableDef
    rules: tuple[Rule, ...]
    daily: bool = False  # validated on the per-date frame rather than on the rows


# -------------------------------------------------------------------------------------------------
# Building blocks
# -------------------------------------------------------------------------------------------------
GX_TYPE_NAMES = {  # Spark type -> the name Great Expectations reports for a Spark column
    T.StringType: "StringType", T.IntegerType: "IntegerType", T.LongType: "LongType", T.DoubleType: "DoubleType",
    T.DecimalType: "DecimalType", T.DateType: "DateType", T.TimestampType: "TimestampType",
    T.BooleanType: "BooleanType", T.MapType: "MapType", T.ArrayType: "ArrayType",
}


def schema_rules(schema: T.StructType, extra_columns: tuple[str, ...] = ()) -> list[Rule]:
    """Exactly the declared columns, each of its declared type."""
    rules = [Rule("ExpectTableColumnsToMatchSet",
                  {"column_set": [f.name for f in schema.fields] + list(extra_columns), "exact_match": True},
                  why="the declared columns, no more, no fewer")]
    rules += [Rule("ExpectColumnValuesToBeOfType", {"column": f.name, "type_": GX_TYPE_NAMES[type(f.dataType)]},
                   why="declared type") for f in schema.fields]
    return rules


def key_rules(key: list[str], severity: str = FAIL) -> list[Rule]:
    unique = (Rule("ExpectColumnValuesToBeUnique", {"column": key[0]}, severity, "key") if len(key) == 1
              else Rule("ExpectCompoundColumnsToBeUnique", {"column_list": key}, severity, "key"))
    return [unique] + [Rule("ExpectColumnValuesToNotBeNull", {"column": k}, severity, "key") for k in key]


def volume_rules(settings: Settings) -> list[Rule]:
    tol = settings.quality.volume_tolerance
    return [Rule("ExpectColumnValuesToBeBetween",
                 {"column": VOLUME_RATIO, "min_value": round(1 - tol, 6), "max_value": round(1 / (1 - tol), 6)}, WARN,
                 f"volume: rows against the median of the previous {settings.quality.volume_window_days} days")]


def freshness_rules(settings: Settings) -> list[Rule]:
    # -1: an event may be up to a day after its arrival date (later is FUTURE_TIMESTAMP, left out of it).
    return [Rule("ExpectColumnValuesToBeBetween",
                 {"column": FRESHNESS_LAG, "min_value": -1, "max_value": settings.quality.freshness_max_lag_days}, WARN,
                 "freshness: days from the newest event date to the run date")]


def freshness_field(src: Source) -> str:
    """The field whose date says how recent a record is: its version time, else its first event time."""
    return src.version_column or next(f.name for f in src.fields if f.event_time)


# -------------------------------------------------------------------------------------------------
# Bronze: the contract checked on the raw strings, as warnings (silver quarantines what fails them)
# -------------------------------------------------------------------------------------------------
def bronze_suites(src: Source, settings: Settings) -> list[Suite]:
    t = tables.bronze(src.name)
    rules = schema_rules(t.schema) + key_rules(["_record_id"]) + [
        Rule("ExpectColumnValuesToNotBeNull", {"column": "_ingest_date"}, why="landing date"),
        Rule("ExpectColumnValuesToBeNull", {"column": "_corrupt_record"}, WARN, "MALFORMED lines"),
    ]
    parsed = {"only_parsed_lines": True}  # gx.py: row_condition Column("_corrupt_record").is_null()
    for f in src.fields:
        if f.required:
            rules.append(Rule("ExpectColumnValuesToNotBeNull", {"column": f.name, **parsed}, WARN, "required"))
        if f.type in PATTERNS:
            rules.append(Rule("ExpectColumnValuesToMatchRegex", {"column": f.name, "regex": PATTERNS[f.type], **parsed},
                              WARN, f"parses as {f.type}"))
        if f.allowed:
            rules.append(Rule("ExpectColumnValuesToBeInSet", {"column": f.name, "value_set": list(f.allowed), **parsed},
                              WARN, "allowed values"))
        for c in f.checks:
            if c.expect and c.expect[0] in ("ExpectColumnValuesToBeInSet", "ExpectColumnValueLengthsToBeBetween"):
                rules.append(Rule(c.expect[0], {"column": f.name, **c.expect[1], **parsed}, WARN, c.describe))
    daily = (volume_rules(settings) if src.steady_volume else []) + freshness_rules(settings)
    return [Suite(t.qualified, t, tuple(rules)), Suite(f"{t.qualified}.daily", t, tuple(daily), daily=True)]


# -------------------------------------------------------------------------------------------------
# Silver: the contract as failures (nothing that breaks it may have been accepted)
# -------------------------------------------------------------------------------------------------
def silver_key(src: Source) -> list[str]:
    """What identifies a silver row: the key, plus the version for sources that keep every version."""
    if src.scd2:
        return [*src.key, "valid_from"]
    if src.version_column:
        return [*src.key, src.version_column]
    return list(src.key)


def silver_suites(src: Source, settings: Settings) -> list[Suite]:
    t = tables.silver(src.name)
    extra = (PARENT_KNOWN,) if src.parent else ()
    rules = schema_rules(t.schema, extra) + key_rules(silver_key(src))
    for f in src.fields:
        col = f.silver_name
        if f.required and col not in silver_key(src):
            rules.append(Rule("ExpectColumnValuesToNotBeNull", {"column": col}, why="required"))
        if f.allowed:
            rules.append(Rule("ExpectColumnValuesToBeInSet", {"column": col, "value_set": list(f.allowed)}, why="allowed values"))
        for c in f.checks:
            if c.expect:
                rules.append(Rule(c.expect[0], {"column": col, **c.expect[1]}, why=c.describe))
        if f.pii:
            rules.append(Rule("ExpectColumnValuesToMatchRegex", {"column": col, "regex": "^[0-9a-f]{64}$"},
                              why="PII stored only as its HMAC-SHA-256"))
    for usd in src.usd_columns:
        rules.append(Rule("ExpectColumnValuesToBeBetween", {"column": usd, "min_value": 0}, why="money is non-negative"))
    if src.fx:
        rules.append(Rule("ExpectColumnValuesToBeBetween", {"column": src.fx.rate_column, "min_value": 0, "strict_min": True},
                          why="FX rate > 0"))
    if src.parent:
        rules.append(Rule("ExpectColumnValuesToBeInSet", {"column": PARENT_KNOWN, "value_set": [True]},
                          why=f"referential integrity: {src.parent.column} exists in silver.{src.parent.source}"))
    daily = (volume_rules(settings) if src.steady_volume else []) + freshness_rules(settings)
    return [Suite(t.qualified, t, tuple(rules)), Suite(f"{t.qualified}.daily", t, tuple(daily), daily=True)]


# -------------------------------------------------------------------------------------------------
# Gold: keys, counts never null, every feature within its declared range
# -------------------------------------------------------------------------------------------------
GOLD_KEYS = {
    "supplier_scorecard": ["supplier_id", "as_of_date"],
    "supplier_credit_features": ["supplier_id", "as_of_date"],
    "buyer_credit_features": ["buyer_id", "as_of_date"],
    "buyer_default_labels": ["buyer_id", "as_of_date"],
    "lane_performance": ["origin_country", "destination_country", "carrier", "mode", "week_start", "as_of_date"],
}


def gold_suites(table: tables.TableDef, settings: Settings) -> list[Suite]:
    rules = schema_rules(table.schema) + key_rules(GOLD_KEYS[table.name])
    for f in table.schema.fields:
        if isinstance(f.dataType, T.LongType):
            rules.append(Rule("ExpectColumnValuesToNotBeNull", {"column": f.name}, why="a count is 0, never null"))
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        if lo is not None or hi is not None:
            kwargs = {"column": f.name, **({"min_value": lo} if lo is not None else {}),
                      **({"max_value": hi} if hi is not None else {})}
            rules.append(Rule("ExpectColumnValuesToBeBetween", kwargs, why="declared feature range"))
    if table.name == "buyer_credit_features":
        rules.append(Rule("ExpectColumnValuesToBeInSet",
                          {"column": "dpd_bucket_now", "value_set": ["CURRENT", "1-29", "30-59", "60-89", "90+"]},
                          why="days-past-due buckets"))
    daily = volume_rules(settings)
    return [Suite(table.qualified, table, tuple(rules)), Suite(f"{table.qualified}.daily", table, tuple(daily), daily=True)]


DRIFT_RULES = (
    Rule("ExpectColumnValuesToBeBetween", {"column": "psi", "max_value": 0.25}, WARN,
         "feature drift: PSI against the reference snapshot above 0.25 is a shift"),
)

def suites(layer: str, settings: Settings) -> list[Suite]:
    if layer == "bronze":
        return [s for src in SOURCES.values() for s in bronze_suites(src, settings)]
    if layer == "silver":
        return [s for src in SOURCES.values() for s in silver_suites(src, settings)]
    if layer == "gold":
        return [s for t in tables.GOLD_TABLES for s in gold_suites(t, settings)]
    raise ValueError(f"unknown layer {layer!r}: bronze, silver or gold")


LAYERS = ("bronze", "silver", "gold")
