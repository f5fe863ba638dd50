"""Window naming profiles: the columns a topic's window statistics are written with.

The config owns these names because it must refuse a config whose names would collide in the
windows table (a dimension called `event_count`, a domain count called `mean_value`) before a
run fails on it; `aggregator_assets.windows` computes the values under the same names.

* `default`: keys, `window_start`, `window_end` (timestamp[us, UTC], the window is
  [start, end)), `event_count`, then per aggregated field `count_F`, `min_F`, `max_F`,
  `mean_F`, `median_F`, `stddev_F`, `sum_F` and `avg_F` (an alias of `mean_F`), then the
  domain counts.
* `kafka-aggregator`: the columns of lsst-sqre/kafka-aggregator's aggregated topics, which
  observatory dashboards are built on: keys, `time` (the window midpoint, float64 epoch
  seconds), `window_size` (float64 seconds), `count`, then per aggregated field `min_F`,
  `mean_F`, `median_F`, `stdev_F`, `max_F` (its operations, in its order), then the domain
  counts.

Statistic names have aliases: `stdev` and `stddev` are the sample standard deviation, `avg`
and `mean` the arithmetic mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WindowNamingName = Literal["default", "kafka-aggregator"]
STATISTICS = ("count", "min", "max", "mean", "median", "stddev", "sum")
STAT_ALIASES = {"avg": "mean", "stdev": "stddev"}


def canonical_stat(name: str) -> str:
    """'stdev' -> 'stddev', 'avg' -> 'mean'; a canonical name is returned as is."""
    stat = STAT_ALIASES.get(name, name)
    if stat not in STATISTICS:
        raise ValueError(f"{name!r} is not a statistic ({', '.join(STATISTICS)}, or an alias)")
    return stat


@dataclass(frozen=True)
class WindowNaming:
    """How one profile names the window, its row count and each statistic of a field F."""

    name: str
    window: tuple[tuple[str, str], ...]  # (column, meaning): start, end, midpoint_s, size_s
    count: str  # raw rows in the (key, window)
    stats: tuple[tuple[str, str], ...]  # (column prefix, canonical statistic)

    def column_of(self, meaning: str) -> str | None:
        return next((column for column, m in self.window if m == meaning), None)


@dataclass(frozen=True)
class WindowColumn:
    """One column of a windows file: what it holds and which config key gave it its name."""

    name: str
    kind: str  # key, start, end, midpoint_s, size_s, count, stat, domain_count
    source: str  # e.g. `key_field`, `dimensions[0]`, `fields.value`, `window_naming`
    stat: str | None = None  # canonical statistic of a `stat` column
    field: str | None = None  # the field a `stat` column summarises


def window_columns(
    naming: WindowNaming,
    keys: list[tuple[str, str]],
    fields: list[str],
    domain_counts: list[str],
) -> list[WindowColumn]:
    """Every column of a windows file in order; `keys` are (column, config key) pairs."""
    columns = [WindowColumn(name, "key", source) for name, source in keys]
    profile = f"window_naming {naming.name!r}"
    columns += [WindowColumn(c, kind, profile) for c, kind in naming.window]
    columns.append(WindowColumn(naming.count, "count", profile))
    for field in fields:
        columns += [
            WindowColumn(f"{prefix}_{field}", "stat", f"fields.{field}", stat, field)
            for prefix, stat in naming.stats
        ]
    columns += [WindowColumn(c, "domain_count", f"domain_counts.{c}") for c in domain_counts]
    return columns


NAMINGS: dict[str, WindowNaming] = {
    "default": WindowNaming(
        "default",
        window=(("window_start", "start"), ("window_end", "end")),
        count="event_count",
        stats=(*((s, s) for s in STATISTICS), ("avg", canonical_stat("avg"))),
    ),
    "kafka-aggregator": WindowNaming(
        "kafka-aggregator",
        window=(("time", "midpoint_s"), ("window_size", "size_s")),
        count="count",
        stats=tuple((op, canonical_stat(op)) for op in ("min", "mean", "median", "stdev", "max")),
    ),
}
