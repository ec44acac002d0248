"""Timing helpers and the printed table. Figures are medians and p99s of many runs: machines are noisy."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    samples: int
    median_ms: float
    p99_ms: float
    target: str = ""
    note: str = ""


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def time_calls(calls: Sequence[Callable[[], object]], repeat: int = 1) -> list[float]:
    """Seconds per call, each timed on its own with perf_counter_ns."""
    durations: list[float] = []
    for _ in range(repeat):
        for call in calls:
            start = time.perf_counter_ns()
            call()
            durations.append((time.perf_counter_ns() - start) / 1e9)
    return durations


def row(name: str, seconds: Sequence[float], target: str = "", note: str = "") -> Row:
    return Row(
        name,
        len(seconds),
        statistics.median(seconds) * 1000,
        percentile(seconds, 0.99) * 1000,
        target,
        note,
    )


def print_table(title: str, rows: Sequence[Row]) -> None:
    headers = ("benchmark", "n", "median ms", "p99 ms", "target", "note")
    cells = [(r.name, str(r.samples), f"{r.median_ms:.4f}", f"{r.p99_ms:.4f}", r.target, r.note) for r in rows]
    widths = [max(len(header), *(len(cell[i]) for cell in cells)) for i, header in enumerate(headers)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    print(f"\n{title}")
    print(line.format(*headers))
    print(line.format(*("-" * width for width in widths)))
    for cell in cells:
        print(line.format(*cell))
