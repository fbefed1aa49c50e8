"""Deterministic randomness as Spark columns.

Every random draw is a hash of (seed, purpose, the row's identity): the same seed gives the same data
whatever the partitioning or the number of executors, and generation runs in parallel without state.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

_MASK53 = (1 << 53) - 1


class Rand:
    def __init__(self, seed: int):
        self.seed = seed

    def u(self, purpose: str, *identity: Column | str) -> Column:
        """Uniform in [0, 1)."""
        cols = [F.col(c) if isinstance(c, str) else c for c in identity]
        h = F.xxhash64(F.lit(self.seed), F.lit(purpose), *cols)
        return h.bitwiseAND(F.lit(_MASK53)).cast("double") / float(1 << 53)

    def normal(self, purpose: str, *identity: Column | str) -> Column:
        """Standard normal (Box-Muller)."""
        u1 = F.greatest(self.u(purpose + ".1", *identity), F.lit(1e-12))
        u2 = self.u(purpose + ".2", *identity)
        return F.sqrt(-2.0 * F.log(u1)) * F.cos(2.0 * math.pi * u2)

    def int_between(self, purpose: str, lo: int, hi: int, *identity: Column | str) -> Column:
        """Integer in [lo, hi]."""
        return (F.lit(lo) + F.floor(self.u(purpose, *identity) * (hi - lo + 1))).cast("int")

    def choice(self, purpose: str, options: Sequence[tuple[object, float]], *identity: Column | str) -> Column:
        """One of the options, by weight."""
        return weighted(self.u(purpose, *identity), options)


def weighted(u: Column, options: Sequence[tuple[object, float]]) -> Column:
    total = float(sum(w for _, w in options))
    out = F.lit(options[-1][0])
    acc = 0.0
    branches = []
    for value, w in options[:-1]:
        acc += w / total
        branches.append((acc, value))
    for threshold, value in reversed(branches):
        out = F.when(u < threshold, F.lit(value)).otherwise(out)
    return out
