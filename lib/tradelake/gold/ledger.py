"""Running totals for every as-of date, from the changes facts make to them.

Most features are sums over a window of event dates: "invoices ordered in (D-90, D]", "shipments
with promised_date in (D-90, D]", "invoices ordered <= D". Such a sum is built from **components**:
what one fact state adds to one entity's total while D is in `[event_day + start, event_day + end)`.

When a fact changes state on day K (facts.py), it takes its old contribution back and adds its new one,
from K on. The **ledger** records exactly that, per entity, sub-entity, event day and knowledge day:

    family, entity_id, sub_key, event_day (d), known_day (K), one delta per component

and the value of component c (window [s, e)) at as-of date D is

    sum of delta_c over ledger rows with  max(d + s, K) <= D < d + e

Ledger rows are immutable once K has passed (nothing known later changes what was known at K), which
makes both ways of reading them cheap and equal:

- a **series** (a backfill over D1..D2): each ledger row becomes a step up on the day it starts
  counting and a step down on the day it leaves the window; a running sum of the steps per entity
  gives every date's totals in one pass (`series`), kept as the values held between the days they
  change (a row per date only inside the aggregation that reads it);
- a **daily step**: totals(D) = totals(D-1) + the ledger rows that start or stop counting on D, which
  are the rows known on D or whose event day is D minus one of their family's window offsets (`advance`).
  Its cost follows the day's changes and the number of entities, not the length of history.

Sums of money and durations are exact decimals (a re-run must give identical values, and running totals
that go up and down must come back to exactly 0). Non-additive features (distinct counts, maxima,
quantiles) are kept as totals per **sub-entity** (a supplier's buyers, a supplier's lead-time histogram
bins, an entity's invoices per days-past-due) and aggregated per entity at the end. In a range, the
aggregates that are sums over sub-entities (counts of buyers, sums of squares) are themselves computed
as steps of the held values (common.sums_by_date), and a lane week's quantiles only on the days its bins
change (common.held_histogram_quantiles).
"""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

KINDS: dict[str, T.DataType] = {
    "count": T.LongType(),
    "money": T.DecimalType(38, 8),        # USD, exact
    "seconds": T.DecimalType(38, 6),      # durations in seconds, exact to the microsecond
    "seconds2": T.DecimalType(38, 12),    # squared durations (for standard deviations)
    "money2": T.DecimalType(38, 6),       # squared money (for concentration indices)
}


@dataclass(frozen=True)
class SubKey:
    """A sub-entity within an entity (e.g. each buyer of a supplier): totals are kept per sub-entity.
    `expr` is null where the fact state contributes no sub-entity row."""

    name: str
    expr: Callable[[], Column]


@dataclass(frozen=True)
class Component:
    """What a fact state adds to an entity's running total while D is in [on + start, on + end).

    fact: "invoice" or "shipment" (facts.py); entity: the state's column naming the entity;
    on: the state's event-day column; value: a column expression over the state (null counts as 0)."""

    name: str
    fact: str
    entity: str
    on: str
    value: Callable[[], Column]
    start: int = 0
    end: int | None = None
    kind: str = "count"
    sub: SubKey | None = None
    doc: str = ""

    @property
    def family(self) -> str:
        return f"{self.fact}/{self.entity}/{self.sub.name if self.sub else '-'}/{self.on}"

    @property
    def dtype(self) -> T.DataType:
        return KINDS[self.kind]


def window(days: int) -> dict:
    """(D - days, D]: counts for D in [event_day, event_day + days)."""
    return {"start": 0, "end": days}


# A fact state contributes only where this holds (a shipment of a CANCELLED or unknown transaction: never).
FACT_FILTER: dict[str, Callable[[], Column]] = {
    "invoice": lambda: F.lit(True),
    "shipment": lambda: F.col("counted"),
}

KEYS = ["family", "entity_id", "sub_key"]


def families(components: list[Component]) -> OrderedDict[str, list[Component]]:
    out: OrderedDict[str, list[Component]] = OrderedDict()
    for c in components:
        out.setdefault(c.family, []).append(c)
    return out


def ledger_schema(components: list[Component]) -> T.StructType:
    names = [c.name for c in components]
    if len(set(names)) != len(names):
        raise ValueError(f"component names must be unique: {sorted(n for n in names if names.count(n) > 1)}")
    return T.StructType(
        [T.StructField("family", T.StringType()), T.StructField("entity_id", T.StringType()),
         T.StructField("sub_key", T.StringType()), T.StructField("event_day", T.DateType()),
         T.StructField("known_day", T.DateType())]
        + [T.StructField(c.name, c.dtype, metadata={"comment": c.doc}) for c in components]
    )


def _nonzero(names: list[str]) -> Column:
    """Some of the columns `names` is not 0. One comparison, not a chain of ORs: the optimizer's constraint
    propagation explodes on long disjunctions repeated across a union of wide frames. SQL text: one Py4J
    call, not four per column (see _widen)."""
    if len(names) == 1:
        return F.expr(f"coalesce(`{names[0]}` != 0, false)")
    return F.expr("greatest(" + ", ".join(f"abs(coalesce(CAST(`{n}` AS double), 0D))" for n in names) + ") > 0")


def _widen(df: DataFrame, components: list[Component], fixed: list[str]) -> DataFrame:
    """All component columns, null where the frame does not carry them. As SQL text, parsed in the JVM in
    one call: built from Column objects, the same projection costs four Py4J round trips per component,
    and the daily step widens some thirty frames of 65 components (measured: 0.16-0.19 s a call, 0.02-0.03 s
    as text)."""
    have = set(df.columns)
    return df.selectExpr(*[f"`{c}`" for c in fixed], *[component_sql(c, c.name in have) for c in components])


def component_sql(c: Component, present: bool) -> str:
    """SQL text of component `c` in its type: the column when the frame carries it, else a typed null."""
    return f"CAST({f'`{c.name}`' if present else 'NULL'} AS {c.dtype.simpleString()}) AS `{c.name}`"


# -------------------------------------------------------------------------------------------------
# Ledger rows from fact states
# -------------------------------------------------------------------------------------------------
LEDGER_FIXED = ["family", "entity_id", "sub_key", "event_day", "known_day"]


def ledger_families(states: DataFrame, fact: str, components: list[Component]) -> OrderedDict[str, DataFrame]:
    """The ledger rows of fact states (facts.py), one narrow frame per family (its own components only):
    each state adds its contribution from its `known_from` and takes it back from its `known_to`. Rows
    that change nothing are dropped."""
    out: OrderedDict[str, DataFrame] = OrderedDict()
    for family, comps in families([c for c in components if c.fact == fact]).items():
        c0 = comps[0]
        sub = c0.sub.expr() if c0.sub else F.lit("")
        ident = [F.lit(family).alias("family"), F.col(c0.entity).alias("entity_id"), sub.alias("sub_key"),
                 F.col(c0.on).alias("event_day")]
        values = [F.coalesce(c.value().cast(c.dtype), F.lit(0).cast(c.dtype)) for c in comps]
        contributes = FACT_FILTER[fact]() & F.col(c0.entity).isNotNull() & F.col(c0.on).isNotNull() & sub.isNotNull()
        # The state's contribution from known_from on, and taken back from known_to on: one pass.
        added = F.struct(F.col("known_from").alias("known_day"), *[v.alias(c.name) for v, c in zip(values, comps, strict=True)])
        taken_back = F.when(F.col("known_to").isNotNull(), F.struct(
            F.col("known_to").alias("known_day"), *[(-v).cast(c.dtype).alias(c.name) for v, c in zip(values, comps, strict=True)]
        ))
        summed = (
            states.where(contributes)
            .select(*ident, F.explode(F.array(added, taken_back)).alias("r"))
            .where(F.col("r").isNotNull())
            .select("family", "entity_id", "sub_key", "event_day", "r.*")
            .groupBy(*LEDGER_FIXED)
            .agg(*[F.expr(f"CAST(sum(`{c.name}`) AS {c.dtype.simpleString()}) AS `{c.name}`") for c in comps])
        )
        out[family] = summed.where(_nonzero([c.name for c in comps]))
    return out


def wide_rows(frames: Iterable[DataFrame], components: list[Component]) -> DataFrame:
    """Narrow family frames as one frame of the ledger's schema (every component, null outside its family)."""
    return reduce(DataFrame.unionByName, [_widen(f, components, LEDGER_FIXED) for f in frames])


# -------------------------------------------------------------------------------------------------
# Reading the ledger: totals per (family, entity, sub-entity) and as-of date
# -------------------------------------------------------------------------------------------------
def _shapes(comps: list[Component]) -> OrderedDict[tuple[int, int | None], list[Component]]:
    out: OrderedDict = OrderedDict()
    for c in comps:
        out.setdefault((c.start, c.end), []).append(c)
    return out


def held_dates(since: str, until: str, first: dt.date, last: dt.date) -> Column:
    """Exploded: the dates in first..last of a value held from column `since` until the day before column
    `until` (null: still held). Rows whose value ends before `first` or starts after `last` give none."""
    return F.explode(F.sequence(
        F.greatest(F.col(since), F.lit(first)),
        F.least(F.coalesce(F.date_sub(until, 1), F.lit(last)), F.lit(last)),
    ))


def overlaps(since: str, until: str, first: dt.date, last: dt.date) -> Column:
    """A value held from `since` until the day before `until` holds on some date of first..last."""
    return (F.col(since) <= F.lit(last)) & (F.col(until).isNull() | (F.col(until) > F.lit(first)))


def _explode(held: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """(entity_id, sub_key, as_of_date, values) for every date in first..last from held values
    (entity_id, sub_key, day, next_day, values): each holds from `day` until the day before `next_day`."""
    names = [c for c in held.columns if c not in ("entity_id", "sub_key", "day", "next_day")]
    return held.where(overlaps("day", "next_day", first, last)).select(
        "entity_id", "sub_key", held_dates("day", "next_day", first, last).alias("as_of_date"), *names)


class Totals:
    """Running totals per family: each family's frame (entity_id, sub_key, as_of_date, its components),
    holding only rows where some component is not 0.

    A range (`series`) keeps each family as the values held between the days they change, and gives
    every date's rows on demand: the per-date rows of the sub-entity families are tens of millions,
    cheaper to generate inside each aggregation that reads them than to store. A day (`advance`) keeps
    the families in one wide frame (a `family` column and every component), which is one Spark job
    instead of one per family."""

    def __init__(self, frames: dict[str, DataFrame], wide: DataFrame | None = None,
                 components: list[Component] | None = None, held: dict[str, DataFrame] | None = None,
                 dates: tuple[dt.date, dt.date] | None = None):
        self.frames = frames
        self._wide = wide
        self._components = components
        self._held = held
        self._dates = dates

    @staticmethod
    def from_held(held: dict[str, DataFrame], first: dt.date, last: dt.date) -> Totals:
        return Totals({f: _explode(df, first, last) for f, df in held.items()}, held=held, dates=(first, last))

    def of(self, family: str) -> DataFrame:
        return self.frames[family]

    def held(self, family: str) -> tuple[DataFrame, dt.date, dt.date] | None:
        """A range's family as values held between changes (entity_id, sub_key, day, next_day, its
        components), with the range's first and last date; None for a day's totals."""
        if self._held is None:
            return None
        return self._held[family], self._dates[0], self._dates[1]

    def checkpoint(self) -> Totals:
        """Materialised. Held values are checkpointed as such (their dates are generated when read).
        A wide frame goes to Spark's columnar cache rather than a row checkpoint: its rows carry every
        component column, null outside their family, and a row checkpoint (or a shuffle) spends 24 bytes
        on each null decimal(38); the columnar cache stores nulls as a bitmap and reads only the columns
        asked for. Call `release` when done with it."""
        if self._held is not None:
            return Totals.from_held({f: df.localCheckpoint() for f, df in self._held.items()}, *self._dates)
        if self._wide is not None:
            cached = self._wide.persist(StorageLevel.MEMORY_AND_DISK)
            cached.count()
            return Totals.from_wide(cached, self._components)
        return Totals({f: df.localCheckpoint() for f, df in self.frames.items()})

    def release(self) -> None:
        if self._wide is not None:
            self._wide.unpersist()

    def between(self, first: dt.date, last: dt.date) -> Totals:
        """Only the as-of dates first..last."""
        if self._held is not None:
            return Totals.from_held(self._held, max(first, self._dates[0]), min(last, self._dates[1]))
        return Totals({f: df.where(F.col("as_of_date").between(F.lit(first), F.lit(last)))
                       for f, df in self.frames.items()})

    def wide(self, components: list[Component]) -> DataFrame:
        """One frame for storage: a `family` column and every component column (null outside its family)."""
        fixed = ["family", "entity_id", "sub_key", "as_of_date"]
        if self._wide is not None:
            return _widen(self._wide, components, fixed)
        return reduce(DataFrame.unionByName, [
            _widen(df.withColumn("family", F.lit(f)), components, fixed) for f, df in self.frames.items()
        ])

    @staticmethod
    def from_wide(df: DataFrame, components: list[Component]) -> Totals:
        fams = families(components)

        def narrow(f: str) -> DataFrame:
            return df.where(F.col("family") == f).select("entity_id", "sub_key", "as_of_date", *[c.name for c in fams[f]])

        return Totals(_OnDemand(list(fams), narrow), wide=df, components=components)


class _OnDemand(Mapping):
    """family -> frame, each made when first asked for: deriving a frame from a large plan costs its analysis
    (tenths of a second), and a day's totals are mostly checkpointed before anyone reads a family."""

    def __init__(self, keys: list[str], make):
        self._keys, self._make, self._made = keys, make, {}

    def __getitem__(self, key: str) -> DataFrame:
        if key not in self._made:
            if key not in self._keys:
                raise KeyError(key)
            self._made[key] = self._make(key)
        return self._made[key]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def series(ledger: DataFrame | Mapping[str, DataFrame], components: list[Component], first: dt.date,
           last: dt.date) -> Totals:
    """Totals for every as-of date in first..last, in one pass over the ledger (module docstring): the
    ledger's rows in its wide schema, or one frame per family (ledger_families), which each family's
    pass reads alone."""
    out = {}
    fixed = ["entity_id", "sub_key"]
    for family, comps in families(components).items():
        if isinstance(ledger, Mapping):
            rows = ledger[family]
        else:
            rows = ledger.where(F.col("family") == family)
        # Every row's steps in one pass: for each window shape, a step up on the day it starts counting
        # and a step down on the day it leaves the window (null for the components of other shapes).
        steps = []
        for (start, end), shaped in _shapes(comps).items():
            enter = F.greatest(F.date_add("event_day", start), F.col("known_day"))
            leave = F.date_add("event_day", end) if end is not None else F.lit(None).cast("date")
            counts = F.lit(True) if end is None else enter < leave

            def step(day: Column, up: bool, shaped=shaped, comps=comps) -> Column:  # (bound: called in this loop)
                # Negation, not a product with -1: decimal x integer would round away two decimals.
                def value(c: Component) -> Column:
                    v = F.coalesce(F.col(c.name), F.lit(0).cast(c.dtype))
                    return (v if up else -v).cast(c.dtype)

                # Null, not 0, for the components of other shapes: the sums skip a null, where adding
                # a decimal(38) 0 costs as much as adding any other (most families have many shapes).
                return F.struct(day.alias("day"), *[
                    value(c).alias(c.name) if c in shaped else F.lit(None).cast(c.dtype).alias(c.name) for c in comps
                ])

            steps.append(F.when(counts, step(enter, True)))
            if end is not None:
                steps.append(F.when(counts, step(leave, False)))
        changes = (
            rows.select(*fixed, F.explode(F.array(*steps)).alias("s"))
            .where(F.col("s").isNotNull() & (F.col("s.day") <= F.lit(last)))
            .select(*fixed, "s.*")
            .where(_nonzero([c.name for c in comps]))
            .groupBy(*fixed, "day")
            .agg(*[F.sum(c.name).alias(c.name) for c in comps])
        )
        w = Window.partitionBy(*fixed).orderBy("day")
        running = changes.select(
            *fixed, "day",
            F.lead("day").over(w).alias("next_day"),
            *[F.coalesce(F.sum(c.name).over(w.rowsBetween(Window.unboundedPreceding, Window.currentRow)),
                         F.lit(0)).cast(c.dtype).alias(c.name)
              for c in comps],
        )
        out[family] = running.where(_nonzero([c.name for c in comps])).where(
            overlaps("day", "next_day", first, last))
    return Totals.from_held(out, first, last)


def offsets(components: list[Component]) -> list[int]:
    """Every start and end offset: the event days whose ledger rows can start or stop counting on D."""
    return sorted({c.start for c in components} | {c.end for c in components if c.end is not None})


def touching_before(ledger: DataFrame, components: list[Component], day: dt.date) -> DataFrame:
    """The ledger rows known before `day` that can change a total on it: those entering or leaving a
    window that day, found by their event day (the rows known on `day` itself are the caller's).
    A ledger laid out by event day reads only a few days' rows."""
    def days(comps: list[Component]) -> list[dt.date]:
        return [day - dt.timedelta(days=o) for o in offsets(comps)]

    # Each family only on its own windows' event days (a 98-day family needs D and D-98, not D-365);
    # the union of all of them first, which file and row-group statistics can prune on.
    own_days = reduce(Column.__or__, [
        (F.col("family") == F.lit(f)) & F.col("event_day").isin(days(comps))
        for f, comps in families(components).items()
    ])
    return ledger.where(F.col("event_day").isin(days(components)) & (F.col("known_day") < F.lit(day)) & own_days)


def _counts_on_sql(c: Component, x: dt.date) -> str:
    """SQL: a ledger row counts towards component `c` on date x (inside its window, and known)."""
    inside = f"greatest(date_add(event_day, {c.start}), known_day) <= DATE'{x.isoformat()}'"
    if c.end is not None:
        inside += f" AND DATE'{x.isoformat()}' < date_add(event_day, {c.end})"
    return f"({inside})"


def advance(previous: Totals, ledger: DataFrame, components: list[Component], day: dt.date) -> Totals:
    """Totals on `day` from the totals of the day before (`previous`) and the ledger rows touching
    `day` (any superset of them will do). Each family is aggregated on its own columns only (narrow
    rows through the shuffle); the families are then laid side by side in one wide frame (a projection)
    and computed in one Spark job."""
    prev_day = day - dt.timedelta(days=1)
    fixed = ["family", "entity_id", "sub_key"]
    before_all = previous.wide(components).where(F.col("as_of_date") == F.lit(prev_day))
    parts = []
    for family, comps in families(components).items():
        # SQL text (one Py4J call for the projection, see _widen): a component's change on `day` is its
        # value where the row starts counting that day, minus it where it stops.
        deltas = []
        for c in comps:
            now, before = _counts_on_sql(c, day), _counts_on_sql(c, prev_day)
            change = (f"CASE WHEN {now} AND NOT {before} THEN `{c.name}` "
                      f"WHEN NOT {now} AND {before} THEN -`{c.name}` END")
            deltas.append(f"CAST(coalesce({change}, 0) AS {c.dtype.simpleString()}) AS `{c.name}`")
        names = [c.name for c in comps]
        mine = F.col("family") == F.lit(family)
        changes = ledger.where(mine).selectExpr(*fixed, *deltas).where(_nonzero(names))
        before = before_all.where(mine).select(*fixed, *names)
        summed = changes.unionByName(before).groupBy(*fixed).agg(
            *[F.expr(f"CAST(sum(`{c.name}`) AS {c.dtype.simpleString()}) AS `{c.name}`") for c in comps])
        parts.append(_widen(summed.where(_nonzero(names)), components, fixed))
    wide = reduce(DataFrame.unionByName, parts).select(
        *fixed, F.lit(day).alias("as_of_date"), *[c.name for c in components])
    return Totals.from_wide(wide, components)
