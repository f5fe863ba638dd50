"""The cover of a landing log: every landed offset once, and the slice to read it from.

Two runs that ingested the same offsets concurrently leave overlapping slices. The cover chains
the committed slices of each partition from its first offset and takes each offset from the first
slice that holds it, so every record counts exactly once whatever the interleaving. Hour files in
raw are rebuilt from the cover, which is why a rerun is deterministic and why records the broker
has since lost are still in the lake.

With a checkpoint (`checkpoint.py`), the chain up to its `through` offsets is the checkpoint's,
fixed when it was written: a slice committed later below `through` is redundant. Loose commit
markers continue the chain from there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from aggregator_assets.ingest.checkpoint import Checkpoint, RetiredHours
from aggregator_assets.ingest.commits import Commit, CoveredSlice
from aggregator_assets.ingest.errors import IngestError
from aggregator_assets.ingest.fetch import Fingerprint


@dataclass
class Cover:
    loose: dict[int, list[CoveredSlice]]  # partition -> chained loose markers, in offset order
    ends: dict[int, tuple[int, Fingerprint | None]]  # partition -> (next offset, record before)
    checkpoint: Checkpoint | None = None

    @property
    def through(self) -> dict[int, int]:
        """Per partition, the landing offset the cover reaches (an hour file records it)."""
        return {p: end for p, (end, _) in self.ends.items()}

    @property
    def retired(self) -> RetiredHours:
        return self.checkpoint.retired if self.checkpoint else RetiredHours()

    @property
    def chains(self) -> dict[int, list[CoveredSlice]]:
        """Partition -> every slice of the chain that has kept pieces, in offset order."""
        return _by_partition(
            [*(self.checkpoint.slices if self.checkpoint else ()), *_flat(self.loose)]
        )

    def hours(self) -> set[tuple[str, str]]:
        """(kind, hour) of every hour with kept pieces."""
        return {
            (kind, hour)
            for chain in self.chains.values()
            for covered in chain
            for kind in ("raw", "quarantine")
            for hour in covered.commit.hours(kind)
        }

    def slices_for(self, kind: str, hour: str) -> list[CoveredSlice]:
        """The slices with rows in an hour (`raw` or `quarantine`), in (partition, offset) order.

        Settled slices of the checkpoint are parsed only for an hour they may hold."""
        candidates = list(_flat(self.loose))
        if self.checkpoint:
            candidates += self.checkpoint.active
            if self.checkpoint.may_have_settled(kind, hour):
                candidates += self.checkpoint.settled
        found = [c for c in candidates if hour in c.commit.hours(kind)]
        return sorted(found, key=lambda c: (c.slice.partition, c.take_from))

    def is_retired(self, kind: str, hour: str) -> bool:
        """Whether retention removed pieces of this hour: its sealed file holds those offsets."""
        return self.retired.contains(kind, hour)


def _flat(chains: dict[int, list[CoveredSlice]]) -> list[CoveredSlice]:
    return [c for p in sorted(chains) for c in chains[p]]


def _by_partition(slices: list[CoveredSlice]) -> dict[int, list[CoveredSlice]]:
    chains: dict[int, list[CoveredSlice]] = defaultdict(list)
    for covered in sorted(slices, key=lambda c: (c.slice.partition, c.take_from)):
        chains[covered.slice.partition].append(covered)
    return dict(chains)


def compute_cover(commits: list[Commit], checkpoint: Checkpoint | None = None) -> Cover:
    """Chain committed slices per partition; raise if offsets are missing between them.

    The chain continues `checkpoint`, or the one `Landing.commits()` read the markers with."""
    checkpoint = checkpoint or getattr(commits, "checkpoint", None)
    loose: dict[int, list[CoveredSlice]] = defaultdict(list)
    marks = checkpoint.partitions if checkpoint else {}
    ends: dict[int, tuple[int, Fingerprint | None]] = {
        p: (mark.through, mark.last) for p, mark in marks.items()
    }
    by_partition: dict[int, list[Commit]] = defaultdict(list)
    for commit in commits:
        by_partition[commit.slice.partition].append(commit)
    for partition, items in by_partition.items():
        items.sort(key=lambda c: (c.slice.start, -c.slice.end))
        covered, last = ends.get(partition, (items[0].slice.start, None))
        for commit in items:
            if commit.slice.start > covered:
                raise IngestError(
                    f"landing of partition {partition} has no slice for offsets"
                    f" {covered}..{commit.slice.start - 1}: the landing folder was altered"
                )
            if commit.slice.end <= covered:
                continue
            loose[partition].append(CoveredSlice(commit, take_from=covered))
            covered, last = commit.slice.end, commit.last
        ends[partition] = (covered, last)
    return Cover(dict(loose), ends, checkpoint)
