"""The made-up trade platform: suppliers, buyers, FX, and each order's life (shipment, tracking,
payments), as Spark DataFrames computed in parallel from deterministic hashes.

Realism built in: weekly and seasonal order cycles with growth; suppliers that differ in reliability
(on-time and full delivery, lead time by mode and lane, exceptions); buyers that differ in payment
behaviour, a minority defaulting; several currencies with daily FX random walks (no weekend rates);
partial and short deliveries; cancellations (some after shipping) and returns with refunds; status
updates re-sent as new versions; records arriving days late.

Every timestamp is generated in UTC and written with the local offset of the party that produced it.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from tradelake.generate import catalog as C
from tradelake.generate.rand import Rand

DAY_S = 86400


@dataclass(frozen=True)
class WorldParams:
    seed: int
    start: dt.date
    days: int
    transactions: int
    suppliers: int
    buyers: int
    late_parent_rate: float

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


def _map(d: dict) -> Column:
    return F.create_map(*[x for k, v in d.items() for x in (F.lit(k), F.lit(v))])


def _offset_seconds(label: str) -> int:
    sign = -1 if label[0] == "-" else 1
    hh, mm = label[1:].split(":")
    return sign * (int(hh) * 3600 + int(mm) * 60)


def offset_label(country: Column) -> Column:
    return _map({c: v[0] for c, v in C.COUNTRIES.items()})[country]


def offset_seconds(country: Column) -> Column:
    return _map({c: _offset_seconds(v[0]) for c, v in C.COUNTRIES.items()})[country]


def currency_of(country: Column) -> Column:
    return _map({c: v[1] for c, v in C.COUNTRIES.items()})[country]


def local_iso(ts: Column, country: Column) -> Column:
    """ISO-8601 with the country's UTC offset, e.g. 2026-03-01T17:15:00+08:00."""
    return F.concat(
        F.from_unixtime(F.unix_timestamp(ts) + offset_seconds(country), "yyyy-MM-dd'T'HH:mm:ss"),
        offset_label(country),
    )


def plus_seconds(ts: Column, seconds: Column) -> Column:
    return F.timestamp_seconds(F.unix_timestamp(ts) + seconds.cast("long"))


def arrival_lag(rnd: Rand, purpose: str, *identity) -> Column:
    """Days between an event and its record's arrival: mostly the same day, sometimes days late."""
    return rnd.choice(purpose, [(0, 85.0), (1, 10.0), (2, 4.0), (3, 0.6), (5, 0.4)], *identity).cast("int")


def arrival(rnd: Rand, p: WorldParams, ts: Column, purpose: str, *identity, late_parent: bool = False) -> Column:
    """The ingest date of a record about an event at ts: never before the event's UTC date nor the
    first landing day. A late parent arrives 2-6 days later still (children then wait as orphans)."""
    lag = arrival_lag(rnd, purpose, *identity)
    if late_parent:
        late = rnd.u(purpose + ".late", *identity) < p.late_parent_rate
        lag = lag + F.when(late, rnd.int_between(purpose + ".late_days", 2, 6, *identity)).otherwise(0)
    return F.date_add(F.greatest(F.to_date(ts), F.lit(p.start)), lag)


def money(x: Column) -> Column:
    return F.round(x, 2).cast("decimal(18,2)")


# -------------------------------------------------------------------------------------------------
# Calendar and FX
# -------------------------------------------------------------------------------------------------
def order_calendar(spark: SparkSession, p: WorldParams) -> DataFrame:
    """Orders per day: weekly cycle, yearly season (peak before Q4), 10% yearly growth; exact total."""
    days = [p.start + dt.timedelta(days=i) for i in range(p.days)]
    weights = []
    for d in days:
        doy = d.timetuple().tm_yday
        season = 1.0 + 0.18 * math.sin(2 * math.pi * (doy - 120) / 365.25) + (0.12 if d.month in (11, 12) else 0.0)
        growth = 1.0 + 0.10 * (d - p.start).days / 365.0
        weights.append(C.WEEKDAY_WEIGHT[d.isoweekday()] * season * growth)
    total = sum(weights)
    raw = [p.transactions * w / total for w in weights]
    counts = [int(r) for r in raw]
    # Largest remainders get the leftover orders, so the total is exact.
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)[: p.transactions - sum(counts)]:
        counts[i] += 1
    offsets = [sum(counts[:i]) for i in range(len(counts))]
    return spark.createDataFrame(list(zip(days, counts, offsets, strict=True)), "day date, n long, first_idx long")


def fx_rates(spark: SparkSession, rnd: Rand, p: WorldParams) -> DataFrame:
    """One rate per currency per weekday, a random walk; history from 10 days before the start arrives
    with the first day, later rates on their day (some a day late)."""
    first = p.start - dt.timedelta(days=10)
    n_days = p.days + 10
    cur = spark.createDataFrame([(c, b, v) for c, (b, v) in C.CURRENCIES.items()], "currency string, base double, vol double")
    days = spark.range(n_days).select(F.date_add(F.lit(first), F.col("id").cast("int")).alias("rate_date"))
    walk = Window.partitionBy("currency").orderBy("rate_date").rowsBetween(Window.unboundedPreceding, 0)
    df = (
        cur.crossJoin(days)
        .withColumn("step", F.col("vol") * rnd.normal("fx.step", "currency", "rate_date"))
        .withColumn("rate", F.col("base") * F.exp(F.sum("step").over(walk)))
        .where(F.dayofweek("rate_date").between(2, 6))  # no rates on weekends
    )
    lag = F.when(rnd.u("fx.late", "currency", "rate_date") < 0.08, 1).otherwise(0)
    return df.select(
        F.col("rate_date").cast("string").alias("rate_date"),
        "currency",
        F.when(F.col("currency") == "USD", F.lit("1.000000"))
        .otherwise(F.round("rate", 6).cast("decimal(18,6)").cast("string")).alias("usd_per_unit"),
        F.greatest(F.date_add("rate_date", lag), F.lit(p.start)).alias("_ingest_date"),
        F.to_timestamp("rate_date").alias("_event_ts"),
        F.concat_ws(":", F.lit("fx"), "currency", F.col("rate_date").cast("string")).alias("_rid"),
        F.lit(None).cast("string").alias("_key"),
        F.lit(None).cast("string").alias("_parent"),
    )


# -------------------------------------------------------------------------------------------------
# Suppliers and buyers
# -------------------------------------------------------------------------------------------------
def suppliers(spark: SparkSession, rnd: Rand, p: WorldParams) -> DataFrame:
    """One row per supplier with its attributes and reliability."""
    s = spark.range(p.suppliers).select(F.col("id").alias("s_idx"))
    industries = list(C.INDUSTRIES)
    r = rnd.u("sup.reliability", "s_idx")
    pre = rnd.u("sup.pre", "s_idx") < 0.75
    onboarded = F.when(pre, F.date_sub(F.lit(p.start), (30 + F.floor(rnd.u("sup.age", "s_idx") * 1500)).cast("int"))).otherwise(
        F.date_add(F.lit(p.start), F.floor(rnd.u("sup.onb", "s_idx") * p.days * 0.8).cast("int"))
    )
    name = F.concat_ws(
        " ",
        F.element_at(F.array(*[F.lit(x) for x in C.NAME_FIRST]), (F.floor(rnd.u("sup.n1", "s_idx") * len(C.NAME_FIRST)) + 1).cast("int")),
        F.element_at(F.array(*[F.lit(x) for x in C.NAME_SECOND]), (F.floor(rnd.u("sup.n2", "s_idx") * len(C.NAME_SECOND)) + 1).cast("int")),
        F.element_at(F.array(*[F.lit(x) for x in C.NAME_SUFFIX]), (F.floor(rnd.u("sup.n3", "s_idx") * len(C.NAME_SUFFIX)) + 1).cast("int")),
    )
    s = s.select(
        "s_idx",
        F.format_string("S%06d", "s_idx").alias("supplier_id"),
        rnd.choice("sup.country", [(c, v[2]) for c, v in C.COUNTRIES.items() if v[2]], "s_idx").alias("s_country"),
        F.element_at(F.array(*[F.lit(x) for x in industries]), (F.floor(rnd.u("sup.ind", "s_idx") * len(industries)) + 1).cast("int")).alias("industry"),
        r.alias("reliability"),
        F.when(r > 0.7, "A").when(r > 0.35, "B").otherwise("C").alias("tier"),
        (0.70 + 0.27 * r).alias("on_time_p"),
        (0.88 + 0.11 * r).alias("full_p"),
        (1.45 - 0.55 * r).alias("lead_factor"),
        (0.12 - 0.10 * r).alias("exception_p"),
        onboarded.alias("onboarded_date"),
        F.greatest(onboarded, F.lit(p.start)).alias("active_from"),
        pre.alias("pre_existing"),
        name.alias("legal_name"),
        money(F.exp(9.5 + 1.2 * rnd.normal("sup.limit", "s_idx")) * 10).alias("credit_limit"),
    )
    s = s.withColumn("s_currency", currency_of(F.col("s_country")))
    # Rank by the day a supplier can first take orders: orders pick among the suppliers active then.
    return s.withColumn("s_rank", F.row_number().over(Window.orderBy("active_from", "s_idx")) - 1)


def supplier_records(rnd: Rand, p: WorldParams, sup: DataFrame) -> DataFrame:
    """Change records of the supplier master: a first version, and for a quarter of them a change."""
    first_ts = F.when(
        F.col("pre_existing"),
        plus_seconds(F.to_timestamp(F.lit(p.start)), -(DAY_S + F.floor(rnd.u("sup.v1", "s_idx") * 4 * DAY_S))),
    ).otherwise(plus_seconds(F.to_timestamp("onboarded_date"), F.lit(7 * 3600) + F.floor(rnd.u("sup.v1", "s_idx") * 9 * 3600)))
    changes = rnd.u("sup.change", "s_idx") < 0.25
    window_s = F.greatest(F.lit(DAY_S), (F.unix_timestamp(F.to_timestamp(F.lit(p.end))) - F.unix_timestamp(first_ts)))
    second_ts = plus_seconds(first_ts, F.lit(3600) + F.floor(rnd.u("sup.v2", "s_idx") * window_s))
    versions = F.array(
        F.struct(F.lit(1).alias("v"), first_ts.alias("ts")),
        F.when(changes, F.struct(F.lit(2).alias("v"), second_ts.alias("ts"))),
    )
    df = sup.select("*", F.explode(F.filter(versions, lambda x: x.isNotNull())).alias("ver")).select(
        "*", F.col("ver.v").alias("v"), F.col("ver.ts").alias("ts")
    )
    v2 = F.col("v") == 2
    tier = F.when(v2 & (rnd.u("sup.v2tier", "s_idx") < 0.5),
                  F.when(F.col("tier") == "A", "B").when(F.col("tier") == "B", "A").otherwise("B")).otherwise(F.col("tier"))
    limit = F.when(v2, money(F.col("credit_limit") * (0.7 + 0.8 * rnd.u("sup.v2limit", "s_idx")))).otherwise(F.col("credit_limit"))
    email_n = F.when(v2 & (rnd.u("sup.v2mail", "s_idx") < 0.3), 2).otherwise(1)
    ingest = F.when(
        (F.col("v") == 1) & F.col("pre_existing"),
        F.date_add(F.lit(p.start), F.when(rnd.u("sup.late", "s_idx") < p.late_parent_rate,
                                           rnd.int_between("sup.late_days", 2, 6, "s_idx")).otherwise(0)),
    ).otherwise(arrival(rnd, p, F.col("ts"), "sup.arrive", "s_idx", "v", late_parent=True))
    return df.select(
        "supplier_id",
        "legal_name",
        F.col("s_country").alias("country"),
        "industry",
        tier.alias("tier"),
        F.col("onboarded_date").cast("string").alias("onboarded_date"),
        limit.cast("string").alias("credit_limit"),
        F.col("s_currency").alias("credit_limit_currency"),
        F.format_string("procurement%d.%d@supplier%06d.example.com", email_n, "s_idx", "s_idx").alias("contact_email"),
        F.format_string("+%d %03d %07d", (F.col("s_idx") % 90 + 10), (F.col("s_idx") * 7) % 1000, (F.col("s_idx") * 7919) % 10_000_000).alias("contact_phone"),
        local_iso(F.col("ts"), F.col("s_country")).alias("updated_at"),
        ingest.alias("_ingest_date"),
        F.col("ts").alias("_event_ts"),
        F.concat_ws(":", F.lit("sup"), "supplier_id", F.col("v").cast("string")).alias("_rid"),
        F.col("supplier_id").alias("_key"),
        F.lit(None).cast("string").alias("_parent"),
    )


def buyers(spark: SparkSession, rnd: Rand, p: WorldParams) -> DataFrame:
    b = spark.range(p.buyers).select(F.col("id").alias("b_idx"))
    behaviour = rnd.choice("buy.class", [(k, v[0]) for k, v in C.BEHAVIOURS.items()], "b_idx")
    return b.select(
        "b_idx",
        F.format_string("B%07d", "b_idx").alias("buyer_id"),
        rnd.choice("buy.country", [(c, v[3]) for c, v in C.COUNTRIES.items() if v[3]], "b_idx").alias("b_country"),
        behaviour.alias("behaviour"),
        F.date_add(F.lit(p.start), F.floor(rnd.u("buy.default", "b_idx") * p.days).cast("int")).alias("default_on"),
        F.format_string("purchasing.%d@buyer%07d.example.org", F.col("b_idx") % 7, "b_idx").alias("buyer_email"),
        F.format_string("ACCT-%08d", (F.col("b_idx") * 104729 + 17) % 100_000_000).alias("payer_account"),
        rnd.choice("buy.method", C.METHODS, "b_idx").alias("method"),
    ).withColumn("b_currency", currency_of(F.col("b_country")))


# -------------------------------------------------------------------------------------------------
# Orders and everything that happens to them
# -------------------------------------------------------------------------------------------------
def orders(spark: SparkSession, rnd: Rand, p: WorldParams, sup: DataFrame, buy: DataFrame) -> DataFrame:
    """One wide row per order: the transaction, its shipment's life and its payment plan."""
    cal = order_calendar(spark, p)
    active = (
        cal.select("day")
        .join(sup.groupBy("active_from").agg(F.count("*").alias("new")), F.col("day") == F.col("active_from"), "left")
        .select("day", F.sum(F.coalesce("new", F.lit(0))).over(Window.orderBy("day").rowsBetween(Window.unboundedPreceding, 0)).alias("n_active"))
    )
    o = (
        cal.select("day", "first_idx", F.explode(F.sequence(F.lit(0), (F.col("n") - 1).cast("int"))).alias("k"))
        .select("day", (F.col("first_idx") + F.col("k")).alias("idx"))
        .join(F.broadcast(active), "day")
        .withColumn("s_rank", F.floor(F.col("n_active") * F.pow(rnd.u("ord.sup", "idx"), 1.7)).cast("long"))
        .withColumn("b_idx", F.floor(F.lit(p.buyers) * F.pow(rnd.u("ord.buy", "idx"), 1.8)).cast("long"))
        .join(F.broadcast(sup), "s_rank")
        .join(F.broadcast(buy), "b_idx")
    )
    # Ordered in the buyer's business hours.
    local_s = F.lit(8 * 3600) + F.floor(rnd.u("ord.hour", "idx") * 11 * 3600)
    order_ts = plus_seconds(F.to_timestamp("day"), local_s - offset_seconds(F.col("b_country")))
    categories = F.element_at(
        _map({ind: ",".join(c for c, _ in cats) for ind, cats in C.INDUSTRIES.items()}), F.col("industry")
    )
    o = o.select(
        "*",
        F.format_string("T%09d", "idx").alias("txn_id"),
        order_ts.alias("order_ts"),
    ).withColumn("order_date", F.to_date("order_ts"))
    cat_list = F.split(categories, ",")
    o = o.withColumn(
        "category", F.element_at(cat_list, (F.floor(rnd.u("ord.cat", "idx") * F.size(cat_list)) + 1).cast("int"))
    )
    price_lo = F.element_at(_map({c: lo for cats in C.INDUSTRIES.values() for c, (lo, hi) in cats}), F.col("category"))
    price_hi = F.element_at(_map({c: hi for cats in C.INDUSTRIES.values() for c, (lo, hi) in cats}), F.col("category"))
    unit_price = money(F.exp(F.log(price_lo) + rnd.u("ord.price", "idx") * (F.log(price_hi) - F.log(price_lo))))
    quantity = F.least(F.lit(5000), F.greatest(F.lit(1), F.floor(F.exp(3.5 + 1.3 * rnd.normal("ord.qty", "idx"))))).cast("int")
    terms = rnd.choice("ord.terms", C.PAYMENT_TERMS, "idx").cast("int")
    o = o.select(
        "*",
        unit_price.alias("unit_price"),
        quantity.alias("quantity"),
        F.when(rnd.u("ord.ccy", "idx") < 0.65, F.col("b_currency")).otherwise(F.lit("USD")).alias("currency"),
        terms.alias("terms"),
    ).withColumn("amount", (F.col("unit_price") * F.col("quantity")).cast("decimal(18,2)")).withColumn(
        "due_date", F.date_add("order_date", F.col("terms"))
    )

    # --- cancellation ---
    cancelled = rnd.u("ord.cancel", "idx") < 0.04
    cancel_after_ship = cancelled & (rnd.u("ord.cancel_late", "idx") < 0.4)
    o = o.select(
        "*",
        cancelled.alias("cancelled"),
        cancel_after_ship.alias("cancel_after_ship"),
        (~cancelled | cancel_after_ship).alias("has_shipment"),
    )

    # --- shipment ---
    domestic = F.col("s_country") == F.col("b_country")
    mode = F.when(domestic, rnd.choice("shp.mode_dom", C.DOMESTIC_MODES, "idx")).otherwise(rnd.choice("shp.mode_int", C.INTERNATIONAL_MODES, "idx"))
    o = o.withColumn("mode", mode)
    carriers = _map({m: "|".join(c) for m, (_, c) in C.MODES.items()})
    carrier_list = F.split(F.element_at(carriers, F.col("mode")), r"\|")
    base_days = F.element_at(_map({m: d for m, (d, _) in C.MODES.items()}), F.col("mode")) * F.when(domestic & (F.col("mode") == "ROAD"), 0.5).otherwise(1.0)
    customs = F.when(domestic, 0.0).otherwise(1.5)
    processing_days = (1.0 + 3.0 * rnd.u("shp.proc", "idx")) * F.col("lead_factor")
    transit_days = base_days * F.exp(0.25 * rnd.normal("shp.lane", "idx")) * F.sqrt(F.col("lead_factor")) + customs
    late = rnd.u("shp.late", "idx") > F.col("on_time_p")
    delay_days = F.when(late, 1.0 + 11.0 * rnd.u("shp.delay", "idx")).otherwise(0.0)
    exception = rnd.u("shp.exc", "idx") < F.col("exception_p")
    exception_delay = F.when(exception, 2.0 + 3.0 * rnd.u("shp.exc_delay", "idx")).otherwise(0.0)
    promise_days = F.ceil(2.0 + base_days + customs + 1.0 + 2.0 * rnd.u("shp.buffer", "idx")).cast("int")
    created_ts = plus_seconds(F.col("order_ts"), F.lit(3600) + F.floor(rnd.u("shp.created", "idx") * 20 * 3600))
    o = o.select(
        "*",
        F.element_at(carrier_list, (F.floor(rnd.u("shp.carrier", "idx") * F.size(carrier_list)) + 1).cast("int")).alias("carrier"),
        created_ts.alias("created_ts"),
        F.date_add("order_date", promise_days).alias("promised_date"),
        exception.alias("exception"),
        (rnd.u("shp.partial", "idx") > F.col("full_p")).alias("partial"),
        (rnd.u("shp.revise", "idx") < 0.06).alias("revised"),
        processing_days.alias("processing_days"),
        (transit_days + delay_days + exception_delay).alias("transit_days"),
    )
    o = o.withColumn("pickup_ts", plus_seconds(F.col("created_ts"), F.floor(F.col("processing_days") * DAY_S)))
    o = o.withColumn("deliver_ts", plus_seconds(F.col("pickup_ts"), F.floor(F.col("transit_days") * DAY_S)))
    o = o.select(
        "*",
        (F.col("partial") & (rnd.u("shp.short", "idx") < 0.3)).alias("short"),
        F.when(F.col("partial"), F.greatest(F.lit(1), F.floor(F.col("quantity") * (0.4 + 0.4 * rnd.u("shp.q1", "idx")))))
        .otherwise(F.col("quantity")).cast("int").alias("q1"),
        plus_seconds(F.col("deliver_ts"), F.floor((2 + 8 * rnd.u("shp.second", "idx")) * DAY_S)).alias("second_ts"),
        plus_seconds(F.col("pickup_ts"), F.floor(F.col("transit_days") * 0.5 * DAY_S)).alias("exception_ts"),
        plus_seconds(F.col("created_ts"), F.floor((2 + 70 * rnd.u("ord.cancel_at", "idx")) * 3600)).alias("cancel_ts"),
    )
    # A partial delivery is two DELIVERED events, unless the supplier short-ships (the second never comes).
    o = o.withColumn("q2", F.when(F.col("partial") & ~F.col("short") & (F.col("quantity") > F.col("q1")), F.col("quantity") - F.col("q1")))
    o = o.withColumn(
        "fulfilled_ts",
        F.when(F.col("cancelled"), F.lit(None).cast("timestamp"))
        .when(F.col("q2").isNotNull(), F.col("second_ts"))
        .otherwise(F.col("deliver_ts")),
    )
    returned = ~F.col("cancelled") & (rnd.u("ord.return", "idx") < 0.025)
    o = o.select(
        "*",
        returned.alias("returned"),
        plus_seconds(F.col("fulfilled_ts"), F.floor((3 + 17 * rnd.u("ord.return_at", "idx")) * DAY_S)).alias("return_ts"),
    )
    return o


def transaction_records(rnd: Rand, p: WorldParams, o: DataFrame) -> DataFrame:
    """PLACED at order time, then FULFILLED or CANCELLED, then RETURNED: each a re-sent version."""
    versions = F.array(
        F.struct(F.lit(1).alias("v"), F.lit("PLACED").alias("status"), F.col("order_ts").alias("ts")),
        F.when(F.col("cancelled"), F.struct(F.lit(2).alias("v"), F.lit("CANCELLED").alias("status"), F.col("cancel_ts").alias("ts")))
        .otherwise(F.struct(F.lit(2).alias("v"), F.lit("FULFILLED").alias("status"), F.col("fulfilled_ts").alias("ts"))),
        F.when(F.col("returned"), F.struct(F.lit(3).alias("v"), F.lit("RETURNED").alias("status"), F.col("return_ts").alias("ts"))),
    )
    df = o.select("*", F.explode(F.filter(versions, lambda x: x.isNotNull())).alias("ver"))
    return df.select(
        "txn_id",
        "supplier_id",
        "buyer_id",
        local_iso(F.col("order_ts"), F.col("b_country")).alias("order_ts"),
        "category",
        F.col("quantity").cast("string").alias("quantity"),
        F.col("unit_price").cast("string").alias("unit_price"),
        "currency",
        F.col("amount").cast("string").alias("amount"),
        F.col("ver.status").alias("status"),
        F.col("terms").cast("string").alias("payment_terms_days"),
        F.col("due_date").cast("string").alias("due_date"),
        "buyer_email",
        local_iso(F.col("ver.ts"), F.col("b_country")).alias("updated_at"),
        arrival(rnd, p, F.col("ver.ts"), "txn.arrive", "idx", F.col("ver.v"), late_parent=True).alias("_ingest_date"),
        F.col("ver.ts").alias("_event_ts"),
        F.concat_ws(":", F.lit("txn"), "txn_id", F.col("ver.v").cast("string")).alias("_rid"),
        F.col("txn_id").alias("_key"),
        F.col("supplier_id").alias("_parent"),
    )


def shipment_records(rnd: Rand, p: WorldParams, o: DataFrame) -> DataFrame:
    """A shipment record at creation; 6% re-sent at pickup with a revised promise."""
    s = o.where("has_shipment")
    versions = F.array(
        F.struct(F.lit(1).alias("v"), F.col("created_ts").alias("ts"), F.col("promised_date").alias("promise")),
        F.when(F.col("revised"), F.struct(F.lit(2).alias("v"), F.col("pickup_ts").alias("ts"),
                                           F.date_add("promised_date", rnd.int_between("shp.revise_days", 2, 5, "idx")).alias("promise"))),
    )
    df = s.select("*", F.explode(F.filter(versions, lambda x: x.isNotNull())).alias("ver"))
    shipment_id = F.format_string("SH%09d", "idx")
    return df.select(
        shipment_id.alias("shipment_id"),
        "txn_id",
        "supplier_id",
        "carrier",
        "mode",
        F.col("s_country").alias("origin_country"),
        F.col("b_country").alias("destination_country"),
        F.col("quantity").cast("string").alias("quantity"),
        F.col("ver.promise").cast("string").alias("promised_date"),
        local_iso(F.col("created_ts"), F.col("s_country")).alias("created_ts"),
        local_iso(F.col("ver.ts"), F.col("s_country")).alias("updated_at"),
        arrival(rnd, p, F.col("ver.ts"), "shp.arrive", "idx", F.col("ver.v"), late_parent=True).alias("_ingest_date"),
        F.col("ver.ts").alias("_event_ts"),
        F.concat_ws(":", F.lit("shp"), shipment_id, F.col("ver.v").cast("string")).alias("_rid"),
        shipment_id.alias("_key"),
        F.col("txn_id").alias("_parent"),
    )


def event_records(rnd: Rand, p: WorldParams, o: DataFrame) -> DataFrame:
    """Tracking events: pick-up, transit, customs, exceptions, out for delivery, one or two deliveries;
    a shipment cancelled on its way goes back (EXCEPTION then RETURNED)."""
    s = o.where("has_shipment")
    international = F.col("s_country") != F.col("b_country")
    transit_s = F.unix_timestamp("deliver_ts") - F.unix_timestamp("pickup_ts")
    at = lambda frac: plus_seconds(F.col("pickup_ts"), F.floor(transit_s * frac))  # noqa: E731

    def ev(n: int, etype: str, ts: Column, loc: Column, qty: Column | None = None, when: Column | None = None) -> Column:
        e = F.struct(F.lit(n).alias("n"), F.lit(etype).alias("type"), ts.alias("ts"), loc.alias("loc"),
                     (qty if qty is not None else F.lit(None).cast("int")).alias("qty"))
        return F.when(when, e) if when is not None else e

    cancel_back = F.col("cancel_after_ship")
    normal = ~cancel_back
    origin, dest = F.col("s_country"), F.col("b_country")
    events = F.array(
        ev(1, "PICKED_UP", F.col("pickup_ts"), origin, when=normal | (rnd.u("evt.cancel_pick", "idx") < 0.5)),
        ev(2, "IN_TRANSIT", at(0.35), origin, when=normal),
        ev(3, "CUSTOMS", at(0.7), dest, when=normal & international),
        ev(4, "EXCEPTION", F.col("exception_ts"), dest, when=normal & F.col("exception")),
        ev(5, "OUT_FOR_DELIVERY", plus_seconds(F.col("deliver_ts"), -F.lit(3600) * (3 + F.floor(rnd.u("evt.ofd", "idx") * 5))), dest, when=normal),
        ev(6, "DELIVERED", F.col("deliver_ts"), dest, F.col("q1"), when=normal),
        ev(7, "DELIVERED", F.col("second_ts"), dest, F.col("q2"), when=normal & F.col("q2").isNotNull()),
        ev(8, "EXCEPTION", plus_seconds(F.col("cancel_ts"), F.lit(3600)), origin, when=cancel_back),
        ev(9, "RETURNED", plus_seconds(F.col("cancel_ts"), F.lit(DAY_S) + F.floor(rnd.u("evt.ret", "idx") * 4 * DAY_S)), origin, when=cancel_back),
    )
    df = s.select("idx", F.explode(F.filter(events, lambda x: x.isNotNull())).alias("e"))
    event_id = F.format_string("E%09d-%d", "idx", F.col("e.n"))
    return df.select(
        event_id.alias("event_id"),
        F.format_string("SH%09d", "idx").alias("shipment_id"),
        F.col("e.type").alias("event_type"),
        local_iso(F.col("e.ts"), F.col("e.loc")).alias("event_ts"),
        F.col("e.loc").alias("location"),
        F.col("e.qty").cast("string").alias("quantity_delivered"),
        arrival(rnd, p, F.col("e.ts"), "evt.arrive", "idx", F.col("e.n")).alias("_ingest_date"),
        F.col("e.ts").alias("_event_ts"),
        F.concat_ws(":", F.lit("evt"), event_id).alias("_rid"),
        F.lit(None).cast("string").alias("_key"),
        F.format_string("SH%09d", "idx").alias("_parent"),
    )


def payment_records(rnd: Rand, p: WorldParams, o: DataFrame) -> DataFrame:
    """Payments by behaviour: prompt payers around the due date, slow and chronic ones later (chronic
    ones often short), defaulters stop paying after their default date; 15% pay in two instalments;
    a return paid for is refunded."""
    inv = o.where(~F.col("cancelled"))
    mean = F.element_at(_map({k: v[1] for k, v in C.BEHAVIOURS.items()}), F.col("behaviour"))
    spread = F.element_at(_map({k: v[2] for k, v in C.BEHAVIOURS.items()}), F.col("behaviour"))
    days_after_due = F.round(mean + spread * rnd.normal("pay.delay", "idx"))
    pay_date = F.greatest(F.date_add("order_date", 1), F.date_add("due_date", days_after_due.cast("int")))
    defaulted = (F.col("behaviour") == "DEFAULTER") & (F.col("due_date") >= F.col("default_on"))
    share = F.when(defaulted, F.when(rnd.u("pay.def_part", "idx") < 0.2, 0.1 + 0.3 * rnd.u("pay.def_share", "idx")).otherwise(0.0)) \
        .when((F.col("behaviour") == "CHRONIC") & (rnd.u("pay.short", "idx") < 0.3), 0.5 + 0.4 * rnd.u("pay.share", "idx")) \
        .otherwise(1.0)
    total = money(F.col("amount") * share)
    split = rnd.u("pay.split", "idx") < 0.15
    first = F.when(split, money(total * (0.4 + 0.3 * rnd.u("pay.first", "idx")))).otherwise(total)
    pay_ts = plus_seconds(F.to_timestamp(pay_date), F.lit(9 * 3600) - offset_seconds(F.col("b_country")) + F.floor(rnd.u("pay.hour", "idx") * 8 * 3600))
    second_ts = plus_seconds(pay_ts, (10 + F.floor(rnd.u("pay.gap", "idx") * 20)) * DAY_S)
    refund_ts = plus_seconds(F.col("return_ts"), F.floor((5 + 10 * rnd.u("pay.refund", "idx")) * DAY_S))
    refund = F.col("returned") & (pay_ts < F.col("return_ts")) & (total > 0)
    payments = F.array(
        F.when(first > 0, F.struct(F.lit(1).alias("n"), F.lit("PAYMENT").alias("type"), first.alias("amount"), pay_ts.alias("ts"))),
        F.when(split & (total - first > 0), F.struct(F.lit(2).alias("n"), F.lit("PAYMENT").alias("type"), (total - first).cast("decimal(18,2)").alias("amount"), second_ts.alias("ts"))),
        F.when(refund, F.struct(F.lit(3).alias("n"), F.lit("REFUND").alias("type"), total.alias("amount"), refund_ts.alias("ts"))),
    )
    df = inv.select("*", F.explode(F.filter(payments, lambda x: x.isNotNull())).alias("pm"))
    method = F.when(rnd.u("pay.method", "idx", F.col("pm.n")) < 0.7, F.col("method")).otherwise(
        rnd.choice("pay.method_other", C.METHODS, "idx", F.col("pm.n"))
    )
    payment_id = F.format_string("P%09d-%d", "idx", F.col("pm.n"))
    return df.select(
        payment_id.alias("payment_id"),
        "txn_id",
        F.col("pm.type").alias("type"),
        F.col("pm.amount").cast("string").alias("amount"),
        "currency",
        local_iso(F.col("pm.ts"), F.col("b_country")).alias("paid_ts"),
        method.alias("method"),
        "payer_account",
        arrival(rnd, p, F.col("pm.ts"), "pay.arrive", "idx", F.col("pm.n")).alias("_ingest_date"),
        F.col("pm.ts").alias("_event_ts"),
        F.concat_ws(":", F.lit("pay"), payment_id).alias("_rid"),
        F.lit(None).cast("string").alias("_key"),
        F.col("txn_id").alias("_parent"),
    )
