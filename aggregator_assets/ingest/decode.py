"""Decode and validate Kafka record batches in bulk: valid rows for raw, the rest to quarantine.

The whole batch goes through one DuckDB query (decode_json.sql): UTF-8 and JSON checks, field
types, ranges and the event time are evaluated column-wise, so no Python object is built per
message. Every record leaves with either a raw row or a quarantine row naming its reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config import TopicConfig
from aggregator_assets.ingest.schema import DUCKDB_TYPES, QUARANTINE_SCHEMA, UTC_US, raw_schema

SQL_TEMPLATE = (Path(__file__).with_name("decode_json.sql")).read_text()
MAX_VALUE_BYTES = 1024 * 1024
HOUR_COLUMN = "__hour"

# JSON types json_type() reports that each configured field type accepts.
_ACCEPTED_JSON_TYPES = {
    "float": ("DOUBLE", "BIGINT", "UBIGINT"),
    "int": ("BIGINT", "UBIGINT"),
    "string": ("VARCHAR",),
    "bool": ("BOOLEAN",),
}


def quote(identifier: str) -> str:
    """A DuckDB identifier, quoted so that no name can change the statement."""
    return '"' + identifier.replace('"', '""') + '"'


def _sql_list(items: tuple[str, ...]) -> str:
    return ", ".join("'" + item + "'" for item in items)


@dataclass(frozen=True)
class DecodedBatch:
    """A decoded batch: raw rows and quarantine rows, each with the hour they belong to."""

    valid: pa.Table  # raw_schema columns + `__hour`
    quarantine: pa.Table  # QUARANTINE_SCHEMA columns + `__hour`


class JsonDecoder:
    """Compiles a topic's validation rules once, then decodes any number of batches."""

    def __init__(
        self,
        topic: TopicConfig,
        partitions_start: datetime,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ):
        self.topic = topic
        self.schema = raw_schema(topic)
        self.params: dict[str, object] = {
            "paths": [f"$.{name}" for name in topic.fields],
            "structure": json.dumps(
                {n: DUCKDB_TYPES.get(f.type, "JSON") for n, f in topic.fields.items()}
            ),
            "partitions_start": partitions_start,
            "max_future_skew": topic.future_skew,
            "lateness": topic.lateness,
            "max_value_bytes": max_value_bytes,
        }
        self.sql = self._compile()
        self._con = duckdb.connect(config={"threads": 2})
        self._con.execute("SET TimeZone = 'UTC'")

    def _compile(self) -> str:
        topic = self.topic
        field_columns, output_columns, checks = [], [], []
        for i, (name, spec) in enumerate(topic.fields.items(), start=1):
            q, t = quote(name), f"__types[{i}]"
            field_columns.append(f"__j.{q} AS {q}")
            output_columns.append(f"CAST({q} AS VARCHAR) AS {q}" if spec.type == "json" else q)
            if spec.required:
                checks.append(f"WHEN {t} IS NULL THEN 'missing_field:{name}'")
                checks.append(f"WHEN {t} = 'NULL' THEN 'null_field:{name}'")
            if spec.type in _ACCEPTED_JSON_TYPES:
                accepted = _sql_list(_ACCEPTED_JSON_TYPES[spec.type])
                checks.append(
                    f"WHEN {t} <> 'NULL' AND {t} NOT IN ({accepted}) THEN 'wrong_type:{name}'"
                )
                checks.append(f"WHEN {t} <> 'NULL' AND {q} IS NULL THEN 'wrong_type:{name}'")
            if spec.type == "float":
                checks.append(f"WHEN NOT isfinite({q}) THEN 'non_finite:{name}'")
            for bound, op in (("min", "<"), ("max", ">")):
                value = getattr(spec, bound)
                if value is not None:
                    param = f"{bound}_{i}"
                    self.params[param] = value
                    checks.append(f"WHEN {q} {op} ${param} THEN 'out_of_range:{name}'")
        flag_columns = []
        for i, (name, cond) in enumerate(topic.flags.items(), start=1):
            self.params[f"flag_{i}"] = cond.value
            flag_columns.append(f"({quote(cond.field)} {cond.op} $flag_{i}) AS {quote(name)},")
        time_field = quote(topic.event_time.field)
        event_time_expr = {
            "iso8601": f"try_cast({time_field} AS TIMESTAMPTZ)",
            "epoch_s": f"try(make_timestamp(CAST(round({time_field} * 1e6) AS BIGINT))::TIMESTAMPTZ)",
            "epoch_ms": f"try(make_timestamp(CAST({time_field} AS BIGINT) * 1000)::TIMESTAMPTZ)",
        }[topic.event_time.format]
        return (
            SQL_TEMPLATE.replace("{{field_columns}}", ",\n        ".join(field_columns))
            .replace("{{event_time_expr}}", event_time_expr)
            .replace("{{field_checks}}", "\n            ".join(checks))
            .replace("{{output_columns}}", ",\n    ".join(output_columns))
            .replace("{{flag_columns}}", "\n    ".join(flag_columns))
        )

    def decode(self, records: pa.Table) -> DecodedBatch:
        """Decode a RECORDS_SCHEMA table; the output keeps the input's offset order."""
        self._con.register("records", records)
        try:
            out = self._con.execute(self.sql, self.params).to_arrow_table()
        finally:
            self._con.unregister("records")
        bad = pc.is_valid(out["__reason"])
        valid = out.filter(pc.invert(bad))
        valid = pa.Table.from_arrays(
            [valid[name].cast(field.type) for name, field in zip(self.schema.names, self.schema)]
            + [valid["__hour"].cast(UTC_US)],
            schema=self.schema.append(pa.field(HOUR_COLUMN, UTC_US)),
        )
        bad_rows = out.filter(bad)
        sources = {"reason": "__reason", "detail": "__detail", "key": "__key", "value": "__value"}
        quarantine = pa.Table.from_arrays(
            [bad_rows[sources.get(f.name, f.name)].cast(f.type) for f in QUARANTINE_SCHEMA]
            + [bad_rows["__hour"].cast(UTC_US)],
            schema=QUARANTINE_SCHEMA.append(pa.field(HOUR_COLUMN, UTC_US)),
        )
        return DecodedBatch(valid=valid, quarantine=quarantine)
