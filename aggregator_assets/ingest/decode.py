"""Decode and validate Kafka record batches in bulk: valid rows for raw, the rest to quarantine.

Every value format has a front query that turns the batch into typed field columns
(decode_json.sql parses JSON in DuckDB; decode_avro.sql reads columns fastavro already decoded),
followed by one shared tail (validate.sql) that checks required fields, ranges, finiteness and
the event time, computes flags, `is_late` and each row's hour, column-wise: no Python object is
built per message for the checks. Every record leaves with either a raw row or a quarantine row
naming its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from aggregator_assets.config import TopicConfig
from aggregator_assets.config.models import FieldSpec
from aggregator_assets.ingest.event_time import LOCAL_TIME_SQL, event_time_sql
from aggregator_assets.ingest.schema import (
    DUCKDB_TYPES,
    QUARANTINE_SCHEMA,
    UTC_US,
    landing_name,
    landing_schema,
)

_HERE = Path(__file__).parent
VALIDATE_SQL = (_HERE / "validate.sql").read_text()
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


# A JSON text walked string by string (a string is skipped whole, escapes included) up to a
# trailing comma or a NaN/Infinity literal (any case, as DuckDB accepts them) outside a string.
NOT_STRICT_JSON = r'^(?:[^"]|"(?:[^"\\]|\\.)*")*?(?:,\s*[\]}]|(?i:nan|inf))'
# Cheap superset of the texts NOT_STRICT_JSON or a duplicate configured key could concern: a
# NaN/Infinity after a value separator, a comma before a closing bracket, or a key holding an
# escape (its last escape, then plain characters, a quote and a colon).
_SUSPECT_ALWAYS = r'(?:^|[:,\[])\s*[-+]?(?i:nan|inf)|,\s*[\]}]|\\.[^"\\]*"\s*:'


def suspect_pattern(fields: Iterable[str]) -> str:
    """Texts worth the exact checks: the above, or a configured key's quoted name twice."""
    # Field names are validated identifiers: safe inside a regular expression.
    twice = "|".join(f'"{name}".*"{name}"' for name in fields)
    return f"(?s){twice}|{_SUSPECT_ALWAYS}" if twice else f"(?s){_SUSPECT_ALWAYS}"


def _sql_list(items: tuple[str, ...]) -> str:
    return ", ".join("'" + item + "'" for item in items)


@dataclass(frozen=True)
class DecodedBatch:
    """A decoded batch: raw rows and quarantine rows, each with the hour they belong to."""

    valid: pa.Table  # raw_schema columns + `__hour`
    quarantine: pa.Table  # QUARANTINE_SCHEMA columns + `__hour`


class SqlDecoder:
    """Compiles a topic's validation rules once (front query + validate.sql), then runs them.

    A subclass names its front query and supplies the format's own checks: `format_checks`
    (whole-value problems, checked right after null/empty/too large) and `type_checks` (per
    field, before the shared finiteness and range checks).
    """

    front_sql: str
    format_checks: tuple[str, ...] = ()

    def __init__(
        self,
        topic: TopicConfig,
        partitions_start: datetime,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ):
        self.topic = topic
        self.schema = landing_schema(topic)
        self.params: dict[str, object] = {
            "partitions_start": partitions_start,
            "max_future_skew": topic.future_skew,
            "lateness": topic.lateness,
            "max_value_bytes": max_value_bytes,
        }
        self.sql = self._compile()
        # One thread: the fetch loop (GIL-bound) keeps the other core while a slice decodes.
        self._con = duckdb.connect(config={"threads": 1})
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(LOCAL_TIME_SQL)

    def field_column(self, name: str, spec: FieldSpec) -> str:
        raise NotImplementedError

    def type_checks(self, i: int, name: str, spec: FieldSpec) -> list[str]:
        raise NotImplementedError

    def _compile(self) -> str:
        topic = self.topic
        field_columns, output_columns, checks = [], [], []
        for i, (name, spec) in enumerate(topic.fields.items(), start=1):
            q = quote(name)
            field_columns.append(self.field_column(name, spec))
            out = quote(landing_name(name))
            output_columns.append(
                f"CAST({q} AS VARCHAR) AS {out}" if spec.type == "json" else f"{q} AS {out}"
            )
            checks += self.type_checks(i, name, spec)
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
        event_time = event_time_sql(topic.event_time, quote(topic.event_time.field))
        self.params |= event_time.params
        validate = (
            VALIDATE_SQL.replace("{{local_instants}}", event_time.local_instants)
            .replace("{{event_time_expr}}", event_time.instant)
            .replace("{{event_time_detail}}", event_time.detail)
            .replace("{{format_checks}}", "\n            ".join(self.format_checks))
            .replace("{{field_checks}}", "\n            ".join(checks))
            .replace("{{output_columns}}", ",\n    ".join(output_columns))
            .replace("{{flag_columns}}", "\n    ".join(flag_columns))
        )
        return self.front_sql.replace(
            "{{field_columns}}", ",\n        ".join(field_columns)
        ).replace("{{validate}}", validate)

    def run(self, table: pa.Table) -> DecodedBatch:
        """Run the compiled query over `table` (registered as `records`), keeping its order."""
        self._con.register("records", table)
        try:
            out = self._con.sql(self.sql, params=self.params).to_arrow_table()
        finally:
            self._con.unregister("records")
        bad = pc.is_valid(out["__reason"])
        valid = out.filter(pc.invert(bad))
        valid = pa.Table.from_arrays(
            [
                valid[name].cast(field.type)
                for name, field in zip(self.schema.names, self.schema, strict=True)
            ]
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


class JsonDecoder(SqlDecoder):
    """JSON values: DuckDB parses each value once and types every configured field."""

    front_sql = (_HERE / "decode_json.sql").read_text()
    format_checks = (
        "WHEN __text IS NULL THEN 'invalid_utf8'",
        "WHEN __top_type IS NULL THEN 'malformed_json'",
        "WHEN __top_type <> 'OBJECT' THEN 'not_an_object'",
        # Parsers disagree on which of two equal keys wins: a configured field given twice
        # (however its name is escaped) makes the record ambiguous. Other keys are not kept,
        # so their repetition changes nothing in raw.
        "WHEN __duplicate_keys THEN 'duplicate_key'",
    )

    def __init__(
        self,
        topic: TopicConfig,
        partitions_start: datetime,
        max_value_bytes: int = MAX_VALUE_BYTES,
    ):
        self.json_params = {
            "field_names": list(topic.fields),
            "suspect_pattern": suspect_pattern(topic.fields),
            "not_strict_pattern": NOT_STRICT_JSON,
            "paths": [f"$.{name}" for name in topic.fields],
            "structure": json.dumps(
                {n: DUCKDB_TYPES.get(f.type, "JSON") for n, f in topic.fields.items()}
            ),
        }
        super().__init__(topic, partitions_start, max_value_bytes)
        self.params |= self.json_params

    def field_column(self, name: str, spec: FieldSpec) -> str:
        return f"__j.{quote(name)} AS {quote(name)}"

    def type_checks(self, i: int, name: str, spec: FieldSpec) -> list[str]:
        q, t = quote(name), f"__types[{i}]"
        checks = []
        if spec.required:
            checks.append(f"WHEN {t} IS NULL THEN 'missing_field:{name}'")
            checks.append(f"WHEN {t} = 'NULL' THEN 'null_field:{name}'")
        if spec.type in _ACCEPTED_JSON_TYPES:
            accepted = _sql_list(_ACCEPTED_JSON_TYPES[spec.type])
            checks.append(
                f"WHEN {t} <> 'NULL' AND {t} NOT IN ({accepted}) THEN 'wrong_type:{name}'"
            )
            checks.append(f"WHEN {t} <> 'NULL' AND {q} IS NULL THEN 'wrong_type:{name}'")
        return checks

    def decode(self, records: pa.Table) -> DecodedBatch:
        """Decode a RECORDS_SCHEMA table; the output keeps the input's offset order."""
        return self.run(records)
