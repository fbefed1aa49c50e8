"""The raw source contracts (shared/spec/sources.md), declared once.

Everything that depends on a source's shape is derived from these declarations: the bronze schema
(all strings), the silver schema (typed, PII hashed, USD amounts), every quarantine rule, the order in
which sources are processed, and the generator's output. A rule lives here, next to its field.

Required fields: the contract marks some fields "required"; we also require every field without which a
record cannot be used downstream (a transaction's quantity, price, currency, amount, status and terms; a
payment's type, amount and currency; a shipment's mode, countries and quantity; an event's type). Optional:
a supplier's tier, credit limit and its currency, contact details; a payment's method and payer account;
an event's location.

Reason codes, in the order a record is judged (a record with several problems gets the first):
MALFORMED, MISSING_REQUIRED, INVALID_TYPE, OUT_OF_DOMAIN, AMOUNT_MISMATCH, FUTURE_TIMESTAMP,
FX_MISSING, ORPHAN.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from tradelake.reference import ISO_COUNTRIES, ISO_CURRENCIES

REASON_CODES = (
    "MALFORMED",
    "MISSING_REQUIRED",
    "INVALID_TYPE",
    "OUT_OF_DOMAIN",
    "AMOUNT_MISMATCH",
    "FUTURE_TIMESTAMP",
    "FX_MISSING",
    "ORPHAN",
)

# A typed column accessor: given a contract field name (or "_ingest_date"), the typed value.
Typed = Callable[[str], Column]


@dataclass(frozen=True)
class Check:
    """A rule on one field's typed value: `valid(value)` is true when the value is acceptable."""

    describe: str
    valid: Callable[[Column], Column]
    # The same rule as a Great Expectations expectation on the typed column: (expectation class, kwargs).
    # The quality suites (tradelake.quality.rules) are derived from it.
    expect: tuple[str, dict] | None = None


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"  # string | int | decimal2 | decimal6 | date | timestamp
    required: bool = False
    # PII kind (email | phone | account): hashed with HMAC-SHA-256 after normalising, never stored in clear.
    pii: str | None = None
    # Event-time fields: later than the end of ingest_date + 1 day is FUTURE_TIMESTAMP.
    event_time: bool = False
    allowed: tuple[str, ...] | None = None
    checks: tuple[Check, ...] = ()

    @property
    def silver_name(self) -> str:
        return f"{self.name}_hmac" if self.pii else self.name


@dataclass(frozen=True)
class Rule:
    """An OUT_OF_DOMAIN rule over several fields. Evaluated only when all its fields are present."""

    describe: str
    fields: tuple[str, ...]
    valid: Callable[[Typed], Column]


@dataclass(frozen=True)
class RequiredWhen:
    """A field that is required only under a condition (MISSING_REQUIRED when absent then)."""

    field: str
    describe: str
    condition: Callable[[Typed], Column]


@dataclass(frozen=True)
class Unique:
    """`key` identifies one thing: another accepted record with the same key but a different identity
    (the listed columns, or the whole record when None) is OUT_OF_DOMAIN."""

    key: tuple[str, ...]
    identity: tuple[str, ...] | None = None

    @property
    def describe(self) -> str:
        what = "record" if self.identity is None else "/".join(self.identity)
        return f"{'/'.join(self.key)} already used by a different {what}"


@dataclass(frozen=True)
class Parent:
    column: str
    source: str
    key: str


@dataclass(frozen=True)
class Fx:
    """Amounts converted to USD at the rate of the record's event date (or the latest earlier rate at
    most 7 days older). Applies when `currency` is present; no usable rate is FX_MISSING."""

    currency: str
    event_date: Callable[[Typed], Column]
    amounts: tuple[str, ...]
    rate_column: str = "fx_rate_usd"


@dataclass(frozen=True)
class AmountCheck:
    amount: str
    quantity: str
    unit_price: str
    tolerance: float = 0.01


@dataclass(frozen=True)
class Source:
    name: str
    format: str  # csv | jsonl
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    description: str
    version_column: str | None = None  # re-sent with a newer value when the record changes
    scd2: bool = False  # kept as SCD type 2 (valid_from / valid_to / is_current) in silver
    rules: tuple[Rule, ...] = ()
    required_when: tuple[RequiredWhen, ...] = ()
    unique: tuple[Unique, ...] = ()
    amount_check: AmountCheck | None = None
    fx: Fx | None = None
    parent: Parent | None = None
    # Published on weekdays only (reference data): a weekend day without records is not a volume drop.
    weekdays_only: bool = False
    # Arrives at a steady daily rate, so a day's volume can be judged against the previous days'
    # (master-data changes do not: a supplier changes when it changes).
    steady_volume: bool = True

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")

    @property
    def pii_fields(self) -> list[Field]:
        return [f for f in self.fields if f.pii]

    @property
    def usd_columns(self) -> list[str]:
        return [f"{a}_usd" for a in self.fx.amounts] if self.fx else []


# -------------------------------------------------------------------------------------------------
# Reusable checks
# -------------------------------------------------------------------------------------------------
def _in(values: frozenset[str] | tuple[str, ...], what: str) -> Check:
    vals = sorted(values)
    return Check(what, lambda v: v.isin(vals), ("ExpectColumnValuesToBeInSet", {"value_set": vals}))


ISO_COUNTRY = _in(ISO_COUNTRIES, "an ISO 3166-1 alpha-2 country code")
ISO_CURRENCY = _in(ISO_CURRENCIES, "an ISO 4217 currency code")
POSITIVE = Check("> 0", lambda v: v > 0, ("ExpectColumnValuesToBeBetween", {"min_value": 0, "strict_min": True}))
NON_NEGATIVE = Check(">= 0", lambda v: v >= 0, ("ExpectColumnValuesToBeBetween", {"min_value": 0}))


def _length(lo: int, hi: int) -> Check:
    return Check(f"{lo}-{hi} characters", lambda v: F.length(v).between(lo, hi),
                 ("ExpectColumnValueLengthsToBeBetween", {"min_value": lo, "max_value": hi}))


def _range(lo: int, hi: int) -> Check:
    return Check(f"between {lo} and {hi}", lambda v: v.between(lo, hi),
                 ("ExpectColumnValuesToBeBetween", {"min_value": lo, "max_value": hi}))


TXN_STATUSES = ("PLACED", "FULFILLED", "CANCELLED", "RETURNED")
SHIPMENT_MODES = ("SEA", "AIR", "ROAD", "RAIL", "EXPRESS")
EVENT_TYPES = ("PICKED_UP", "IN_TRANSIT", "CUSTOMS", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION", "RETURNED")
PAYMENT_TYPES = ("PAYMENT", "REFUND")
PAYMENT_METHODS = ("BANK_TRANSFER", "CARD", "WALLET", "CREDIT_LINE")
SUPPLIER_TIERS = ("A", "B", "C")

# -------------------------------------------------------------------------------------------------
# The six sources, in processing order (a parent before its children)
# -------------------------------------------------------------------------------------------------
FX_RATES = Source(
    name="fx_rates",
    format="csv",
    description="Daily FX reference rates: USD per unit of a currency.",
    key=("rate_date", "currency"),
    weekdays_only=True,  # sources.md: a missing day's rate falls back to the latest at most 7 days older
    fields=(
        Field("rate_date", "date", required=True, event_time=True),
        Field("currency", required=True, checks=(ISO_CURRENCY,)),
        Field("usd_per_unit", "decimal6", required=True, checks=(POSITIVE,)),
    ),
    unique=(Unique(("rate_date", "currency")),),
)

SUPPLIERS = Source(
    name="suppliers",
    format="csv",
    description="Change records of the supplier master; the newest updated_at is the current version.",
    key=("supplier_id",),
    version_column="updated_at",
    scd2=True,
    steady_volume=False,
    fields=(
        Field("supplier_id", required=True, checks=(_length(1, 32),)),
        Field("legal_name", required=True),
        Field("country", required=True, checks=(ISO_COUNTRY,)),
        Field("industry", required=True),
        Field("tier", allowed=SUPPLIER_TIERS),
        Field("onboarded_date", "date", required=True),
        Field("credit_limit", "decimal2", checks=(NON_NEGATIVE,)),
        Field("credit_limit_currency", checks=(ISO_CURRENCY,)),
        Field("contact_email", pii="email"),
        Field("contact_phone", pii="phone"),
        Field("updated_at", "timestamp", required=True, event_time=True),
    ),
    required_when=(
        RequiredWhen(
            "credit_limit_currency",
            "credit_limit_currency: required with a credit_limit",
            lambda c: c("credit_limit").isNotNull(),
        ),
    ),
    rules=(
        Rule(
            "onboarded_date: not after ingest_date",
            ("onboarded_date",),
            lambda c: c("onboarded_date") <= c("_ingest_date"),
        ),
    ),
    fx=Fx(
        currency="credit_limit_currency",
        event_date=lambda c: F.to_date(c("updated_at")),
        amounts=("credit_limit",),
    ),
)

TRANSACTIONS = Source(
    name="transactions",
    format="csv",
    description="Trade orders, each also an invoice to the buyer; re-sent with a newer updated_at on status change.",
    key=("txn_id",),
    version_column="updated_at",
    fields=(
        Field("txn_id", required=True),
        Field("supplier_id", required=True),
        Field("buyer_id", required=True),
        Field("order_ts", "timestamp", required=True, event_time=True),
        Field("category", required=True),
        Field("quantity", "int", required=True, checks=(POSITIVE,)),
        Field("unit_price", "decimal2", required=True, checks=(NON_NEGATIVE,)),
        Field("currency", required=True, checks=(ISO_CURRENCY,)),
        Field("amount", "decimal2", required=True),
        Field("status", required=True, allowed=TXN_STATUSES),
        Field("payment_terms_days", "int", required=True, checks=(_range(0, 180),)),
        Field("due_date", "date", required=True),
        Field("buyer_email", pii="email"),
        Field("updated_at", "timestamp", required=True, event_time=True),
    ),
    rules=(
        Rule(
            "due_date: not before the order date",
            ("due_date", "order_ts"),
            lambda c: c("due_date") >= F.to_date(c("order_ts")),
        ),
    ),
    amount_check=AmountCheck("amount", "quantity", "unit_price"),
    fx=Fx(currency="currency", event_date=lambda c: F.to_date(c("order_ts")), amounts=("amount",)),
    parent=Parent("supplier_id", "suppliers", "supplier_id"),
)

PAYMENTS = Source(
    name="payments",
    format="jsonl",
    description="Money received against an invoice (PAYMENT) or paid back (REFUND).",
    key=("payment_id",),
    fields=(
        Field("payment_id", required=True),
        Field("txn_id", required=True),
        Field("type", required=True, allowed=PAYMENT_TYPES),
        Field("amount", "decimal2", required=True, checks=(POSITIVE,)),
        Field("currency", required=True, checks=(ISO_CURRENCY,)),
        Field("paid_ts", "timestamp", required=True, event_time=True),
        Field("method", allowed=PAYMENT_METHODS),
        Field("payer_account", pii="account"),
    ),
    unique=(Unique(("payment_id",)),),
    fx=Fx(currency="currency", event_date=lambda c: F.to_date(c("paid_ts")), amounts=("amount",)),
    parent=Parent("txn_id", "transactions", "txn_id"),
)

SHIPMENTS = Source(
    name="shipments",
    format="csv",
    description="One shipment per transaction; re-sent with a newer updated_at when it changes.",
    key=("shipment_id",),
    version_column="updated_at",
    fields=(
        Field("shipment_id", required=True),
        Field("txn_id", required=True),
        Field("supplier_id", required=True),
        Field("carrier", required=True),
        Field("mode", required=True, allowed=SHIPMENT_MODES),
        Field("origin_country", required=True, checks=(ISO_COUNTRY,)),
        Field("destination_country", required=True, checks=(ISO_COUNTRY,)),
        Field("quantity", "int", required=True, checks=(POSITIVE,)),
        Field("promised_date", "date", required=True),
        Field("created_ts", "timestamp", required=True, event_time=True),
        Field("updated_at", "timestamp", required=True, event_time=True),
    ),
    unique=(Unique(("txn_id",), identity=("shipment_id",)), Unique(("shipment_id",), identity=("txn_id",))),
    parent=Parent("txn_id", "transactions", "txn_id"),
)

SHIPMENT_EVENTS = Source(
    name="shipment_events",
    format="jsonl",
    description="Tracking events of shipments; partial deliveries are several DELIVERED events.",
    key=("event_id",),
    fields=(
        Field("event_id", required=True),
        Field("shipment_id", required=True),
        Field("event_type", required=True, allowed=EVENT_TYPES),
        Field("event_ts", "timestamp", required=True, event_time=True),
        Field("location", checks=(ISO_COUNTRY,)),
        Field("quantity_delivered", "int", checks=(POSITIVE,)),
    ),
    required_when=(
        RequiredWhen(
            "quantity_delivered",
            "quantity_delivered: required on DELIVERED events",
            lambda c: c("event_type") == "DELIVERED",
        ),
    ),
    rules=(
        Rule(
            "quantity_delivered: only on DELIVERED events",
            ("quantity_delivered", "event_type"),
            lambda c: c("event_type") == "DELIVERED",
        ),
    ),
    unique=(Unique(("event_id",)),),
    parent=Parent("shipment_id", "shipments", "shipment_id"),
)

SOURCES: dict[str, Source] = {
    s.name: s for s in (FX_RATES, SUPPLIERS, TRANSACTIONS, PAYMENTS, SHIPMENTS, SHIPMENT_EVENTS)
}
SOURCE_ORDER: tuple[str, ...] = tuple(SOURCES)  # parents first: see Parent declarations


def _check_order() -> None:
    for i, name in enumerate(SOURCE_ORDER):
        s = SOURCES[name]
        if s.parent and SOURCE_ORDER.index(s.parent.source) >= i:
            raise AssertionError(f"{name} is processed before its parent {s.parent.source}")
        if s.fx and SOURCE_ORDER.index("fx_rates") >= i and name != "fx_rates":
            raise AssertionError(f"{name} needs FX rates processed first")


_check_order()
