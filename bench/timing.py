"""Latency samples in nanoseconds and their summary (median and tail percentiles)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

__all__ = ["Summary", "percentile", "summarise"]


def percentile(ordered: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of already sorted samples (fraction 0.5 is the median)."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    median_ns: int
    p90_ns: int
    p99_ns: int
    max_ns: int

    @property
    def median_ms(self) -> float:
        return self.median_ns / 1e6

    @property
    def p99_ms(self) -> float:
        return self.p99_ns / 1e6


def summarise(samples: Sequence[int]) -> Summary:
    ordered = sorted(samples)
    return Summary(
        count=len(ordered),
        median_ns=percentile(ordered, 0.5),
        p90_ns=percentile(ordered, 0.9),
        p99_ns=percentile(ordered, 0.99),
        max_ns=ordered[-1],
    )
