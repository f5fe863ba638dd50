"""Land a topic and publish its closed 1 s windows, for the kill -9 test of `publish_windows`.

Usage: python -m aggregator_assets_tests.live.publish_child TOPIC OUT BOOTSTRAP LAKE READY HANG_AT
With HANG_AT > 0 the child touches READY after HANG_AT sends and waits to be killed (the sends
before it are on their way to the broker); with 0 it publishes everything and exits, from the
provisional windows and, for hours sealed since, from their windows files.
"""

import sys
import time
from pathlib import Path

from aggregator_assets.lake import Lake
from aggregator_assets.live.publish import Publisher, published_window, sealed_windows_reader
from aggregator_assets.live.tail import tail_topic
from aggregator_assets.resources import KafkaResource
from aggregator_assets_tests.live.helpers import windowed_pipeline


def main() -> None:
    name, out, bootstrap, lake_url, ready, hang_at = sys.argv[1:7]
    config = windowed_pipeline(name, sizes=("1s",), publish_windows={"topic": out, "size": "1s"})
    topic = config.topics[0]
    kafka = KafkaResource(bootstrap_servers=bootstrap)
    with kafka.consumer() as consumer, kafka.producer() as producer:
        lake = Lake(lake_url)
        done = tail_topic(consumer, lake, topic, config)
        if int(hang_at):
            send, count = producer.send, [0]

            def send_then_hang(*args, **kwargs):
                count[0] += 1
                if count[0] > int(hang_at):
                    time.sleep(0.5)  # let the sender thread deliver what is buffered
                    Path(ready).write_text(str(count[0]))
                    time.sleep(600)
                return send(*args, **kwargs)

            producer.send = send_then_hang
        provisional = done.provisional.get(published_window(topic).name)
        reader = sealed_windows_reader(lake, topic)
        Publisher(topic).publish(producer, kafka.consumer, provisional, reader)


if __name__ == "__main__":
    main()
