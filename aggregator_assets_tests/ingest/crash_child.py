"""Run one raw materialization that stops dead at a chosen point, for the SIGKILL test.

Usage: python -m aggregator_assets_tests.ingest.crash_child \
    TOPIC BOOTSTRAP LAKE PARTITION WHERE READY
WHERE is `commit` (pieces landed, commit marker not yet written) or `publish` (an hour file
fully staged, not yet moved into place). The child touches READY and waits to be killed.
"""

import sys
import time
from pathlib import Path

from dagster import materialize

from aggregator_assets.assets.raw import raw_asset
from aggregator_assets.lake.storage import Lake
from aggregator_assets.resources import KafkaResource, LakeResource
from aggregator_assets_tests.ingest.helpers import pipeline


def main() -> None:
    topic, bootstrap, lake_url, partition_key, where, ready = sys.argv[1:7]
    publish, write_bytes = Lake._publish, Lake.write_bytes

    def hang(path: str) -> None:
        Path(ready).write_text(path)
        time.sleep(600)

    def write_bytes_then_hang(self, relative, data):
        if where == "commit" and "/commits/" in relative:
            hang(relative)
        return write_bytes(self, relative, data)

    def publish_then_hang(self, staged, relative, *args):
        if where == "publish" and relative.startswith("raw/"):
            hang(relative)
        return publish(self, staged, relative, *args)

    Lake.write_bytes = write_bytes_then_hang
    Lake._publish = publish_then_hang
    config = pipeline(topic)
    materialize(
        [raw_asset(config.topics[0], config)],
        partition_key=partition_key,
        resources={
            "kafka": KafkaResource(bootstrap_servers=bootstrap),
            "lake": LakeResource(url=lake_url),
        },
    )


if __name__ == "__main__":
    main()
