"""Analysts' helpers: read gold without Spark, and measure how well a feature separates defaulters.

Reading (no JVM: delta-rs through the `deltalake` package, pandas or DuckDB on top)::

    from tradelake.analysis import read_table
    sc = read_table("lakehouse", "gold", "supplier_scorecard", as_of="latest")   # a pandas DataFrame

Feature power against a binary label (1 = default):

- `auc(scores, labels)`: the area under the ROC curve from rank statistics (Mann-Whitney U): the
  probability that a random defaulter scores higher than a random non-defaulter, ties counting half.
  Ties get average ranks. 0.5 is no separation; below 0.5 the feature separates the other way round
  (1 - auc is its power with the sign flipped). NaN without both classes.
- `woe_table(values, labels)` and `information_value(...)`: weight of evidence per bin and the
  information value. Bins: a numeric feature gets equal-frequency bins (`bins`, default 10, of about
  n / bins rows each, formed over its sorted distinct values: a value holding that many rows or more,
  such as the 0 of a mostly-zero feature, is a bin of its own; see `bin_values`), a text feature a bin
  per value, and missing values a bin of their own. Per bin, with G and B the numbers of non-defaulters
  (label 0) and defaulters (label 1)::

      WoE_i = ln( (g_i / G) / (b_i / B) )        IV = sum_i (g_i / G - b_i / B) * WoE_i

  A bin without any defaulter or any non-defaulter has an infinite WoE: then `smoothing` (0.5) is added
  to both counts of *every* bin (and G, B are the sums of the smoothed counts), which keeps WoE finite
  and leaves the bins' order intact. Bins with no rows at all do not exist. NaN without both classes.
  Rule of thumb: IV < 0.02 useless, 0.02-0.1 weak, 0.1-0.3 medium, > 0.3 strong.
- `feature_power(frame, features, label)`: IV and AUC of each feature, one row each.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

DPD_BUCKETS = ("CURRENT", "1-29", "30-59", "60-89", "90+")


# -------------------------------------------------------------------------------------------------
# Reading without Spark
# -------------------------------------------------------------------------------------------------
def table_uri(lakehouse: str, layer: str, table: str) -> str:
    return f"{str(lakehouse).rstrip('/')}/{layer}/{table}"


def read_table(lakehouse: str, layer: str, table: str, columns: Sequence[str] | None = None,
               as_of: str | None = None, version: int | None = None) -> pd.DataFrame:
    """A Delta table of the lakehouse as a pandas DataFrame, read with delta-rs (no Spark).

    as_of: a date 'YYYY-MM-DD' keeps that snapshot of a gold table (as_of_date = D); 'latest' keeps the
    newest as_of_date. version: the table as of that Delta version (time travel)."""
    import deltalake
    import pyarrow.compute as pc

    dt = deltalake.DeltaTable(table_uri(lakehouse, layer, table), version=version)
    dataset = dt.to_pyarrow_dataset()
    flt = None
    if as_of is not None:
        if as_of == "latest":
            dates = dataset.to_table(columns=["as_of_date"]).column("as_of_date")
            if len(dates) == 0:
                return dataset.schema.empty_table().select(list(columns) if columns else dataset.schema.names).to_pandas()
            day = pc.max(dates)
        else:
            import datetime as _dt

            day = _dt.date.fromisoformat(as_of)
        flt = pc.field("as_of_date") == day
    return dataset.to_table(columns=list(columns) if columns else None, filter=flt).to_pandas()


# -------------------------------------------------------------------------------------------------
# Feature power
# -------------------------------------------------------------------------------------------------
def _pairs(values: Iterable, labels: Iterable) -> tuple[pd.Series, np.ndarray]:
    v = pd.Series(list(values) if not isinstance(values, (pd.Series, np.ndarray)) else values).reset_index(drop=True)
    y = pd.Series(list(labels) if not isinstance(labels, (pd.Series, np.ndarray)) else labels).reset_index(drop=True)
    if len(v) != len(y):
        raise ValueError(f"{len(v)} values but {len(y)} labels")
    if y.isna().any():
        raise ValueError("labels must not be missing")
    y = y.astype(int).to_numpy()
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be 0 or 1")
    return v, y


def auc(scores: Iterable, labels: Iterable) -> float:
    """ROC AUC of scores against 0/1 labels by rank statistics (ties: average ranks); missing scores are
    left out. NaN when the rows left lack either class."""
    s, y = _pairs(scores, labels)
    s = pd.to_numeric(s, errors="coerce")
    keep = s.notna().to_numpy()
    s, y = s.to_numpy(dtype=float)[keep], y[keep]
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pd.Series(s).rank(method="average").to_numpy()
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def bin_values(values: Iterable, bins: int | Sequence[float] = 10) -> pd.Categorical:
    """The bin of each value, as an ordered categorical ('missing' last, for missing values).

    Numbers, bins an int: equal-frequency bins of about n / bins rows, formed over the sorted distinct
    values - a value holding at least n / bins rows is a bin of its own (a feature that is mostly 0
    gets a bin for 0), a bin closes once it holds n / bins rows, and a last bin under half that joins
    the one before. Labelled '[lo, hi]' by the values they hold. Numbers, bins a list of edges: the
    intervals '[e0, e1)', ..., '[e(k-1), ek]'. Text: one bin per value, sorted."""
    v = values if isinstance(values, pd.Series) else pd.Series(list(values))
    v = v.reset_index(drop=True)
    present = v.notna().to_numpy()
    codes = np.full(len(v), -1, dtype=int)
    numeric = pd.api.types.is_numeric_dtype(v) or pd.api.types.is_bool_dtype(v)
    if not present.any():
        names: list[str] = []
    elif not numeric:
        text = v[present].astype(str)
        names = sorted(text.unique())
        codes[present] = text.map({n: i for i, n in enumerate(names)}).to_numpy()
    elif isinstance(bins, int):
        x = v[present].astype(float).to_numpy()
        distinct, counts = np.unique(x, return_counts=True)
        target = len(x) / bins
        groups: list[list[int]] = []  # indexes into distinct
        current: list[int] = []
        filled = 0
        for i, c in enumerate(counts):
            if c >= target and current:
                groups.append(current)
                current, filled = [], 0
            current.append(i)
            filled += c
            if filled >= target:
                groups.append(current)
                current, filled = [], 0
        if current:
            if groups and filled < target / 2:
                groups[-1] = groups[-1] + current
            else:
                groups.append(current)
        group_of = np.empty(len(distinct), dtype=int)
        for g, members in enumerate(groups):
            group_of[members] = g
        names = [f"[{float(distinct[m[0]])!r}, {float(distinct[m[-1]])!r}]" for m in groups]
        codes[present] = group_of[np.searchsorted(distinct, x)]
    else:
        x = v[present].astype(float).to_numpy()
        edges = np.unique(np.asarray(bins, dtype=float))
        if len(edges) < 2 or edges[0] > x.min() or edges[-1] < x.max():
            raise ValueError(f"edges {edges.tolist()} do not cover the values [{x.min()}, {x.max()}]")
        # bin i holds edges[i] <= x < edges[i+1]; the last bin also holds its upper edge
        names = [f"[{float(lo)!r}, {float(hi)!r}{']' if i == len(edges) - 2 else ')'}"
                 for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))]
        codes[present] = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    if not present.all():
        names = [*names, "missing"]
        codes[~present] = len(names) - 1
    return pd.Categorical.from_codes(codes, categories=names, ordered=True)


def woe_table(values: Iterable, labels: Iterable, bins: int | Sequence[float] = 10, smoothing: float = 0.5) -> pd.DataFrame:
    """Weight of evidence per bin: columns bin, rows, goods (label 0), bads (label 1), dist_good,
    dist_bad, woe, iv (the bin's share of the information value), in bin order ('missing' last)."""
    v, y = _pairs(values, labels)
    frame = pd.DataFrame({"bin": bin_values(v, bins), "bad": y})
    t = frame.groupby("bin", observed=True, sort=True).agg(rows=("bad", "size"), bads=("bad", "sum")).reset_index()
    t["bin"] = t["bin"].astype(str)
    t["goods"] = t["rows"] - t["bads"]
    g, bd = t["goods"].astype(float), t["bads"].astype(float)
    columns = ["bin", "rows", "goods", "bads", "dist_good", "dist_bad", "woe", "iv"]
    if g.sum() == 0 or bd.sum() == 0:
        t["dist_good"] = t["dist_bad"] = t["woe"] = t["iv"] = math.nan
        return t[columns]
    if ((g == 0) | (bd == 0)).any():
        g, bd = g + smoothing, bd + smoothing
    t["dist_good"] = g / g.sum()
    t["dist_bad"] = bd / bd.sum()
    t["woe"] = np.log(t["dist_good"] / t["dist_bad"])
    t["iv"] = (t["dist_good"] - t["dist_bad"]) * t["woe"]
    return t[columns]


def information_value(values: Iterable, labels: Iterable, bins: int | Sequence[float] = 10, smoothing: float = 0.5) -> float:
    """IV of a feature against 0/1 labels (see woe_table); NaN without both classes."""
    t = woe_table(values, labels, bins, smoothing)
    return float(t["iv"].sum()) if t["iv"].notna().all() else math.nan


def feature_power(frame: pd.DataFrame, features: Sequence[str], label: str, bins: int = 10) -> pd.DataFrame:
    """Per feature: rows with a value, IV, AUC (numeric features only) and |AUC - 0.5| x 2 (the Gini
    coefficient without its sign). Sorted by IV, strongest first."""
    rows = []
    for f in features:
        col = frame[f]
        numeric = pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        a = auc(col, frame[label]) if numeric else math.nan
        rows.append({"feature": f, "rows": int(col.notna().sum()),
                     "iv": information_value(col, frame[label], bins), "auc": a,
                     "gini": abs(2 * a - 1) if not math.isnan(a) else math.nan})
    return pd.DataFrame(rows).sort_values("iv", ascending=False, na_position="last").reset_index(drop=True)


def default_rate_by(frame: pd.DataFrame, column: str, label: str) -> pd.DataFrame:
    """Rows, defaults and default rate per value of column (dpd_bucket_now in its natural order)."""
    t = frame.groupby(column, dropna=False)[label].agg(rows="size", defaults="sum").reset_index()
    t["default_rate"] = t["defaults"] / t["rows"]
    if column == "dpd_bucket_now":
        t = t.sort_values(column, key=lambda s: s.map({b: i for i, b in enumerate(DPD_BUCKETS)})).reset_index(drop=True)
    return t
