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
from dataclasses import dataclass, field

from aggregator_assets.ingest.checkpoint import Checkpoint, RetiredHours
from aggregator_assets.ingest.commits import Commit, CoveredSlice
from aggregator_assets.ingest.errors import IngestError
from aggregator_assets.ingest.fetch import Fingerprint


@dataclass
class Cover:
    chains: dict[int, list[CoveredSlice]]  # partition -> slices in offset order
    ends: dict[int, tuple[int, Fingerprint | None]]  # partition -> (next offset, record before)
    retired: RetiredHours = field(default_factory=RetiredHours)

    @property
    def through(self) -> dict[int, int]:
        """Per partition, the landing offset the cover reaches (an hour file records it)."""
        return {p: end for p, (end, _) in self.ends.items()}

    def slices_for(self, kind: str, hour: str) -> list[CoveredSlice]:
        """The slices with rows in an hour (`raw` or `quarantine`), in (partition, offset) order."""
        return [
            c for p in sorted(self.chains) for c in self.chains[p] if hour in c.commit.hours(kind)
        ]

    def is_retired(self, kind: str, hour: str) -> bool:
        """Whether retention removed pieces of this hour: its sealed file holds those offsets."""
        return self.retired.contains(kind, hour)


def compute_cover(commits: list[Commit], checkpoint: Checkpoint | None = None) -> Cover:
    """Chain committed slices per partition; raise if offsets are missing between them."""
    chains: dict[int, list[CoveredSlice]] = defaultdict(list)
    ends: dict[int, tuple[int, Fingerprint | None]] = {}
    marks = checkpoint.partitions if checkpoint else {}
    for covered in checkpoint.slices if checkpoint else ():
        chains[covered.slice.partition].append(covered)
    for partition, mark in marks.items():
        ends[partition] = (mark.through, mark.last)
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
            chains[partition].append(CoveredSlice(commit, take_from=covered))
            covered, last = commit.slice.end, commit.last
        ends[partition] = (covered, last)
    return Cover(dict(chains), ends, checkpoint.retired if checkpoint else RetiredHours())
