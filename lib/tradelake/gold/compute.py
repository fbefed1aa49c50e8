"""The gold pipeline as pure functions: silver DataFrames in, gold DataFrames out.

`compute_range` is the whole computation for as-of dates first..last in one pass (a backfill, or a
first run). The daily incremental step (job.py) uses the same pieces on the day's changes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradelake.gold import (
    buyer_credit,
    buyer_default_labels,
    facts,
    lane_performance,
    ledger,
    supplier_credit,
    supplier_scorecard,
)
from tradelake.gold.common import entity_totals

COMPONENTS: list[ledger.Component] = (
    supplier_scorecard.C + supplier_credit.C + buyer_credit.C + buyer_default_labels.C + lane_performance.C
)
LEDGER_SCHEMA = ledger.ledger_schema(COMPONENTS)


@dataclass(frozen=True)
class Silver:
    """The silver tables gold reads (any subset of their rows: see `visible_by`)."""

    transactions: DataFrame
    payments: DataFrame
    shipments: DataFrame
    shipment_events: DataFrame
    suppliers: DataFrame
    fx_rates: DataFrame

    def visible_by(self, day: dt.date) -> Silver:
        """Only rows visible at the end of `day` (docs/gold_features.md)."""
        return Silver(**{
            f.name: getattr(self, f.name).where((F.col("_known_date") <= F.lit(day)) & (EVENT_DATE[f.name]() <= F.lit(day)))
            for f in fields(self)
        })


# The date of what a silver row records: a row is visible from the later of this and its _known_date.
EVENT_DATE = {
    "transactions": lambda: F.to_date("updated_at"), "payments": lambda: F.to_date("paid_ts"),
    "shipments": lambda: F.to_date("updated_at"), "shipment_events": lambda: F.to_date("event_ts"),
    "suppliers": lambda: F.to_date("updated_at"), "fx_rates": lambda: F.col("rate_date"),
}


@dataclass(frozen=True)
class Gold:
    supplier_scorecard: DataFrame
    supplier_credit_features: DataFrame
    buyer_credit_features: DataFrame
    lane_performance: DataFrame
    buyer_default_labels: DataFrame | None


def fact_states(silver: Silver) -> tuple[DataFrame, DataFrame]:
    # Materialised: each is read several times, and the plans downstream stay small.
    invoices = facts.invoice_states(silver.transactions, silver.payments).localCheckpoint()
    shipments = facts.shipment_states(silver.shipments, silver.shipment_events, invoices).localCheckpoint()
    return invoices, shipments


def ledger_families_of(invoices: DataFrame, shipments: DataFrame) -> dict[str, DataFrame]:
    """The ledger rows, one narrow frame per family (ledger.ledger_families)."""
    return {**ledger.ledger_families(invoices, "invoice", COMPONENTS),
            **ledger.ledger_families(shipments, "shipment", COMPONENTS)}


def ledger_of(invoices: DataFrame, shipments: DataFrame) -> DataFrame:
    """The ledger rows in the ledger's (wide) schema."""
    return ledger.wide_rows(ledger_families_of(invoices, shipments).values(), COMPONENTS)


def features(totals: ledger.Totals, silver: Silver, first: dt.date, last: dt.date,
             materialise: bool = False) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The three entity feature tables for first..last from the running totals of those dates;
    `materialise`: each computed now and kept (the scorecard feeds the credit features, the buyers'
    features the labels, and recomputing them re-reads the totals of every date)."""
    kept = (lambda df: df.localCheckpoint()) if materialise else (lambda df: df)
    suppliers = entity_totals(totals, COMPONENTS, "supplier_id")
    scorecard = kept(supplier_scorecard.build(suppliers, totals))
    attributes = supplier_credit.supplier_attributes(silver.suppliers, silver.fx_rates, first, last)
    credit = kept(supplier_credit.build(suppliers, totals, attributes, scorecard))
    buyers = kept(buyer_credit.build(entity_totals(totals, COMPONENTS, "buyer_id"), totals))
    return scorecard, credit, buyers


def compute_range(silver: Silver, first: dt.date, last: dt.date,
                  earlier_buyer_features: DataFrame | None = None) -> tuple[Gold, dict[str, DataFrame], ledger.Totals]:
    """Every gold table for the as-of dates first..last, in one pass, from silver as known at `last`.
    Labels: those of first-180..last-180, for the buyers of buyer_credit_features at those dates (the
    range's own, and `earlier_buyer_features` for dates before it). Also returns the ledger (rows known
    through `last`, one frame per family) and the totals of the range (for the daily step to continue from)."""
    known = silver.visible_by(last)
    invoices, shipments = fact_states(known)
    # Each family's rows materialised on their own, narrow: the series reads each family alone, and a
    # wide row (every component, mostly null) costs about a kilobyte in a row checkpoint.
    rows = {f: df.localCheckpoint() for f, df in ledger_families_of(invoices, shipments).items()}
    totals = ledger.series(rows, COMPONENTS, first, last).checkpoint()
    scorecard, credit, buyers = features(totals, known, first, last, materialise=True)
    labelled = buyers if earlier_buyer_features is None else buyers.unionByName(
        earlier_buyer_features.select(*buyers.columns))
    labels = buyer_default_labels.build(
        totals, labelled, first - dt.timedelta(days=buyer_default_labels.HORIZON),
        last - dt.timedelta(days=buyer_default_labels.HORIZON),
    )
    lanes = lane_performance.build(totals)
    return Gold(scorecard, credit, buyers, lanes, labels), rows, totals
