"""Every name a config can hold is checked at load time (and so by config-check), naming the key.

The names refused here all passed before and broke later: shadowed by a Hive partition column
in the DuckDB views, merged with another name because DuckDB ignores case, colliding with a
window column, or carrying a trailing newline into a path.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from aggregator_assets.cli import main
from aggregator_assets.config import ConfigError
from aggregator_assets.config.loader import parse_pipeline_config
from aggregator_assets.config.window_naming import canonical_stat


def _topic(name: str = "x-iot") -> dict:
    return {
        "name": name,
        "event_time": {"field": "timestamp", "format": "iso8601"},
        "key_field": "device_id",
        "fields": {
            "device_id": {"type": "string"},
            "timestamp": {"type": "string"},
            "site": {"type": "string"},
            "value": {"type": "float"},
            "battery": {"type": "int"},
        },
        "windows": [{"size": "1m"}],
    }


def _config(*topics: dict) -> dict:
    return {"partitions_start": "2026-11-01T00:00:00Z", "topics": list(topics or [_topic()])}


def _field(name: str, kind: str = "int"):
    return lambda t: t["fields"].update({name: {"type": kind}})


def _dimension(name: str):
    return lambda t: (t["fields"].update({name: {"type": "string"}}), t["dimensions"].append(name))


def _condition(section: str, name: str, field: str = "battery"):
    return lambda t: t.setdefault(section, {}).update(
        {name: {"field": field, "op": "<", "value": 1}}
    )


def _ka(change):
    return lambda t: (t.update(window_naming="kafka-aggregator"), change(t))


REFUSED = [
    # Hive partition columns (#17 item 4): the view would show folder values instead.
    ("field_year", _field("year"), "fields.year: 'year' would be shadowed by the Hive"),
    ("field_month", _field("month"), "fields.month"),
    ("field_day", _field("day"), "fields.day"),
    ("field_hour", _field("hour"), "fields.hour"),
    ("field_Hour", _field("Hour"), "fields.Hour"),
    ("flag_hour", _condition("flags", "hour"), "flags.hour"),
    ("domain_count_day", _condition("domain_counts", "day"), "domain_counts.day"),
    # Equal ignoring case (#17 item 6): DuckDB reads them as one column.
    (
        "Speed_speed",
        lambda t: t["fields"].update(Speed={"type": "float"}, speed={"type": "float"}),
        "fields: Speed and speed differ only in case",
    ),
    ("flag_like_field", _condition("flags", "Value"), "fields.value and flags.Value both make"),
    # Trailing newlines (#17 item 6): `$` in a pattern accepts "name\n".
    ("window_size_newline", lambda t: t.update(windows=[{"size": "1m\n"}]), "windows[0].size"),
    ("lateness_newline", lambda t: t.update(allowed_lateness="5m\n"), "allowed_lateness"),
    ("topic_newline", lambda t: t.update(name="x-iot\n"), "topics[0].name"),
    ("field_newline", _field("value2\n"), "fields.value2\n"),
    ("flag_newline", _condition("flags", "ok\n"), "flags.ok\n"),
    ("domain_count_newline", _condition("domain_counts", "low\n"), "domain_counts.low\n"),
    ("timezone_newline", lambda t: t["event_time"].update(timezone="UTC\n"), "timezone"),
    # Names of window columns (#17 item 6), per naming profile.
    (
        "dimension_window_start",
        _dimension("window_start"),
        "dimensions[0] and window_naming 'default' both make column 'window_start'",
    ),
    ("dimension_event_count", _dimension("event_count"), "dimensions[0] and window_naming"),
    (
        "domain_count_mean_value",
        _condition("domain_counts", "mean_value"),
        "fields.value and domain_counts.mean_value both make column 'mean_value'",
    ),
    ("domain_count_avg_value", _condition("domain_counts", "AVG_value"), "domain_counts.AVG_value"),
    ("flag_event_count", _condition("flags", "event_count"), "flags.event_count"),
    ("flag_stddev_value", _condition("flags", "stddev_value"), "flags.stddev_value"),
    ("ka_dimension_time", _ka(_dimension("time")), "window_naming 'kafka-aggregator'"),
    (
        "ka_key_count",
        _ka(lambda t: t.update(key_field="count") or _field("count", "string")(t)),
        "key_field and window_naming 'kafka-aggregator' both make column 'count'",
    ),
    (
        "ka_domain_count_stdev",
        _ka(_condition("domain_counts", "stdev_value")),
        "domain_counts.stdev_value",
    ),
    ("unknown_naming", lambda t: t.update(window_naming="influx"), "topics[0].window_naming"),
    # Types that fail every run (#17 item 6).
    (
        "iso8601_on_int",
        lambda t: t["event_time"].update(field="battery"),
        "event_time.field: iso8601 times need a string field",
    ),
    ("flag_on_string", _condition("flags", "is_x", field="site"), "flags.is_x.field"),
    ("domain_count_on_string", _condition("domain_counts", "n", field="site"), "domain_counts.n"),
    # Payload options (#14 item 4).
    (
        "aggregate_string",
        lambda t: t["fields"]["site"].update(aggregate=True),
        "topics[0].fields.site",
    ),
    (
        "timezone_with_epoch",
        lambda t: t["event_time"].update(field="battery", format="epoch_s", timezone="UTC"),
        "epoch times are UTC",
    ),
    (
        "unknown_timezone",
        lambda t: t["event_time"].update(timezone="Mars/Olympus_Mons"),
        "'Mars/Olympus_Mons' is not a time zone",
    ),
    (
        "timezone_path",
        lambda t: t["event_time"].update(timezone="../../etc/passwd"),
        "is not a time zone",
    ),
    (
        "pipeline_name_taken_twice",
        lambda t: (_field("event_time", "string")(t), _field("pipeline_event_time", "string")(t)),
        "fields.pipeline_event_time and the pipeline's event_time column both make",
    ),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in REFUSED])
def test_names_that_break_later_are_refused_naming_the_key(change, message):
    topic = _topic()
    topic.setdefault("dimensions", [])
    change(topic)
    with pytest.raises(ConfigError) as error:
        parse_pipeline_config(_config(topic), "test.yaml")
    assert message in str(error.value)


def test_topics_equal_ignoring_case_are_refused():
    with pytest.raises(ConfigError, match="x_IoT and x_iot differ only in case"):
        parse_pipeline_config(_config(_topic("x-IoT"), _topic("x-iot")))


def test_config_check_refuses_what_loading_refuses(tmp_path, capsys):
    """config-check runs the same validation: a window size with a newline, a field `hour`."""
    topic = _topic()
    topic["windows"] = [{"size": "1m\n"}]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(_config(topic)))
    assert main(["config-check", str(path)]) == 1
    assert "topics[0].windows[0].size" in capsys.readouterr().err
    topic = _topic()
    topic["fields"]["hour"] = {"type": "int"}
    path.write_text(yaml.safe_dump(_config(topic)))
    assert main(["config-check", str(path)]) == 1
    assert "fields.hour" in capsys.readouterr().err


def test_config_check_says_which_pipeline_columns_are_renamed(tmp_path, capsys):
    topic = _topic()
    topic["fields"]["is_late"] = {"type": "bool"}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(_config(topic)))
    assert main(["config-check", str(path)]) == 0
    assert "is_late -> pipeline_is_late" in capsys.readouterr().out


def test_payload_fields_named_like_pipeline_columns_are_accepted():
    topic = _topic()
    topic["event_time"] = {"field": "event_time", "format": "iso8601", "timezone": "Europe/Berlin"}
    topic["fields"] |= {"event_time": {"type": "string"}, "Kafka_Offset": {"type": "int"}}
    config = parse_pipeline_config(_config(topic)).topics[0]
    assert config.pipeline_columns == {
        "event_time": "pipeline_event_time",
        "kafka_partition": "kafka_partition",
        "kafka_offset": "pipeline_kafka_offset",
        "kafka_timestamp": "kafka_timestamp",
        "is_late": "is_late",
    }
    assert config.aggregated_fields == ["value", "battery", "Kafka_Offset"]


def test_event_time_field_has_no_statistics_unless_asked():
    topic = _topic()
    topic["event_time"] = {"field": "battery", "format": "epoch_s"}
    topic["fields"]["value"]["aggregate"] = False
    assert parse_pipeline_config(_config(topic)).topics[0].aggregated_fields == []
    asked = copy.deepcopy(topic)
    asked["fields"]["battery"]["aggregate"] = True
    assert parse_pipeline_config(_config(asked)).topics[0].aggregated_fields == ["battery"]


def test_kafka_aggregator_profile_names_its_columns():
    topic = _topic() | {"window_naming": "kafka-aggregator", "dimensions": ["site"]}
    topic["domain_counts"] = {"low_battery": {"field": "battery", "op": "<", "value": 20}}
    columns = [c.name for c in parse_pipeline_config(_config(topic)).topics[0].window_columns]
    stats = ["min", "mean", "median", "stdev", "max"]
    assert columns == [
        *["device_id", "site", "time", "window_size", "count"],
        *[f"{op}_{field}" for field in ("value", "battery") for op in stats],
        "low_battery",
    ]


def test_stdev_and_stddev_are_one_statistic():
    assert canonical_stat("stdev") == canonical_stat("stddev") == "stddev"
    assert canonical_stat("avg") == canonical_stat("mean") == "mean"
    with pytest.raises(ValueError, match="not a statistic"):
        canonical_stat("variance")
