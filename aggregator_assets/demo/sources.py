"""Simulated devices for the demo topics: who sends, when, and what values they report.

Each source turns a slice of event time `[t0, t1)` (epoch seconds) into a `Batch`: event times,
device keys and the record fields other than the key and event time, which the stream adds
under the names the topic's config gives them. Values follow smooth random walks whose state
carries from one slice to the next, so any slicing of a span yields one continuous history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aggregator_assets.config.models import TopicConfig

MIN_DELAY_S = 0.05  # every record reaches the broker at least this long after its event time


@dataclass
class Batch:
    times: np.ndarray  # event times, epoch seconds (float64)
    keys: list[str]
    fields: list[dict]
    delays: np.ndarray  # seconds from event time to broker arrival, >= MIN_DELAY_S

    @staticmethod
    def empty() -> Batch:
        return Batch(np.empty(0), [], [], np.empty(0))


class PeriodicSources:
    """Sources reporting every `period_s` seconds (+-10% jitter); yields (source, time, step)."""

    def __init__(self, rng: np.random.Generator, n: int, period_s: float, start: float):
        self.rng = rng
        self.period_s = period_s
        self.next_t = start + rng.uniform(0, period_s, n)

    def times(self, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Source index, event time and step index of every report in [now, t1), time-ordered."""
        span = t1 - float(self.next_t.min())
        if span <= 0:
            return np.empty(0, int), np.empty(0), np.empty(0, int)
        width = math.ceil(span / (0.9 * self.period_s)) + 2
        steps = self.rng.uniform(
            0.9 * self.period_s, 1.1 * self.period_s, (len(self.next_t), width)
        )
        grid = self.next_t[:, None] + np.concatenate(
            [np.zeros((len(self.next_t), 1)), np.cumsum(steps[:, :-1], axis=1)], axis=1
        )
        inside = grid < t1
        self.next_t = grid[np.arange(len(grid)), inside.sum(axis=1)]
        src, step = np.nonzero(inside)
        return src, grid[src, step], step


def _walk(rng, state: np.ndarray, steps: int, sigma, pull, target) -> np.ndarray:
    """Mean-reverting random walk, `steps` values per row continuing from `state` (one per row)."""
    noise = rng.normal(0.0, 1.0, (len(state), steps)) * np.asarray(sigma).reshape(-1, 1)
    drift = (np.asarray(target) - state) * pull
    return state[:, None] + np.cumsum(noise + drift[:, None], axis=1)


DEVICE_TYPES = {
    # type: (unit, typical low, typical high, walk sigma per report, hard low, hard high)
    "thermostat": ("C", 19.0, 24.0, 0.04, 5.0, 35.0),
    "humidity_sensor": ("%", 30.0, 60.0, 0.15, 0.0, 100.0),
    "air_quality": ("ppm", 420.0, 1100.0, 4.0, 350.0, 5000.0),
    "pressure_sensor": ("hPa", 995.0, 1030.0, 0.05, 950.0, 1060.0),
}
ID_PREFIX = {
    "thermostat": "th",
    "humidity_sensor": "hum",
    "air_quality": "aq",
    "pressure_sensor": "pr",
}
BUILDINGS = ("north-tower", "south-tower", "lab-annex", "warehouse")
FIRMWARE = ("1.8.2", "2.0.1", "2.1.0", "2.1.3")
TAGS = ("hvac", "critical", "lobby", "server-room", "outdoor", "pilot")


class IotEvents:
    """Battery sensors in a few buildings, each reporting a reading every few seconds."""

    def __init__(self, rng: np.random.Generator, rate: float, start: float):
        self.rng = rng
        n = int(np.clip(round(rate * 5), 3, 2000))
        types = list(DEVICE_TYPES)
        self.types = [types[i % len(types)] for i in range(n)]
        spec = np.array([DEVICE_TYPES[t][1:] for t in self.types])
        self.target = rng.uniform(spec[:, 0], spec[:, 1])
        self.sigma, self.low, self.high = spec[:, 2], spec[:, 3], spec[:, 4]
        self.value = self.target + rng.normal(0, 1, n) * self.sigma * 10
        # One device in eight starts low on battery, one in six has a weak signal.
        every = np.arange(n)
        self.battery = np.where(every % 8 == 3, rng.uniform(6, 18, n), rng.uniform(35, 100, n))
        self.drain = rng.uniform(0.2, 1.0, n) / 3600 * (n / rate)
        weak = every % 6 == 2
        self.signal = np.where(weak, rng.uniform(-105, -94, n), rng.uniform(-85, -35, n))
        self.ids = [f"{ID_PREFIX[t]}-{i + 1:04d}" for i, t in enumerate(self.types)]
        self.locations = [
            f"{BUILDINGS[rng.integers(len(BUILDINGS))]}/floor-{rng.integers(0, 8):02d}"
            for _ in range(n)
        ]
        self.metadata = [
            {
                "firmware": FIRMWARE[rng.integers(len(FIRMWARE))],
                "tags": sorted({TAGS[j] for j in rng.integers(0, len(TAGS), rng.integers(1, 3))}),
            }
            for _ in range(n)
        ]
        self.clock = PeriodicSources(rng, n, n / rate, start)

    def batch(self, t1: float) -> Batch:
        src, times, step = self.clock.times(t1)
        if not len(src):
            return Batch.empty()
        width = int(step.max()) + 1
        walk = _walk(self.rng, self.value, width, self.sigma, 0.002, self.target)
        walk = np.clip(walk, self.low[:, None], self.high[:, None])
        battery = self.battery[:, None] - self.drain[:, None] * np.arange(1, width + 1)
        battery = np.where(battery < 1, 100.0, battery)  # someone swapped the battery
        last = np.bincount(src, minlength=len(self.value))
        rows = np.nonzero(last)[0]
        self.value[rows] = walk[rows, last[rows] - 1]
        self.battery[rows] = battery[rows, last[rows] - 1]
        values = np.round(walk[src, step], 2).tolist()
        batteries = np.ceil(battery[src, step]).astype(int).tolist()
        signals = np.clip(np.round(self.signal[src] + self.rng.normal(0, 3, len(src))), -110, -30)
        signals = signals.astype(int).tolist()
        durations = np.round(self.rng.lognormal(-1.6, 0.5, len(src)), 3).tolist()
        fields = []
        for j, i in enumerate(src.tolist()):
            kind = self.types[i]
            fields.append(
                {
                    "event_duration": durations[j],
                    "device_type": kind,
                    "location": self.locations[i],
                    "value": values[j],
                    "unit": DEVICE_TYPES[kind][0],
                    "battery_level": batteries[j],
                    "signal_strength": signals[j],
                    "metadata": self.metadata[i],
                }
            )
        delays = MIN_DELAY_S + self.rng.lognormal(-2.0, 0.6, len(src))
        return Batch(times, [self.ids[i] for i in src.tolist()], fields, delays)


OBSERVATORY_SOURCES = (
    # name: (value1..value6 typical levels, walk sigma per sample as a share of scale)
    ("mount-az", (180.0, 0.004, 1.2, 0.3, 8.0, 12.0)),
    ("mount-alt", (55.0, 0.002, 1.1, 0.3, 8.0, 10.0)),
    ("dome", (180.0, 0.0, 0.4, 12.0, 6.5, 0.0)),
    ("m1-thermal", (7.2, 7.5, 7.1, 6.9, 0.3, 62.0)),
    ("m2-thermal", (6.9, 7.0, 6.8, 6.6, 0.2, 60.0)),
    ("weather", (6.5, 61.0, 743.0, 4.2, 210.0, 0.8)),
    ("focuser", (12.45, 0.0, 0.2, 5.1, 0.0, 0.0)),
    ("rotator", (90.0, 0.001, 0.6, 0.2, 7.0, 3.0)),
)


class ObservatoryTelemetry:
    """Mount, dome and mirror sensors sampled at about 10 Hz each, six channels per sample.

    At least three sources run; below 30 events/s they sample more slowly instead.
    """

    def __init__(self, rng: np.random.Generator, rate: float, start: float):
        self.rng = rng
        n = max(3, round(rate / 10))
        self.names = [
            name if i < len(OBSERVATORY_SOURCES) else f"{name}-{i // len(OBSERVATORY_SOURCES) + 1}"
            for i in range(n)
            for name in [OBSERVATORY_SOURCES[i % len(OBSERVATORY_SOURCES)][0]]
        ]
        self.target = np.array(
            [OBSERVATORY_SOURCES[i % len(OBSERVATORY_SOURCES)][1] for i in range(n)]
        )
        self.scale = np.maximum(np.abs(self.target), 0.5) * 0.001
        self.value = self.target + rng.normal(0, 1, self.target.shape) * self.scale * 20
        self.clock = PeriodicSources(rng, n, n / rate, start)

    def batch(self, t1: float) -> Batch:
        src, times, step = self.clock.times(t1)
        if not len(src):
            return Batch.empty()
        width = int(step.max()) + 1
        n, channels = self.value.shape
        walk = _walk(
            self.rng,
            self.value.reshape(-1),
            width,
            self.scale.reshape(-1),
            0.001,
            self.target.reshape(-1),
        ).reshape(n, channels, width)
        last = np.bincount(src, minlength=n)
        rows = np.nonzero(last)[0]
        self.value[rows] = walk[rows, :, last[rows] - 1]
        samples = np.round(walk[src, :, step], 5).tolist()
        fields = [{f"value{c + 1}": v for c, v in enumerate(sample)} for sample in samples]
        delays = MIN_DELAY_S + self.rng.exponential(0.02, len(src))
        return Batch(times, [self.names[i] for i in src.tolist()], fields, delays)


CAN_MESSAGES = ("CAN2_gnss_speed", "CAN2_gnss_altitude", "CAN2_gnss_imu")
MIN_TRIP_S, MAX_TRIP_S = 15 * 60, 90 * 60
MIN_PARK_S, MAX_PARK_S = 12 * 60, 75 * 60
RAMP_S = 45.0


class VehicleCan:
    """Vehicles driving trips of 15-90 min parted by parked gaps of 12-75 min (no records).

    While driving, each of the three GNSS messages arrives once a second. For every UTC
    midnight the history passes, one vehicle is made to be on the road across it, so daily
    trip summaries meet a trip that spans two days. At least two vehicles drive, so below
    about 4 events/s this topic sends more than its share of the rate.
    """

    def __init__(self, rng: np.random.Generator, rate: float, start: float):
        self.rng = rng
        duty = (MIN_TRIP_S + MAX_TRIP_S) / (MIN_TRIP_S + MAX_TRIP_S + MIN_PARK_S + MAX_PARK_S)
        n = max(2, round(rate / (len(CAN_MESSAGES) * duty)))
        self.ids = [f"veh-{i + 1:04d}" for i in range(n)]
        self.start = start
        # Each vehicle's trips as [start, end) epoch seconds; the first may have begun already.
        self.trips: list[list[tuple[float, float]]] = []
        for _ in range(n):
            first = start - rng.uniform(0, MAX_TRIP_S + MAX_PARK_S)
            self.trips.append([(first, first + rng.uniform(MIN_TRIP_S, MAX_TRIP_S))])
        self.cruise = rng.uniform(40, 110, n)
        self.altitude = rng.uniform(30, 900, n)
        self.prev_speed = np.zeros(n)
        self.done_s = np.full(n, -np.inf)  # last trip second already emitted, per vehicle

    def _midnight_vehicle(self, midnight: float) -> int:
        return int(midnight // 86400) % len(self.ids)

    def _plan(self, v: int, until: float) -> None:
        trips = self.trips[v]
        while trips[-1][0] < until:
            prev_end = trips[-1][1]
            begin = prev_end + self.rng.uniform(MIN_PARK_S, MAX_PARK_S)
            length = self.rng.uniform(MIN_TRIP_S, MAX_TRIP_S)
            midnight = (prev_end // 86400 + 1) * 86400
            if (
                self._midnight_vehicle(midnight) == v
                and midnight > self.start
                and begin + length > midnight - 3600
                and prev_end + MIN_PARK_S < midnight - 5 * 60
            ):
                begin = max(prev_end + MIN_PARK_S, midnight - self.rng.uniform(5, 50) * 60)
                length = min(
                    MAX_TRIP_S, max(length, midnight - begin + self.rng.uniform(5, 30) * 60)
                )
            trips.append((begin, begin + length))

    def batch(self, t0: float, t1: float) -> Batch:
        times, keys, fields, parts = [], [], [], []
        for v, device in enumerate(self.ids):
            self._plan(v, t1)
            for begin, end in self.trips[v]:
                if end <= t0 or begin >= t1:
                    continue
                first = max(math.ceil(max(t0, begin) - begin), 0)
                seconds = begin + np.arange(first, math.ceil(min(t1, end) - begin))
                seconds = seconds[(seconds >= t0) & (seconds < t1) & (seconds < end)]
                if len(seconds):
                    parts.append(self._drive(v, device, begin, end, seconds))
        for part_times, part_keys, part_fields in parts:
            times.append(part_times)
            keys += part_keys
            fields += part_fields
        if not times:
            return Batch.empty()
        times = np.concatenate(times)
        delays = MIN_DELAY_S + self.rng.uniform(0.1, 4.0, len(times))
        return Batch(times, keys, fields, delays)

    def _drive(self, v, device, begin, end, seconds):
        n = len(seconds)
        rng = self.rng
        cruise = _walk(rng, self.cruise[v : v + 1], n, 1.2, 0.01, 80.0)[0].clip(8, 135)
        self.cruise[v] = cruise[-1]
        ramp = np.clip(np.minimum(seconds - begin, end - seconds) / RAMP_S, 0, 1)
        speed = cruise * ramp
        accel_x = np.diff(speed, prepend=self.prev_speed[v]) / 3.6 + rng.normal(0, 0.15, n)
        self.prev_speed[v] = speed[-1]
        altitude = self.altitude[v] + np.cumsum(rng.normal(0, 0.25, n) * (speed > 1))
        self.altitude[v] = altitude[-1]
        accel_y = rng.normal(0, 0.4, n) * ramp
        accel_z = 9.81 + rng.normal(0, 0.08, n)
        jitter = rng.uniform(-0.004, 0.004, (n, len(CAN_MESSAGES)))
        phase = np.array([0.02, 0.35, 0.68])
        when = (seconds[:, None] + phase + jitter).reshape(-1)
        speed_l, alt_l = np.round(speed, 2).tolist(), np.round(altitude, 2).tolist()
        ax, ay, az = (np.round(a, 3).tolist() for a in (accel_x, accel_y, accel_z))
        fields = []
        for j in range(n):
            fields.append({"message": CAN_MESSAGES[0], "Speed": speed_l[j]})
            fields.append({"message": CAN_MESSAGES[1], "Altitude": alt_l[j]})
            fields.append(
                {
                    "message": CAN_MESSAGES[2],
                    "AccelerationX": ax[j],
                    "AccelerationY": ay[j],
                    "AccelerationZ": az[j],
                }
            )
        return when, [device] * len(when), fields


class GenericSource:
    """Any other configured topic: ten devices every second with values drawn per field type."""

    def __init__(self, topic: TopicConfig, rng: np.random.Generator, rate: float, start: float):
        self.topic = topic
        self.rng = rng
        n = int(np.clip(round(rate), 1, 100))
        self.ids = [f"device-{i:04d}" for i in range(n)]
        self.clock = PeriodicSources(rng, n, n / rate, start)

    def _value(self, name: str):
        spec = self.topic.fields[name]
        low = spec.min if spec.min is not None else (spec.max - 100 if spec.max is not None else 0)
        high = spec.max if spec.max is not None else low + 100
        draw = float(self.rng.uniform(low, high))
        return {
            "float": round(draw, 3),
            "int": round(draw),
            "bool": draw > (low + high) / 2,
            "string": f"{name}-{int(draw) % 7}",
            "json": {"n": int(draw)},
        }[spec.type]

    def batch(self, t1: float) -> Batch:
        src, times, _ = self.clock.times(t1)
        skip = {self.topic.key_field, self.topic.event_time.field}
        names = [n for n in self.topic.fields if n not in skip]
        fields = [{n: self._value(n) for n in names} for _ in range(len(src))]
        delays = MIN_DELAY_S + self.rng.exponential(0.1, len(src))
        return Batch(times, [self.ids[i] for i in src.tolist()], fields, delays)


def make_source(topic: TopicConfig, rng: np.random.Generator, rate: float, start: float):
    """The simulation for a topic: one of the demo topics by name, else a generic one."""
    if topic.name == "iot-events":
        source = IotEvents(rng, rate, start)
        return lambda t0, t1: source.batch(t1)
    if topic.name == "observatory.telemetry":
        source = ObservatoryTelemetry(rng, rate, start)
        return lambda t0, t1: source.batch(t1)
    if topic.name == "vehicle-can":
        return VehicleCan(rng, rate, start).batch
    source = GenericSource(topic, rng, rate, start)
    return lambda t0, t1: source.batch(t1)
