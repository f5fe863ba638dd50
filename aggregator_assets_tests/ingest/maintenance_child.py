"""Run one landing maintenance pass that stops dead at a chosen point, for the SIGKILL test.

Usage: python -m aggregator_assets_tests.ingest.maintenance_child LAKE TOPIC NOW WHERE READY
WHERE is `publish` (the checkpoint fully staged, not yet moved into place) or `delete` (the
checkpoint published and the redundant markers deleted, not yet the pieces). The child touches
READY and waits to be killed.
"""

import sys
import time
from datetime import datetime
from pathlib import Path

from aggregator_assets.config import LandingSettings
from aggregator_assets.ingest.lifecycle import maintain_topic
from aggregator_assets.lake.storage import Lake


def main() -> None:
    lake_url, topic, now, where, ready = sys.argv[1:6]
    publish, delete_files = Lake._publish, Lake.delete_files
    deletes = []

    def hang(what: str) -> None:
        Path(ready).write_text(what)
        time.sleep(600)

    def publish_then_hang(self, staged, relative, *args):
        if where == "publish" and "/checkpoints/" in relative:
            hang(relative)
        return publish(self, staged, relative, *args)

    def delete_then_hang(self, relatives, folders=()):
        deletes.append(relatives)
        if where == "delete" and len(deletes) == 2:
            hang(f"{len(relatives)} pieces")
        return delete_files(self, relatives, folders)

    Lake._publish = publish_then_hang
    Lake.delete_files = delete_then_hang
    maintain_topic(Lake(lake_url), topic, LandingSettings(), now=datetime.fromisoformat(now))


if __name__ == "__main__":
    main()
